/**
 * What learners wrote to a disk stays with it when the disk is copied or moved, as in xapi (the mirror or sparse_dd
 * copies every block: xapi_vm_migrate.ml, storage_smapiv1_migrate.ml, xapi_vdi.ml `copy`): a VM moved to another
 * pool (`VM.migrate_send`, halted, running, with snapshots, in copy mode), storage motion within a pool, `VDI.copy`
 * and `VM.copy`. Bytes go in with `PUT /import_raw_vdi` and come back with `GET /export_raw_vdi`. The pool's cap on
 * disk contents holds: a copy that does not fit fails as a real copy that runs out of room does (`VDI_COPY_FAILED`,
 * `MIRROR_FAILED` for a mirrored disk) and leaves nothing behind; a move gives the source's room back.
 */
import { afterAll, describe, expect, test } from 'vitest';
import type { SimulatorOptions } from '../../../sandbox/src/sim/index.js';
import { fails } from './helpers.js';
import {
  MiB,
  call,
  endpoint,
  pattern,
  request,
  session,
  settled,
  smallVm,
  start,
  type RunningSimulator,
  type TaskRecord,
} from './transfer-helpers.js';

const running: RunningSimulator[] = [];
afterAll(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

/** A pool with two NFS SRs ("<name> NFS", the default, and "<name> NFS B"). */
async function pool(name: string, options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const sr = (label: string, path: string, dflt: boolean) => ({
    name: label,
    type: 'nfs' as const,
    sizeGiB: 512,
    deviceConfig: { server: '10.0.0.5', serverpath: path },
    default: dflt,
  });
  const sim = await start({
    seed: name,
    scenario: {
      pool: { name },
      seed: name,
      hosts: [
        { name: `${name}-01`, cpus: 8, memoryGiB: 16, nics: ['eth0', 'eth1'] },
        { name: `${name}-02`, cpus: 8, memoryGiB: 16, nics: ['eth0', 'eth1'] },
      ],
      sharedStorage: [sr(`${name} NFS`, `/srv/${name}`, true), sr(`${name} NFS B`, `/srv/${name}-b`, false)],
      vms: [],
    },
    ...options,
  });
  running.push(sim);
  return sim;
}

/** Two pools of one environment, each keeping at most `eastMiB` / `westMiB` of disk contents. */
async function pools(
  eastMiB = 16,
  westMiB = 16,
): Promise<{ east: RunningSimulator; west: RunningSimulator }> {
  const crossPool = { link: 'contents-env' };
  const east = await pool('east', { crossPool, maxDiskBytes: eastMiB * MiB });
  const west = await pool('west', { crossPool, maxDiskBytes: westMiB * MiB });
  return { east, west };
}

async function put(on: RunningSimulator, vdi: string, body: Buffer): Promise<TaskRecord> {
  const session_id = await session(on.url);
  const r = await request(endpoint(on, '/import_raw_vdi', { session_id, vdi, format: 'raw' }), 'PUT', body);
  expect(r.status).toBe(200);
  return settled(on.url, r.headers['task-id'] as string);
}

async function read(on: RunningSimulator, vdi: string): Promise<Buffer> {
  const session_id = await session(on.url);
  const r = await request(endpoint(on, '/export_raw_vdi', { session_id, vdi, format: 'raw' }), 'GET');
  expect(r.status).toBe(200);
  expect((await settled(on.url, r.headers['task-id'] as string)).status).toBe('success');
  return r.body;
}

/** A failing call with the helpers' session: [code, ...params]. */
async function failure(on: RunningSimulator, method: string, ...params: unknown[]): Promise<string[]> {
  return fails(on.url, method, await session(on.url), ...params);
}

async function byName(on: RunningSimulator, cls: string, name: string): Promise<string> {
  const [r] = await call<string[]>(on.url, `${cls}.get_by_name_label`, name);
  if (r === undefined) throw new Error(`no ${cls} ${name}`);
  return r;
}

/** The VDI of a VM's first disk. */
async function diskOf(on: RunningSimulator, vm: string): Promise<string> {
  for (const vbd of await call<string[]>(on.url, 'VM.get_VBDs', vm))
    if ((await call<string>(on.url, 'VBD.get_type', vbd)) === 'Disk')
      return call<string>(on.url, 'VBD.get_VDI', vbd);
  throw new Error('no disk');
}

/** A VM with a disk of `size` bytes holding `bytes` (written through /import_raw_vdi). */
async function vmWith(
  on: RunningSimulator,
  name: string,
  bytes: Buffer,
): Promise<{ vm: string; vdi: string }> {
  const { vm, vdi } = await smallVm(on.url, name, bytes.length);
  expect((await put(on, vdi, bytes)).status).toBe('success');
  return { vm, vdi };
}

/** `mib` MiB of non-zero bytes (each MiB a written block). */
const full = (mib: number, byte = 0x5a): Buffer => Buffer.alloc(mib * MiB, byte);

/** West's dest map, and the maps sending every disk and VIF of east's `vm` to west. */
async function toWest(east: RunningSimulator, west: RunningSimulator, vm: string) {
  const host = await byName(west, 'host', 'west-01');
  const eth0 = await byName(west, 'network', 'Pool-wide network associated with eth0');
  const dest = await call<Record<string, string>>(west.url, 'host.migrate_receive', host, eth0, {});
  const sr = await byName(west, 'SR', 'west NFS');
  const vdiMap: Record<string, string> = {};
  for (const vbd of await call<string[]>(east.url, 'VM.get_VBDs', vm))
    if ((await call<string>(east.url, 'VBD.get_type', vbd)) === 'Disk')
      vdiMap[await call<string>(east.url, 'VBD.get_VDI', vbd)] = sr;
  const vifMap: Record<string, string> = {};
  for (const vif of await call<string[]>(east.url, 'VM.get_VIFs', vm)) vifMap[vif] = eth0;
  return { dest, vdiMap, vifMap };
}

describe('a VM moved to another pool (VM.migrate_send) takes its disks’ contents', () => {
  test('a halted VM: its disk there reads the same bytes; the source pool no longer holds them', async () => {
    const { east, west } = await pools(8, 16);
    const bytes = Buffer.concat([pattern(2 * MiB, 5), full(4)]); // 6 MiB of 8 in east
    const { vm } = await vmWith(east, 'halted-mover', bytes);
    const uuid = await call<string>(east.url, 'VM.get_uuid', vm);
    const { dest, vdiMap, vifMap } = await toWest(east, west, vm);
    const there = await call<string>(east.url, 'VM.migrate_send', vm, dest, false, vdiMap, vifMap, {});
    expect(await call<string>(west.url, 'VM.get_uuid', there)).toBe(uuid);
    expect((await read(west, await diskOf(west, there))).equals(bytes)).toBe(true);
    // East's room came back: 8 MiB more fit there now.
    const again = await smallVm(east.url, 'fills-east', 8 * MiB);
    expect((await put(east, again.vdi, full(8, 0x5b))).status).toBe('success');
  });

  test("a running VM with a snapshot: its disk there reads what it holds now, the snapshot's disk what it held then", async () => {
    const { east, west } = await pools();
    const then = pattern(5 * MiB, 1);
    const now = pattern(5 * MiB, 2);
    const { vm, vdi } = await vmWith(east, 'live-mover', then);
    const snap = await call<string>(east.url, 'VM.snapshot', vm, 'before');
    expect((await put(east, vdi, now)).status).toBe('success');
    await call(east.url, 'VM.start', vm, false, false);
    const { dest, vdiMap, vifMap } = await toWest(east, west, vm);
    const there = await call<string>(east.url, 'VM.migrate_send', vm, dest, true, vdiMap, vifMap, {});
    expect(await call<string>(west.url, 'VM.get_power_state', there)).toBe('Running');
    expect((await read(west, await diskOf(west, there))).equals(now)).toBe(true);
    const snapUuid = await call<string>(east.url, 'VM.get_uuid', snap).catch(() => undefined);
    expect(snapUuid).toBeUndefined(); // gone from east
    const [snapThere] = await call<string[]>(west.url, 'VM.get_snapshots', there);
    expect((await read(west, await diskOf(west, String(snapThere)))).equals(then)).toBe(true);
  });

  test('copy mode: the copy there reads the same bytes, and the source keeps them', async () => {
    const { east, west } = await pools();
    const bytes = pattern(5 * MiB, 3);
    const { vm, vdi } = await vmWith(east, 'copied', bytes);
    const { dest, vdiMap, vifMap } = await toWest(east, west, vm);
    const copy = await call<string>(east.url, 'VM.migrate_send', vm, dest, false, vdiMap, vifMap, {
      copy: 'true',
    });
    expect((await read(west, await diskOf(west, copy))).equals(bytes)).toBe(true);
    expect((await read(east, vdi)).equals(bytes)).toBe(true);
  });

  test("more than the destination pool keeps: VDI_COPY_FAILED (MIRROR_FAILED for a running VM's disk), the VM stays as it was", async () => {
    const { east, west } = await pools(16, 4);
    const bytes = full(6);
    const { vm, vdi } = await vmWith(east, 'too-big', bytes);
    const uuid = await call<string>(east.url, 'VM.get_uuid', vm);
    const { dest, vdiMap, vifMap } = await toWest(east, west, vm);
    const [code, why] = await failure(east, 'VM.migrate_send', vm, dest, false, vdiMap, vifMap, {});
    expect(code).toBe('VDI_COPY_FAILED');
    expect(why).toMatch(/^xenlab: this simulated pool keeps at most 4 MiB of disk contents/);
    await call(east.url, 'VM.start', vm, false, false);
    const live = await toWest(east, west, vm);
    expect(await failure(east, 'VM.migrate_send', vm, live.dest, true, live.vdiMap, live.vifMap, {})).toEqual(
      ['MIRROR_FAILED', vdi],
    );
    expect(await call<string>(east.url, 'VM.get_power_state', vm)).toBe('Running');
    expect((await read(east, vdi)).equals(bytes)).toBe(true);
    expect(await failure(west, 'VM.get_by_uuid', uuid)).toEqual(['UUID_INVALID', 'VM', uuid]);
    // Nothing was left behind there: its whole room is free.
    const fits = await smallVm(west.url, 'fills-west', 4 * MiB);
    expect((await put(west, fits.vdi, full(4))).status).toBe('success');
  });
});

describe('a VM with snapshots moved to another pool: the disks there share what they have in common', () => {
  test('one disk arrives whole, the other as a clone of its copy plus the blocks that differ; the cap counts shared blocks once', async () => {
    const { east, west } = await pools(16, 8);
    // After the snapshot the first 2 MiB (one VHD block) were written, reading zeros before, and the last MiB
    // zeroed: the snapshot's disk, a delta over the VM's there, differs in both, the first as zeros over its data.
    const then = Buffer.concat([Buffer.alloc(2 * MiB), full(4)]);
    const now = Buffer.concat([full(2, 0x77), full(3), Buffer.alloc(MiB)]);
    const { vm, vdi } = await vmWith(east, 'with-history', then);
    await call(east.url, 'VM.snapshot', vm, 'then');
    expect((await put(east, vdi, now)).status).toBe('success');
    const { dest, vdiMap, vifMap } = await toWest(east, west, vm);
    // 5 MiB + 4 MiB would not fit in west's 8; 5 MiB + the 1 MiB of data that differs does.
    const there = await call<string>(east.url, 'VM.migrate_send', vm, dest, false, vdiMap, vifMap, {});
    const leaf = await diskOf(west, there);
    const [snap] = await call<string[]>(west.url, 'VM.get_snapshots', there);
    const snapDisk = await diskOf(west, String(snap));
    expect((await read(west, leaf)).equals(now)).toBe(true);
    expect((await read(west, snapDisk)).equals(then)).toBe(true);
    expect(await call<string>(west.url, 'VDI.get_snapshot_of', snapDisk)).toBe(leaf);
    // One VHD tree there: both read through the same base copy.
    const parent = async (v: string) =>
      (await call<Record<string, string>>(west.url, 'VDI.get_sm_config', v))['vhd-parent'];
    expect(await parent(leaf)).toBeDefined();
    expect(await parent(leaf)).toBe(await parent(snapDisk));
    // West holds 6 MiB: 2 more fit, 3 would not.
    const room = await smallVm(west.url, 'room', 3 * MiB);
    expect((await put(west, room.vdi, full(2))).status).toBe('success');
    expect((await put(west, room.vdi, full(3))).status).toBe('failure');
  });
});

describe('storage motion within a pool', () => {
  test("a disk moved to another SR reads the same bytes; the move counts the pool's room once", async () => {
    const east = await pool('solo', { maxDiskBytes: 8 * MiB });
    const bytes = Buffer.concat([full(5), pattern(MiB, 4)]); // 6 MiB of 8
    const { vm, vdi } = await vmWith(east, 'moved', bytes);
    const host = await byName(east, 'host', 'solo-02');
    const eth0 = await byName(east, 'network', 'Pool-wide network associated with eth0');
    const dest = await call<Record<string, string>>(east.url, 'host.migrate_receive', host, eth0, {});
    const b = await byName(east, 'SR', 'solo NFS B');
    await call(east.url, 'VM.migrate_send', vm, dest, false, { [vdi]: b }, {}, {});
    const moved = await diskOf(east, vm);
    expect(moved).not.toBe(vdi);
    expect(await call<string>(east.url, 'VDI.get_SR', moved)).toBe(b);
    expect((await read(east, moved)).equals(bytes)).toBe(true);
  });

  test("the VM's snapshots' disks move too, to the SR of the disk they are snapshots of, sharing its base there", async () => {
    const solo = await pool('history', { maxDiskBytes: 16 * MiB });
    const then = full(5);
    const now = Buffer.concat([full(1, 0x66), full(4)]);
    const { vm, vdi } = await vmWith(solo, 'with-snapshot', then);
    const snap = await call<string>(solo.url, 'VM.snapshot', vm, 'then');
    const oldSnapDisk = await diskOf(solo, snap);
    expect((await put(solo, vdi, now)).status).toBe('success');
    const host = await byName(solo, 'host', 'history-02');
    const eth0 = await byName(solo, 'network', 'Pool-wide network associated with eth0');
    const dest = await call<Record<string, string>>(solo.url, 'host.migrate_receive', host, eth0, {});
    const a = await byName(solo, 'SR', 'history NFS');
    const b = await byName(solo, 'SR', 'history NFS B');
    // 10 MiB held (the base, and the leaf's rewrite: a raw import writes every block); the moved leaf takes its own
    // blocks along, the snapshot's disk becomes a clone of it there with the one block that differs: 6 MiB.
    await call(solo.url, 'VM.migrate_send', vm, dest, false, { [vdi]: b }, {}, {});
    const leaf = await diskOf(solo, vm);
    const snapDisk = await diskOf(solo, snap);
    expect(snapDisk).not.toBe(oldSnapDisk);
    expect(await call<string>(solo.url, 'VDI.get_SR', snapDisk)).toBe(b);
    expect(await call<string>(solo.url, 'VDI.get_snapshot_of', snapDisk)).toBe(leaf);
    expect(await call<boolean>(solo.url, 'VDI.get_is_a_snapshot', snapDisk)).toBe(true);
    expect((await read(solo, leaf)).equals(now)).toBe(true);
    expect((await read(solo, snapDisk)).equals(then)).toBe(true);
    const parent = async (v: string) =>
      (await call<Record<string, string>>(solo.url, 'VDI.get_sm_config', v))['vhd-parent'];
    expect(await parent(leaf)).toBeDefined();
    expect(await parent(leaf)).toBe(await parent(snapDisk));
    // Nothing of the VM's is left on the first SR (its base copy went with the old disks).
    expect(await call<string[]>(solo.url, 'SR.get_VDIs', a)).toEqual([]);
    expect(await failure(solo, 'VDI.get_uuid', oldSnapDisk)).toEqual(['HANDLE_INVALID', 'VDI', oldSnapDisk]);
    // The pool holds 6 MiB: 10 more fit, 11 would not.
    const room = await smallVm(solo.url, 'room', 11 * MiB);
    expect((await put(solo, room.vdi, full(10))).status).toBe('success');
    expect((await put(solo, room.vdi, full(11))).status).toBe('failure');
  });

  test('a disk whose data its snapshot shares is copied, not moved: when the pool cannot keep it twice, VDI_COPY_FAILED (MIRROR_FAILED running) and the disk stays', async () => {
    const solo = await pool('tight', { maxDiskBytes: 8 * MiB });
    const { vm, vdi } = await vmWith(solo, 'shared', full(5));
    await call(solo.url, 'VM.snapshot', vm, 'shares-the-base');
    const host = await byName(solo, 'host', 'tight-01');
    const eth0 = await byName(solo, 'network', 'Pool-wide network associated with eth0');
    const dest = await call<Record<string, string>>(solo.url, 'host.migrate_receive', host, eth0, {});
    const b = await byName(solo, 'SR', 'tight NFS B');
    const [code, why] = await failure(solo, 'VM.migrate_send', vm, dest, false, { [vdi]: b }, {}, {});
    expect(code).toBe('VDI_COPY_FAILED');
    expect(why).toMatch(/keeps at most 8 MiB of disk contents; it holds 5 MiB and the copy needs 5 MiB more/);
    await call(solo.url, 'VM.start', vm, false, false);
    expect(await failure(solo, 'VM.migrate_send', vm, dest, true, { [vdi]: b }, {}, {})).toEqual([
      'MIRROR_FAILED',
      vdi,
    ]);
    expect(await diskOf(solo, vm)).toBe(vdi);
    expect((await read(solo, vdi)).equals(full(5))).toBe(true);
  });
});

describe('VDI.copy and VM.copy copy the data', () => {
  test('VDI.copy to another SR, and VM.copy, read the same bytes (a disk with a snapshot too: through its base)', async () => {
    const east = await pool('copies');
    const bytes = pattern(5 * MiB, 6);
    const { vm, vdi } = await vmWith(east, 'source', bytes);
    await call(east.url, 'VM.snapshot', vm, 'keeps-a-base');
    const b = await byName(east, 'SR', 'copies NFS B');
    const copy = await call<string>(east.url, 'VDI.copy', vdi, b);
    expect((await read(east, copy)).equals(bytes)).toBe(true);
    const vmCopy = await call<string>(east.url, 'VM.copy', vm, 'source-copy', b);
    expect((await read(east, await diskOf(east, vmCopy))).equals(bytes)).toBe(true);
    // Independent: writing the copy leaves the source as it was.
    expect((await put(east, copy, pattern(5 * MiB, 7))).status).toBe('success');
    expect((await read(east, vdi)).equals(bytes)).toBe(true);
  });

  test('a copy the pool cannot keep: VDI_COPY_FAILED saying why, and no disk or VM left behind', async () => {
    const east = await pool('full', { maxDiskBytes: 8 * MiB });
    const { vm, vdi } = await vmWith(east, 'big', full(5));
    const vdis = (await call<string[]>(east.url, 'VDI.get_all')).length;
    const vms = (await call<string[]>(east.url, 'VM.get_all')).length;
    const sr = await call<string>(east.url, 'VDI.get_SR', vdi);
    const [code, why] = await failure(east, 'VDI.copy', vdi, sr);
    expect(code).toBe('VDI_COPY_FAILED');
    expect(why).toBe(
      'xenlab: this simulated pool keeps at most 8 MiB of disk contents; it holds 5 MiB and the copy needs 5 MiB ' +
        'more; destroy disks that hold data, or copy less',
    );
    expect((await failure(east, 'VM.copy', vm, 'big-copy', sr))[0]).toBe('VDI_COPY_FAILED');
    expect((await call<string[]>(east.url, 'VDI.get_all')).length).toBe(vdis);
    expect((await call<string[]>(east.url, 'VM.get_all')).length).toBe(vms);
  });

  test('VM.copy whose second disk does not fit removes the first copy it made (safe_clone_disks)', async () => {
    const east = await pool('two-disks', { maxDiskBytes: 10 * MiB });
    const { vm } = await vmWith(east, 'two', full(3));
    const sr = await byName(east, 'SR', 'two-disks NFS');
    const second = await call<string>(east.url, 'VDI.create', {
      name_label: 'second',
      name_description: '',
      SR: sr,
      virtual_size: 3 * MiB,
      type: 'user',
      sharable: false,
      read_only: false,
      other_config: {},
      xenstore_data: {},
      sm_config: {},
      tags: [],
    });
    await call(east.url, 'VBD.create', {
      VM: vm,
      VDI: second,
      userdevice: '1',
      bootable: false,
      mode: 'RW',
      type: 'Disk',
      unpluggable: false,
      empty: false,
      other_config: {},
      qos_algorithm_type: '',
      qos_algorithm_params: {},
    });
    expect((await put(east, second, full(3, 0x33))).status).toBe('success');
    const vdis = (await call<string[]>(east.url, 'VDI.get_all')).length;
    // 6 MiB held: the first copy (3 MiB) fits, the second does not.
    expect((await failure(east, 'VM.copy', vm, 'two-copy', sr))[0]).toBe('VDI_COPY_FAILED');
    expect((await call<string[]>(east.url, 'VDI.get_all')).length).toBe(vdis);
    expect(await call<string[]>(east.url, 'VM.get_by_name_label', 'two-copy')).toEqual([]);
    // And its room is free again: a 4 MiB write fits.
    const fits = await smallVm(east.url, 'fits', 4 * MiB);
    expect((await put(east, fits.vdi, full(4))).status).toBe('success');
  });
});

describe('the WAN time of a move to another pool follows the bytes sent', () => {
  test('a mostly empty 10 GiB disk crosses much faster than one with many written blocks', async () => {
    // 50 Mbit/s, 5 ms, counted in real time: 24 MiB of blocks (as 2 MiB VHD blocks) take 4 s, one block 0.34 s.
    const crossPool = { link: 'wan-env', wan: { latencyMs: 5, mbps: 50 } };
    const east = await pool('east', { crossPool, maxDiskBytes: 64 * MiB, fast: false });
    const west = await pool('west', { crossPool, maxDiskBytes: 64 * MiB, fast: false });
    const timed = async (name: string, bytes: Buffer): Promise<number> => {
      const { vm, vdi } = await smallVm(east.url, name, 10 * 1024 * MiB);
      expect((await put(east, vdi, bytes)).status).toBe('success');
      const { dest, vdiMap, vifMap } = await toWest(east, west, vm);
      const t0 = performance.now();
      await call(east.url, 'VM.migrate_send', vm, dest, false, vdiMap, vifMap, {});
      return performance.now() - t0;
    };
    const empty = await timed('mostly-empty', full(1));
    const written = await timed('written', full(24, 0x42));
    expect(written).toBeGreaterThanOrEqual(3500);
    expect(empty).toBeLessThan(written / 3);
  }, 30_000);
});
