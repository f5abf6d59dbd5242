/**
 * Cross-pool migration between two real simulators over XML-RPC (xapi_host.ml migrate_receive, xapi_vm_migrate.ml
 * migrate_send): the dest map, the VM arriving with its uuid, disks in the mapped SRs and VIFs on the mapped
 * networks, gone from the source; the errors a client sees; a pool of another environment is never reached.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createClient, XapiError } from '@xenlab/toolkit/xenapi';
import type { ScenarioInput } from '../../../sandbox/src/sim/index.js';
import { runXe } from '../xe/harness.js';
import { start, type RunningSimulator } from './helpers.js';

const pool = (name: string, vms: ScenarioInput['vms'] = []): ScenarioInput => ({
  pool: { name },
  seed: name,
  hosts: [
    { name: `${name}-01`, cpus: 8, memoryGiB: 16, nics: ['eth0', 'eth1'] },
    { name: `${name}-02`, cpus: 8, memoryGiB: 4, nics: ['eth0', 'eth1'] },
  ],
  sharedStorage: [
    {
      name: `${name} NFS`,
      type: 'nfs',
      sizeGiB: 512,
      deviceConfig: { server: '10.0.0.5', serverpath: `/srv/${name}` },
      default: true,
    },
  ],
  isoStorage: [{ name: `${name} ISOs`, isos: ['debian-12.iso'] }],
  vms,
});

/** The client with method names as plain strings (these tests build calls from tables). */
interface Client {
  call(method: string, ...args: unknown[]): Promise<unknown>;
  close(): Promise<void>;
}
const connect = (url: string, password: string): Client =>
  createClient({ url, user: 'root', password, transport: 'xml-rpc' });

let east: RunningSimulator;
let west: RunningSimulator;
let stranger: RunningSimulator;
let a: Client;
let b: Client;
let c: Client;

beforeAll(async () => {
  const crossPool = { link: 'env-1-secret', wan: { latencyMs: 40, mbps: 200 } };
  east = await start({
    fast: true,
    password: 'east-pw',
    crossPool,
    scenario: pool('east', [
      { name: 'web01', host: 'east-01', memoryMiB: 1024 },
      { name: 'db01', power_state: 'Halted', memoryMiB: 2048 },
      { name: 'big01', host: 'east-01', memoryMiB: 8192 },
      { name: 'sus01', host: 'east-01', memoryMiB: 512 },
      { name: 'gold01', power_state: 'Halted', memoryMiB: 1024 },
      { name: 'live01', host: 'east-01', memoryMiB: 512 },
      { name: 'snap01', host: 'east-01', memoryMiB: 512 },
      { name: 'copy-sus01', host: 'east-01', memoryMiB: 512 },
      { name: 'cd01', power_state: 'Halted', memoryMiB: 512 },
      { name: 'alert01', host: 'east-01', memoryMiB: 256 },
      { name: 'gsnap01', power_state: 'Halted', memoryMiB: 512 },
      { name: 'fcopy01', host: 'east-01', memoryMiB: 256 },
    ]),
  });
  west = await start({ fast: true, password: 'west-pw', crossPool, scenario: pool('west') });
  // Another learner's pool: its own link secret.
  stranger = await start({
    fast: true,
    password: 'other-pw',
    crossPool: { link: 'env-2-secret' },
    scenario: pool('other'),
  });
  a = connect(east.url, 'east-pw');
  b = connect(west.url, 'west-pw');
  c = connect(stranger.url, 'other-pw');
});
afterAll(async () => {
  for (const x of [a, b, c]) await x.close().catch(() => undefined);
  await Promise.all([east.close(), west.close(), stranger.close()]);
});

async function byName(x: Client, cls: 'VM' | 'host' | 'SR' | 'network', name: string): Promise<string> {
  const [r] = (await x.call(`${cls}.get_by_name_label`, name)) as string[];
  if (r === undefined) throw new Error(`no ${cls} ${name}`);
  return r;
}

async function code(p: Promise<unknown>): Promise<string[]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof XapiError) return [e.code, ...e.params];
    throw e;
  }
  throw new Error('expected an API error');
}

/** The alerts a pool holds for the VM with this uuid. */
async function vmAlerts(x: Client, uuid: string): Promise<Record<string, unknown>[]> {
  const all = (await x.call('message.get_since', new Date(0))) as Record<string, Record<string, unknown>>;
  return Object.values(all).filter((m) => m.obj_uuid === uuid);
}

/** The VM_MIGRATED alerts a pool holds for the VM with this uuid. */
async function migratedAlerts(
  x: Client,
  uuid: string,
): Promise<{ priority: number; cls: string; body: string }[]> {
  return (await vmAlerts(x, uuid))
    .filter((m) => m.name === 'VM_MIGRATED')
    .map((m) => ({ priority: Number(m.priority), cls: String(m.cls), body: String(m.body) }));
}

/** The dest map of west-01 on eth0's network, and the maps that send every disk and VIF of `vm` there. */
async function toWest(vm: string) {
  const host = await byName(b, 'host', 'west-01');
  const eth0 = await byName(b, 'network', 'Pool-wide network associated with eth0');
  const dest = (await b.call('host.migrate_receive', host, eth0, {})) as Record<string, string>;
  const sr = await byName(b, 'SR', 'west NFS');
  const vdiMap: Record<string, string> = {};
  for (const vbd of (await a.call('VM.get_VBDs', vm)) as string[]) {
    const vdi = (await a.call('VBD.get_VDI', vbd)) as string;
    if ((await a.call('VBD.get_type', vbd)) === 'Disk') vdiMap[vdi] = sr;
  }
  const vifMap: Record<string, string> = {};
  for (const vif of (await a.call('VM.get_VIFs', vm)) as string[]) vifMap[vif] = eth0;
  return { host, eth0, sr, dest, vdiMap, vifMap };
}

describe('host.migrate_receive', () => {
  test('answers the dest map with a new session on the destination', async () => {
    const host = await byName(b, 'host', 'west-01');
    const eth0 = await byName(b, 'network', 'Pool-wide network associated with eth0');
    const dest = (await b.call('host.migrate_receive', host, eth0, {})) as Record<string, string>;
    expect(dest.host).toBe(host);
    expect(dest.master).toBe(`${west.url}/`);
    expect(dest.SM).toMatch(/^http:\/\/[\d.]+\/services\/SM\?session_id=OpaqueRef:/);
    expect(dest.xenops).toMatch(/^http:\/\/[\d.]+\/services\/xenops\?session_id=OpaqueRef:/);
    expect(dest.session_id).toMatch(/^OpaqueRef:/);
    // The session works on the destination.
    const r = await fetch(`${west.url}/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'host.get_name_label',
        params: [dest.session_id, host],
      }),
    });
    expect(((await r.json()) as { result: string }).result).toBe('west-01');
  });

  test('a network the host has no PIF on: HOST_CANNOT_ATTACH_NETWORK', async () => {
    const host = await byName(b, 'host', 'west-01');
    const internal = (await b.call('network.create', {
      name_label: 'internal',
      other_config: {},
    })) as string;
    expect(await code(b.call('host.migrate_receive', host, internal, {}))).toEqual([
      'HOST_CANNOT_ATTACH_NETWORK',
      host,
      internal,
    ]);
  });
});

describe('host.allocate_resources_for_vm (hidden in the datamodel, as in xapi)', () => {
  test("is callable but not listed; reserves a VM's memory on the host, or refuses when it does not fit", async () => {
    const listed = (await b.call('system.listMethods')) as string[];
    expect(listed).toContain('host.migrate_receive');
    expect(listed).not.toContain('host.allocate_resources_for_vm');
    const vm = (await b.call('VM.create', {
      name_label: 'reserved',
      memory_static_max: 1024 ** 3,
      memory_dynamic_max: 1024 ** 3,
      memory_dynamic_min: 1024 ** 3,
      memory_static_min: 1024 ** 3,
      VCPUs_max: 1,
      VCPUs_at_startup: 1,
    })) as string;
    try {
      // west-02: 4 GiB, all dom0's.
      const small = await byName(b, 'host', 'west-02');
      const full = await code(b.call('host.allocate_resources_for_vm', small, vm, true));
      expect(full[0]).toBe('HOST_NOT_ENOUGH_FREE_MEMORY');
      expect(full[2]).toBe(String(await b.call('host.compute_free_memory', small)));
      const host = await byName(b, 'host', 'west-01');
      const free = Number(await b.call('host.compute_free_memory', host));
      await b.call('host.allocate_resources_for_vm', host, vm, true);
      expect(await b.call('VM.get_scheduled_to_be_resident_on', vm)).toBe(host);
      expect(Number(await b.call('host.compute_free_memory', host))).toBeLessThan(free - 1024 ** 3);
      await b.call('VM.destroy', vm);
      expect(Number(await b.call('host.compute_free_memory', host))).toBe(free);
    } finally {
      await b.call('VM.destroy', vm).catch(() => undefined);
    }
  });
});

describe('VM.migrate_send', () => {
  test('a running VM moves to the other pool: same uuid, running on the host, disks and VIFs mapped', async () => {
    const vm = await byName(a, 'VM', 'web01');
    const uuid = (await a.call('VM.get_uuid', vm)) as string;
    const mac = (await a.call('VIF.get_MAC', ((await a.call('VM.get_VIFs', vm)) as string[])[0])) as string;
    const { host, eth0, sr, dest, vdiMap, vifMap } = await toWest(vm);
    expect(Object.keys(vdiMap)).toHaveLength(1);
    await a.call('VM.assert_can_migrate', vm, dest, true, vdiMap, vifMap, {});
    const task = (await a.call('Async.VM.migrate_send', vm, dest, true, vdiMap, vifMap, {})) as string;
    let status = 'pending';
    while (status === 'pending') status = (await a.call('task.get_status', task)) as string;
    expect(status).toBe('success');
    expect(await a.call('task.get_progress', task)).toBe(1);
    // Gone from the source, disks included.
    expect(await code(a.call('VM.get_by_uuid', uuid))).toEqual(['UUID_INVALID', 'VM', uuid]);
    expect(await code(a.call('VDI.get_record', Object.keys(vdiMap)[0]))).toEqual([
      'HANDLE_INVALID',
      'VDI',
      Object.keys(vdiMap)[0],
    ]);
    // Running on west-01 with the same uuid, its disk in west NFS, its VIF on eth0 with its MAC.
    const there = (await b.call('VM.get_by_uuid', uuid)) as string;
    const rec = (await b.call('VM.get_record', there)) as Record<string, unknown>;
    expect(rec.name_label).toBe('web01');
    expect(rec.power_state).toBe('Running');
    expect(rec.resident_on).toBe(host);
    const vbds = rec.VBDs as string[];
    const srs = [];
    for (const vbd of vbds) {
      if ((await b.call('VBD.get_type', vbd)) !== 'Disk') continue;
      srs.push(await b.call('VDI.get_SR', await b.call('VBD.get_VDI', vbd)));
    }
    expect(srs).toEqual([sr]);
    const [vif] = rec.VIFs as string[];
    expect(await b.call('VIF.get_network', vif)).toBe(eth0);
    expect(await b.call('VIF.get_MAC', vif)).toBe(mac);
  });

  test('a halted VM arrives halted', async () => {
    const vm = await byName(a, 'VM', 'db01');
    const uuid = (await a.call('VM.get_uuid', vm)) as string;
    const { dest, vdiMap, vifMap } = await toWest(vm);
    const made = (await a.call('VM.migrate_send', vm, dest, false, vdiMap, vifMap, {})) as string;
    expect(await b.call('VM.get_uuid', made)).toBe(uuid);
    expect(await b.call('VM.get_power_state', made)).toBe('Halted');
  });

  test('a move to another pool raises no VM_MIGRATED, on either pool (message_forwarding.ml raises it for live intra-pool moves only)', async () => {
    const vm = await byName(a, 'VM', 'alert01');
    const uuid = (await a.call('VM.get_uuid', vm)) as string;
    const { dest, vdiMap, vifMap } = await toWest(vm);
    const made = (await a.call('VM.migrate_send', vm, dest, true, vdiMap, vifMap, {})) as string;
    expect(await b.call('VM.get_power_state', made)).toBe('Running');
    expect(await migratedAlerts(a, uuid)).toEqual([]);
    expect(await migratedAlerts(b, uuid)).toEqual([]);
    // Its domain arrived there (xenopsd, then pool_migrate_complete): no VM.start there, so no VM_STARTED either.
    expect(await vmAlerts(b, uuid)).toEqual([]);
  });

  test("the VM's snapshots travel with it: same uuids, snapshots of the moved VM, their disks copied to the disk's SR as snapshots of its disk there; gone from the source", async () => {
    const vm = await byName(a, 'VM', 'snap01');
    const uuid = (await a.call('VM.get_uuid', vm)) as string;
    const snaps = [
      (await a.call('VM.snapshot', vm, 'before upgrade')) as string,
      (await a.call('VM.snapshot', vm, 'after upgrade')) as string,
    ];
    const snapUuids = await Promise.all(snaps.map((x) => a.call('VM.get_uuid', x) as Promise<string>));
    const snapDisks: string[] = [];
    for (const snap of snaps)
      for (const vbd of (await a.call('VM.get_VBDs', snap)) as string[])
        if ((await a.call('VBD.get_type', vbd)) === 'Disk')
          snapDisks.push((await a.call('VBD.get_VDI', vbd)) as string);
    expect(snapDisks).toHaveLength(2);
    // Only the VM's own disk is in the map: its snapshots' disks follow it.
    const { dest, vdiMap, vifMap, sr } = await toWest(vm);
    expect(Object.keys(vdiMap)).toHaveLength(1);
    const made = (await a.call('VM.migrate_send', vm, dest, true, vdiMap, vifMap, {})) as string;
    expect(await b.call('VM.get_uuid', made)).toBe(uuid);
    const there = (await b.call('VM.get_snapshots', made)) as string[];
    expect((await Promise.all(there.map((x) => b.call('VM.get_uuid', x)))).sort()).toEqual(
      [...snapUuids].sort(),
    );
    const [disk] = (await b.call('VM.get_VBDs', made)) as string[];
    const vmDisk = (await b.call('VBD.get_VDI', disk)) as string;
    for (const snap of there) {
      const rec = (await b.call('VM.get_record', snap)) as Record<string, unknown>;
      expect(rec.is_a_snapshot).toBe(true);
      expect(rec.snapshot_of).toBe(made);
      expect(['before upgrade', 'after upgrade']).toContain(rec.name_label);
      const vbds = rec.VBDs as string[];
      const disks: string[] = [];
      for (const vbd of vbds)
        if ((await b.call('VBD.get_type', vbd)) === 'Disk')
          disks.push((await b.call('VBD.get_VDI', vbd)) as string);
      expect(disks).toHaveLength(1);
      const vdi = (await b.call('VDI.get_record', disks[0])) as Record<string, unknown>;
      expect(vdi.SR).toBe(sr);
      expect(vdi.is_a_snapshot).toBe(true);
      expect(vdi.snapshot_of).toBe(vmDisk);
    }
    // A snapshot there can be reverted to.
    await b.call('VM.hard_shutdown', made);
    await b.call('VM.revert', there[0]);
    // Gone from the source: the snapshots and their disks.
    for (const u of snapUuids)
      expect(await code(a.call('VM.get_by_uuid', u))).toEqual(['UUID_INVALID', 'VM', u]);
    for (const v of snapDisks)
      expect(await code(a.call('VDI.get_record', v))).toEqual(['HANDLE_INVALID', 'VDI', v]);
  });

  test('errors: VDI_NOT_IN_MAP, VIF_NOT_IN_MAP, SESSION_INVALID, HANDLE_INVALID, HOST_NOT_ENOUGH_FREE_MEMORY', async () => {
    const vm = await byName(a, 'VM', 'big01');
    const { dest, vdiMap, vifMap, eth0 } = await toWest(vm);
    const [vdi] = Object.keys(vdiMap);
    const [vif] = Object.keys(vifMap);
    expect(await code(a.call('VM.migrate_send', vm, dest, true, {}, vifMap, {}))).toEqual([
      'VDI_NOT_IN_MAP',
      vdi,
    ]);
    expect(await code(a.call('VM.migrate_send', vm, dest, true, vdiMap, {}, {}))).toEqual([
      'VIF_NOT_IN_MAP',
      vif,
    ]);
    const badSession = { ...dest, session_id: 'OpaqueRef:nope' };
    expect(await code(a.call('VM.migrate_send', vm, badSession, true, vdiMap, vifMap, {}))).toEqual([
      'SESSION_INVALID',
      'OpaqueRef:nope',
    ]);
    const badSr = { [String(vdi)]: 'OpaqueRef:no-such-sr' };
    expect(await code(a.call('VM.assert_can_migrate', vm, dest, true, badSr, vifMap, {}))).toEqual([
      'HANDLE_INVALID',
      'SR',
      'OpaqueRef:no-such-sr',
    ]);
    // west-02 has 4 GiB: an 8 GiB VM does not fit.
    const small = await byName(b, 'host', 'west-02');
    const dest2 = (await b.call('host.migrate_receive', small, eth0, {})) as Record<string, string>;
    const err = await code(a.call('VM.migrate_send', vm, dest2, true, vdiMap, vifMap, {}));
    expect(err[0]).toBe('HOST_NOT_ENOUGH_FREE_MEMORY');
    expect(Number(err[1])).toBeGreaterThan(Number(err[2]));
    // Nothing moved, nothing left behind on the destination.
    expect(await a.call('VM.get_power_state', vm)).toBe('Running');
    expect(await b.call('VM.get_by_name_label', 'big01')).toEqual([]);
  });

  test('a paused VM: VM_BAD_POWER_STATE', async () => {
    const vm = await byName(a, 'VM', 'big01');
    await a.call('VM.pause', vm);
    const { dest, vdiMap, vifMap } = await toWest(vm);
    expect(await code(a.call('VM.migrate_send', vm, dest, true, vdiMap, vifMap, {}))).toEqual([
      'VM_BAD_POWER_STATE',
      vm,
      'halted, suspended, running',
      'paused',
    ]);
    await a.call('VM.unpause', vm);
  });

  test("a suspended VM arrives suspended, its memory image in the pool's suspend SR", async () => {
    const vm = await byName(a, 'VM', 'sus01');
    const uuid = (await a.call('VM.get_uuid', vm)) as string;
    await a.call('VM.suspend', vm);
    const image = (await a.call('VM.get_suspend_VDI', vm)) as string;
    const { dest, vdiMap, vifMap, sr } = await toWest(vm);
    const made = (await a.call('VM.migrate_send', vm, dest, true, vdiMap, vifMap, {})) as string;
    expect(await b.call('VM.get_uuid', made)).toBe(uuid);
    expect(await b.call('VM.get_power_state', made)).toBe('Suspended');
    const there = (await b.call('VM.get_suspend_VDI', made)) as string;
    expect(await b.call('VDI.get_SR', there)).toBe(sr);
    expect(await b.call('VDI.get_type', there)).toBe('suspend');
    // Gone from the source, its image too; it resumes on the destination.
    expect(await code(a.call('VDI.get_record', image))).toEqual(['HANDLE_INVALID', 'VDI', image]);
    await b.call('VM.resume', made, false, false);
    expect(await b.call('VM.get_power_state', made)).toBe('Running');
  });

  test('copy mode: a halted VM is copied (new uuid, new MACs), the source stays; a running one is refused', async () => {
    const vm = await byName(a, 'VM', 'gold01');
    const uuid = (await a.call('VM.get_uuid', vm)) as string;
    const [srcVif] = (await a.call('VM.get_VIFs', vm)) as string[];
    const mac = (await a.call('VIF.get_MAC', srcVif)) as string;
    const { dest, vdiMap, vifMap } = await toWest(vm);
    const made = (await a.call('VM.migrate_send', vm, dest, false, vdiMap, vifMap, {
      copy: 'true',
    })) as string;
    const copyUuid = (await b.call('VM.get_uuid', made)) as string;
    expect(copyUuid).not.toBe(uuid);
    expect(await b.call('VM.get_name_label', made)).toBe('gold01');
    expect(await b.call('VM.get_power_state', made)).toBe('Halted');
    const [copyVif] = (await b.call('VM.get_VIFs', made)) as string[];
    expect(await b.call('VIF.get_MAC', copyVif)).not.toBe(mac);
    // The source is untouched: same record, same disk.
    expect(await a.call('VM.get_uuid', vm)).toBe(uuid);
    const [vdi] = Object.keys(vdiMap);
    expect(await a.call('VDI.get_uuid', vdi)).toMatch(/^[0-9a-f-]{36}$/);
    // Only a halted VM may be copied.
    const live = await byName(a, 'VM', 'live01');
    const l = await toWest(live);
    expect(
      await code(a.call('VM.migrate_send', live, l.dest, true, l.vdiMap, l.vifMap, { copy: 'true' })),
    ).toEqual(['VM_BAD_POWER_STATE', live, 'halted', 'running']);
    expect(await b.call('VM.get_by_name_label', 'live01')).toEqual([]);
  });

  test("copy mode copies the snapshots' disks too, as snapshots of the copy's disk without their snapshot VMs; the snapshots' VIFs must be mapped", async () => {
    const vm = await byName(a, 'VM', 'gsnap01');
    const snap = (await a.call('VM.snapshot', vm, 'golden')) as string;
    const snapUuid = (await a.call('VM.get_uuid', snap)) as string;
    const diskOf = async (x: Client, v: string): Promise<string> => {
      for (const vbd of (await x.call('VM.get_VBDs', v)) as string[])
        if ((await x.call('VBD.get_type', vbd)) === 'Disk')
          return (await x.call('VBD.get_VDI', vbd)) as string;
      throw new Error('no disk');
    };
    const snapDisk = await diskOf(a, snap);
    const [snapVif] = (await a.call('VM.get_VIFs', snap)) as string[];
    // Without the VM's VIF the snapshot's (its MAC) cannot be inferred from a mapped one (infer_vif_map covers the
    // snapshots' VIFs in copy mode too).
    for (const vif of (await a.call('VM.get_VIFs', vm)) as string[]) await a.call('VIF.destroy', vif);
    const { dest, vdiMap, sr, eth0 } = await toWest(vm);
    const copy = { copy: 'true' };
    expect(await code(a.call('VM.assert_can_migrate', vm, dest, false, vdiMap, {}, copy))).toEqual([
      'VIF_NOT_IN_MAP',
      snapVif,
    ]);
    const made = (await a.call(
      'VM.migrate_send',
      vm,
      dest,
      false,
      vdiMap,
      { [String(snapVif)]: eth0 },
      copy,
    )) as string;
    expect(await b.call('VM.get_snapshots', made)).toEqual([]);
    expect(await code(b.call('VM.get_by_uuid', snapUuid))).toEqual(['UUID_INVALID', 'VM', snapUuid]);
    // The snapshot's disk is there, a snapshot of the copy's disk, in the disk's SR.
    const disk = await diskOf(b, made);
    const src = (await a.call('VDI.get_record', snapDisk)) as Record<string, unknown>;
    const there = Object.values(
      (await b.call('VDI.get_all_records')) as Record<string, Record<string, unknown>>,
    ).filter((r) => r.snapshot_of === disk);
    expect(there).toHaveLength(1);
    expect(there[0]).toMatchObject({
      is_a_snapshot: true,
      SR: sr,
      name_label: src.name_label,
      virtual_size: src.virtual_size,
      VBDs: [],
    });
    expect(there[0]?.uuid).not.toBe(src.uuid);
    // The source keeps the snapshot and its disk.
    expect(await a.call('VM.get_snapshots', vm)).toEqual([snap]);
    expect(await a.call('VDI.get_is_a_snapshot', snapDisk)).toBe(true);
  });

  test("copy mode of a VM that is not halted is refused where xapi's assert_can_migrate refuses it: after the session and SR checks there, before the host's", async () => {
    const live = await byName(a, 'VM', 'live01');
    const { host, dest, vdiMap, vifMap } = await toWest(live);
    const copy = { copy: 'true' };
    const refused = ['VM_BAD_POWER_STATE', live, 'halted', 'running'];
    expect(await code(a.call('VM.assert_can_migrate', live, dest, true, vdiMap, vifMap, copy))).toEqual(
      refused,
    );
    // The session and the mapped SRs are looked at first (host_versions_not_decreasing, assert_sr_support_operations).
    const badSession = { ...dest, session_id: 'OpaqueRef:gone' };
    expect(await code(a.call('VM.migrate_send', live, badSession, true, vdiMap, vifMap, copy))).toEqual([
      'SESSION_INVALID',
      'OpaqueRef:gone',
    ]);
    const [vdi] = Object.keys(vdiMap);
    const badSr = { [String(vdi)]: 'OpaqueRef:no-such-sr' };
    expect(await code(a.call('VM.migrate_send', live, dest, true, badSr, vifMap, copy))).toEqual([
      'HANDLE_INVALID',
      'SR',
      'OpaqueRef:no-such-sr',
    ]);
    // Then copy mode, before the host being enabled and the VIF map.
    expect(await code(a.call('VM.migrate_send', live, dest, true, vdiMap, {}, copy))).toEqual(refused);
    await b.call('host.disable', host);
    try {
      expect(await code(a.call('VM.migrate_send', live, dest, true, vdiMap, vifMap, copy))).toEqual(refused);
    } finally {
      await b.call('host.enable', host);
    }
    // A suspended VM is not halted either.
    const sus = await byName(a, 'VM', 'copy-sus01');
    await a.call('VM.suspend', sus);
    const sv = await toWest(sus);
    expect(await code(a.call('VM.migrate_send', sus, sv.dest, false, sv.vdiMap, sv.vifMap, copy))).toEqual([
      'VM_BAD_POWER_STATE',
      sus,
      'halted',
      'suspended',
    ]);
    expect(await b.call('VM.get_by_name_label', 'live01')).toEqual([]);
    expect(await b.call('VM.get_by_name_label', 'copy-sus01')).toEqual([]);
  });

  test('a forced copy of a running VM (copy=true, force=true): its domain leaves as in a move, so the source ends halted, and the copy (a new uuid, which no domain has) arrives halted, reserving nothing', async () => {
    const forced = { copy: 'true', force: 'true' };
    // The memory check of a live import applies: big01 (8 GiB) does not fit west-02 (4 GiB).
    const big = await byName(a, 'VM', 'big01');
    const bg = await toWest(big);
    const small = await byName(b, 'host', 'west-02');
    const dest2 = (await b.call('host.migrate_receive', small, bg.eth0, {})) as Record<string, string>;
    const err = await code(a.call('VM.assert_can_migrate', big, dest2, true, bg.vdiMap, bg.vifMap, forced));
    expect(err[0]).toBe('HOST_NOT_ENOUGH_FREE_MEMORY');
    const vm = await byName(a, 'VM', 'fcopy01');
    const uuid = (await a.call('VM.get_uuid', vm)) as string;
    const { dest, vdiMap, vifMap } = await toWest(vm);
    const [disk] = Object.keys(vdiMap);
    const made = (await a.call('VM.migrate_send', vm, dest, true, vdiMap, vifMap, forced)) as string;
    const there = (await b.call('VM.get_record', made)) as Record<string, unknown>;
    expect(there.uuid).not.toBe(uuid);
    expect(there).toMatchObject({
      name_label: 'fcopy01',
      power_state: 'Halted',
      resident_on: 'OpaqueRef:NULL',
      scheduled_to_be_resident_on: 'OpaqueRef:NULL',
    });
    // Its disk there was mirrored; the mirror has ended.
    for (const vbd of there.VBDs as string[])
      if ((await b.call('VBD.get_type', vbd)) === 'Disk')
        expect(await b.call('VDI.get_sm_config', await b.call('VBD.get_VDI', vbd))).toEqual({});
    // The source keeps its record and disk, without its domain (xapi: the domain went to xenopsd there).
    const src = (await a.call('VM.get_record', vm)) as Record<string, unknown>;
    expect(src).toMatchObject({ uuid, power_state: 'Halted', resident_on: 'OpaqueRef:NULL' });
    expect(await a.call('VDI.get_uuid', disk)).toMatch(/^[0-9a-f-]{36}$/);
    await a.call('VM.start', vm, false, false);
  });

  test('a disc in the CD drive is ejected before the VM moves (in copy mode the source keeps the empty drive); the VM arrives with its drive empty though the same ISO is there', async () => {
    const vm = await byName(a, 'VM', 'cd01');
    const [iso] = (await a.call('VDI.get_by_name_label', 'debian-12.iso')) as string[];
    expect(await b.call('VDI.get_by_name_label', 'debian-12.iso')).toHaveLength(1);
    let cd: string | undefined;
    for (const vbd of (await a.call('VM.get_VBDs', vm)) as string[])
      if ((await a.call('VBD.get_type', vbd)) === 'CD') cd = vbd;
    cd ??= (await a.call('VBD.create', {
      VM: vm,
      VDI: 'OpaqueRef:NULL',
      userdevice: '3',
      bootable: false,
      mode: 'RO',
      type: 'CD',
      unpluggable: true,
      empty: true,
      other_config: {},
      qos_algorithm_type: '',
      qos_algorithm_params: {},
    })) as string;
    await a.call('VBD.insert', cd, iso);
    const { dest, vdiMap, vifMap } = await toWest(vm);
    const made = (await a.call('VM.migrate_send', vm, dest, false, vdiMap, vifMap, {
      copy: 'true',
    })) as string;
    expect(await a.call('VBD.get_empty', cd)).toBe(true);
    const there = [];
    for (const vbd of (await b.call('VM.get_VBDs', made)) as string[])
      if ((await b.call('VBD.get_type', vbd)) === 'CD') there.push(await b.call('VBD.get_record', vbd));
    expect(there).toMatchObject([{ empty: true, VDI: 'OpaqueRef:NULL' }]);
  });

  test('a disabled destination host: HOST_DISABLED', async () => {
    const vm = await byName(a, 'VM', 'live01');
    const { host, dest, vdiMap, vifMap } = await toWest(vm);
    await b.call('host.disable', host);
    try {
      expect(await code(a.call('VM.assert_can_migrate', vm, dest, true, vdiMap, vifMap, {}))).toEqual([
        'HOST_DISABLED',
        host,
      ]);
    } finally {
      await b.call('host.enable', host);
    }
  });

  test("another environment's pool is never reached; a pool that is down is INTERNAL_ERROR", async () => {
    const vm = await byName(a, 'VM', 'big01');
    const host = await byName(c, 'host', 'other-01');
    const eth0 = await byName(c, 'network', 'Pool-wide network associated with eth0');
    const dest = (await c.call('host.migrate_receive', host, eth0, {})) as Record<string, string>;
    const refused = ['INTERNAL_ERROR', 'Unix.Unix_error(Unix.ECONNREFUSED, "connect", "")'];
    expect(await code(a.call('VM.migrate_send', vm, dest, true, {}, {}, {}))).toEqual(refused);
    // A west map pointed at the stranger keeps west's link proof: refused too.
    const { dest: westMap } = await toWest(vm);
    expect(
      await code(a.call('VM.assert_can_migrate', vm, { ...westMap, master: dest.master }, true, {}, {}, {})),
    ).toEqual(refused);
    expect(await c.call('VM.get_by_name_label', 'big01')).toEqual([]);
  });
});

describe('over a slow WAN (realistic timings)', () => {
  let slowEast: RunningSimulator;
  let slowWest: RunningSimulator;
  let sa: Client;
  let sb: Client;
  beforeAll(async () => {
    // 50 Mbit/s and 20 ms, counted at a fiftieth of real time: a 1 GiB VM's memory takes about 3.4 s.
    const crossPool = { link: 'slow-link', wan: { latencyMs: 20, mbps: 50 } };
    const durations = { 'VM.migrate_send': 0.02 };
    slowEast = await start({
      fast: false,
      password: 'e',
      crossPool,
      scenario: {
        ...pool('east', [
          { name: 'app01', host: 'east-01', memoryMiB: 1024 },
          { name: 'app02', host: 'east-01', memoryMiB: 1024 },
          { name: 'app03', host: 'east-01', memoryMiB: 1024 },
          { name: 'app04', host: 'east-01', memoryMiB: 1024 },
          // Each fits west-02 (4 GiB free beside dom0) alone, not both at once.
          { name: 'wide01', host: 'east-01', memoryMiB: 2200 },
          { name: 'wide02', host: 'east-01', memoryMiB: 2200 },
        ]),
        durations,
      },
    });
    slowWest = await start({
      fast: false,
      password: 'w',
      crossPool,
      scenario: {
        ...pool('west', [{ name: 'local01', power_state: 'Halted', memoryMiB: 2200 }]),
        hosts: [
          { name: 'west-01', cpus: 8, memoryGiB: 16, nics: ['eth0', 'eth1'] },
          { name: 'west-02', cpus: 8, memoryGiB: 8, nics: ['eth0', 'eth1'] },
        ],
        durations,
      },
    });
    sa = connect(slowEast.url, 'e');
    sb = connect(slowWest.url, 'w');
  });
  afterAll(async () => {
    await Promise.all([sa.close(), sb.close()]);
    await Promise.all([slowEast.close(), slowWest.close()]);
  });

  /** The dest map of `hostName` and the maps sending every disk and VIF of `vm` there. */
  async function slowToWest(vm: string, hostName = 'west-01') {
    const host = await byName(sb, 'host', hostName);
    const eth0 = await byName(sb, 'network', 'Pool-wide network associated with eth0');
    const dest = await sb.call('host.migrate_receive', host, eth0, {});
    const sr = await byName(sb, 'SR', 'west NFS');
    const vdiMap: Record<string, string> = {};
    for (const vbd of (await sa.call('VM.get_VBDs', vm)) as string[])
      if ((await sa.call('VBD.get_type', vbd)) === 'Disk')
        vdiMap[(await sa.call('VBD.get_VDI', vbd)) as string] = sr;
    const vifMap: Record<string, string> = {};
    for (const vif of (await sa.call('VM.get_VIFs', vm)) as string[]) vifMap[vif] = eth0;
    return { host, dest, vdiMap, vifMap };
  }

  async function startMove(name: string, hostName = 'west-01'): Promise<string> {
    const vm = await byName(sa, 'VM', name);
    const { dest, vdiMap, vifMap } = await slowToWest(vm, hostName);
    return (await sa.call('Async.VM.migrate_send', vm, dest, true, vdiMap, vifMap, {})) as string;
  }

  /** Polls the task until `until` holds for it; returns every progress seen. */
  async function follow(
    task: string,
    until: (status: string, progress: number) => boolean,
  ): Promise<number[]> {
    const seen: number[] = [];
    for (;;) {
      const status = (await sa.call('task.get_status', task)) as string;
      const progress = Number(await sa.call('task.get_progress', task));
      seen.push(progress);
      if (until(status, progress)) return seen;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  test('the task shows progress while the bytes cross, then succeeds', { timeout: 120_000 }, async () => {
    const task = await startMove('app01');
    const seen = await follow(task, (status) => status !== 'pending');
    expect(await sa.call('task.get_status', task)).toBe('success');
    expect(seen.some((p) => p > 0 && p < 1)).toBe(true);
    expect(await sb.call('VM.get_by_name_label', 'app01')).toHaveLength(1);
  });

  test(
    'task.cancel stops it: the VM stays where it was, nothing is left on the destination',
    { timeout: 120_000 },
    async () => {
      const task = await startMove('app02');
      await follow(task, (status, progress) => status !== 'pending' || progress > 0);
      await sa.call('task.cancel', task);
      // `cancelling` is xapi's own state between the request and the task's end: wait past it.
      await follow(task, (status) => status !== 'pending' && status !== 'cancelling');
      expect(await sa.call('task.get_status', task)).toBe('cancelled');
      const vm = await byName(sa, 'VM', 'app02');
      expect(await sa.call('VM.get_power_state', vm)).toBe('Running');
      expect(await sb.call('VM.get_by_name_label', 'app02')).toEqual([]);
    },
  );

  /** `xe vm-list` on the destination pool, as a learner runs it there: name and power state of `name`. */
  async function westList(name: string): Promise<string> {
    const port = new URL(slowWest.url).port;
    const r = await runXe(
      [
        '-s',
        '127.0.0.1',
        '-p',
        port,
        '-u',
        'root',
        '-pw',
        'w',
        'vm-list',
        `name-label=${name}`,
        'params=power-state',
        '--minimal',
      ],
      { env: { HOME: '/nonexistent-home' } },
    );
    expect(r.code).toBe(0);
    return r.stdout.trim();
  }

  /** The sm_config of the destination VM's disks. */
  async function westDiskConfig(vm: string): Promise<Record<string, string>[]> {
    const out: Record<string, string>[] = [];
    for (const vbd of (await sb.call('VM.get_VBDs', vm)) as string[])
      if ((await sb.call('VBD.get_type', vbd)) === 'Disk')
        out.push(
          (await sb.call('VDI.get_sm_config', await sb.call('VBD.get_VDI', vbd))) as Record<string, string>,
        );
    return out;
  }

  /** Polls `xe vm-list` on the destination until `name` shows there (or the task ends first). */
  async function untilArrived(task: string, name: string): Promise<string> {
    for (;;) {
      const seen = await westList(name);
      if (seen !== '') return seen;
      const status = (await sa.call('task.get_status', task)) as string;
      if (status !== 'pending')
        throw new Error(`the task ended (${status}) before ${name} showed on the destination`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  test(
    'the arriving VM shows on the destination, Halted with its disks mirrored, until its memory is handed over',
    { timeout: 120_000 },
    async () => {
      const task = await startMove('app03');
      // While the memory crosses: there, Halted, its disks marked as mirror targets; still running here.
      expect(await untilArrived(task, 'app03')).toBe('halted');
      const [there] = (await sb.call('VM.get_by_name_label', 'app03')) as string[];
      expect(await sb.call('VM.get_resident_on', there)).toBe('OpaqueRef:NULL');
      const during = await westDiskConfig(String(there));
      expect(during.length).toBeGreaterThan(0);
      for (const c of during) expect(c.base_mirror).toMatch(/^[0-9a-f-]{36}\/.+/);
      expect(await sa.call('task.get_status', task)).toBe('pending');
      expect(await sa.call('VM.get_power_state', await byName(sa, 'VM', 'app03'))).toBe('Running');
      // Then it runs there, the mirrors are done, and the source record is gone.
      await follow(task, (status) => status !== 'pending');
      expect(await sa.call('task.get_status', task)).toBe('success');
      expect(await westList('app03')).toBe('running');
      expect(await sb.call('VM.get_uuid', there)).toMatch(/^[0-9a-f-]{36}$/);
      for (const c of await westDiskConfig(String(there))) expect(c.base_mirror).toBeUndefined();
      expect(await sa.call('VM.get_by_name_label', 'app03')).toEqual([]);
    },
  );

  test(
    'cancelled while it waits on the destination: the arriving VM and its disks are gone from there',
    { timeout: 120_000 },
    async () => {
      const vdisBefore = ((await sb.call('VDI.get_all')) as string[]).length;
      const task = await startMove('app04');
      expect(await untilArrived(task, 'app04')).toBe('halted');
      await sa.call('task.cancel', task);
      await follow(task, (status) => status !== 'pending' && status !== 'cancelling');
      expect(await sa.call('task.get_status', task)).toBe('cancelled');
      expect(await westList('app04')).toBe('');
      expect(((await sb.call('VDI.get_all')) as string[]).length).toBe(vdisBefore);
      expect(await sa.call('VM.get_power_state', await byName(sa, 'VM', 'app04'))).toBe('Running');
    },
  );

  test(
    "an arriving VM's memory counts on the destination host until it is there: a start there and a second VM sent there are refused; a cancel gives the memory back",
    { timeout: 120_000 },
    async () => {
      const small = await byName(sb, 'host', 'west-02');
      const free = Number(await sb.call('host.compute_free_memory', small));
      const task = await startMove('wide01', 'west-02');
      expect(await untilArrived(task, 'wide01')).toBe('halted');
      // Waiting there, Halted, its memory reserved on west-02 (host.allocate_resources_for_vm).
      const [there] = (await sb.call('VM.get_by_name_label', 'wide01')) as string[];
      // The reservation follows the import by a few calls.
      let scheduled = 'OpaqueRef:NULL';
      while (scheduled === 'OpaqueRef:NULL' && (await sa.call('task.get_status', task)) === 'pending')
        scheduled = (await sb.call('VM.get_scheduled_to_be_resident_on', there)) as string;
      expect(scheduled).toBe(small);
      const left = Number(await sb.call('host.compute_free_memory', small));
      expect(free - left).toBeGreaterThan(2200 * 1024 * 1024);
      // A VM of the same size fits the empty host, not beside it.
      const local = await byName(sb, 'VM', 'local01');
      const started = await code(sb.call('VM.start_on', local, small, false, false));
      expect(started[0]).toBe('HOST_NOT_ENOUGH_FREE_MEMORY');
      expect(started[2]).toBe(String(left));
      expect(Number(started[1])).toBeLessThanOrEqual(free);
      // A second VM sent to the same host meanwhile: refused before anything moves, needed and available as xapi gives them.
      const other = await byName(sa, 'VM', 'wide02');
      const o = await slowToWest(other, 'west-02');
      const refused = await code(
        sa.call('VM.assert_can_migrate', other, o.dest, true, o.vdiMap, o.vifMap, {}),
      );
      expect(refused).toEqual(['HOST_NOT_ENOUGH_FREE_MEMORY', started[1], String(left)]);
      expect(await code(sa.call('VM.migrate_send', other, o.dest, true, o.vdiMap, o.vifMap, {}))).toEqual(
        refused,
      );
      expect(await sb.call('VM.get_by_name_label', 'wide02')).toEqual([]);
      expect(await sa.call('VM.get_power_state', other)).toBe('Running');
      // Cancelled: the reservation goes with the arriving VM, and the start fits again.
      await sa.call('task.cancel', task);
      await follow(task, (status) => status !== 'pending' && status !== 'cancelling');
      expect(await sa.call('task.get_status', task)).toBe('cancelled');
      expect(Number(await sb.call('host.compute_free_memory', small))).toBe(free);
      await sb.call('VM.start_on', local, small, false, false);
      expect(await sb.call('VM.get_resident_on', local)).toBe(small);
      await sb.call('VM.hard_shutdown', local);
    },
  );
});

describe('VM.migrate_send within one pool (storage motion)', () => {
  let solo: RunningSimulator;
  let s: Client;
  beforeAll(async () => {
    // No crossPool option: a pool alone still moves disks between its own SRs.
    const base = pool('solo', [
      { name: 'mover', host: 'solo-01', memoryMiB: 1024 },
      { name: 'parked', power_state: 'Halted', memoryMiB: 1024 },
      { name: 'stay', host: 'solo-01', memoryMiB: 512 },
      { name: 'alerted', host: 'solo-01', memoryMiB: 512 },
    ]);
    solo = await start({
      fast: true,
      password: 'solo-pw',
      scenario: {
        ...base,
        hosts: [
          { name: 'solo-01', cpus: 8, memoryGiB: 16, nics: ['eth0', 'eth1'] },
          { name: 'solo-02', cpus: 8, memoryGiB: 16, nics: ['eth0', 'eth1'] },
        ],
        sharedStorage: [
          ...(base.sharedStorage ?? []),
          {
            name: 'solo NFS B',
            type: 'nfs',
            sizeGiB: 512,
            deviceConfig: { server: '10.0.0.6', serverpath: '/srv/b' },
          },
        ],
      },
    });
    s = connect(solo.url, 'solo-pw');
  });
  afterAll(async () => {
    await s.close();
    await solo.close();
  });

  /** The dest map of `hostName` in this pool and the map sending every disk of `vm` to `srName`. */
  async function within(vm: string, hostName: string, srName: string) {
    const host = await byName(s, 'host', hostName);
    const eth0 = await byName(s, 'network', 'Pool-wide network associated with eth0');
    const dest = (await s.call('host.migrate_receive', host, eth0, {})) as Record<string, string>;
    const sr = await byName(s, 'SR', srName);
    const vdiMap: Record<string, string> = {};
    for (const vbd of (await s.call('VM.get_VBDs', vm)) as string[])
      if ((await s.call('VBD.get_type', vbd)) === 'Disk')
        vdiMap[(await s.call('VBD.get_VDI', vbd)) as string] = sr;
    return { host, eth0, dest, sr, vdiMap };
  }

  async function diskSrs(vm: string): Promise<{ vdi: string; sr: string }[]> {
    const out = [];
    for (const vbd of (await s.call('VM.get_VBDs', vm)) as string[]) {
      if ((await s.call('VBD.get_type', vbd)) !== 'Disk') continue;
      const vdi = (await s.call('VBD.get_VDI', vbd)) as string;
      out.push({ vdi, sr: (await s.call('VDI.get_SR', vdi)) as string });
    }
    return out;
  }

  test('a running VM moves to another host and its disk to another SR: same record, new VDI, old one gone', async () => {
    const vm = await byName(s, 'VM', 'mover');
    const [before] = await diskSrs(vm);
    const { host, dest, sr, vdiMap } = await within(vm, 'solo-02', 'solo NFS B');
    expect(host).not.toBe(await s.call('VM.get_resident_on', vm));
    await s.call('VM.assert_can_migrate', vm, dest, true, vdiMap, {}, {});
    const made = await s.call('VM.migrate_send', vm, dest, true, vdiMap, {}, {});
    expect(made).toBe(vm);
    expect(await s.call('VM.get_power_state', vm)).toBe('Running');
    expect(await s.call('VM.get_resident_on', vm)).toBe(host);
    const after = await diskSrs(vm);
    expect(after).toHaveLength(1);
    expect(after[0]?.sr).toBe(sr);
    expect(after[0]?.vdi).not.toBe(before?.vdi);
    expect(await s.call('VDI.get_sm_config', after[0]?.vdi)).toEqual({});
    expect(await code(s.call('VDI.get_record', before?.vdi))).toEqual(['HANDLE_INVALID', 'VDI', before?.vdi]);
  });

  test('a halted VM: its disk moves, it stays halted; a disk mapped to its own SR stays', async () => {
    const vm = await byName(s, 'VM', 'parked');
    const [before] = await diskSrs(vm);
    const { dest, sr, vdiMap } = await within(vm, 'solo-01', 'solo NFS B');
    await s.call('VM.migrate_send', vm, dest, false, vdiMap, {}, {});
    expect(await s.call('VM.get_power_state', vm)).toBe('Halted');
    const [after] = await diskSrs(vm);
    expect(after?.sr).toBe(sr);
    expect(after?.vdi).not.toBe(before?.vdi);
    // Mapped where it already is: nothing to move.
    await s.call('VM.migrate_send', vm, dest, false, { [String(after?.vdi)]: sr }, {}, {});
    expect(await diskSrs(vm)).toEqual([after]);
  });

  test("a running VM's move raises VM_MIGRATED as VM.pool_migrate does (message_forwarding.ml: live intra-pool only); a halted one's none", async () => {
    const vm = await byName(s, 'VM', 'alerted');
    const uuid = (await s.call('VM.get_uuid', vm)) as string;
    const from = (await s.call('VM.get_resident_on', vm)) as string;
    const { host, dest } = await within(vm, 'solo-02', 'solo NFS B');
    // Its disk stays in its SR: only the memory moves.
    const [disk] = await diskSrs(vm);
    await s.call('VM.migrate_send', vm, dest, true, { [String(disk?.vdi)]: disk?.sr }, {}, {});
    const hostText = async (h: string): Promise<string> =>
      `'${String(await s.call('host.get_name_label', h))}' (uuid: ${String(await s.call('host.get_uuid', h))})`;
    expect(await migratedAlerts(s, uuid)).toEqual([
      {
        priority: 5,
        cls: 'VM',
        body: `VM 'alerted' (uuid: ${uuid}) migrated from host ${await hostText(from)} to host ${await hostText(host)}`,
      },
    ]);
    const parked = await byName(s, 'VM', 'parked');
    const p = await within(parked, 'solo-01', 'solo NFS');
    await s.call('VM.migrate_send', parked, p.dest, false, p.vdiMap, {}, {});
    expect(await migratedAlerts(s, (await s.call('VM.get_uuid', parked)) as string)).toEqual([]);
  });

  test('errors: VIF mapping and copy mode are not allowed, VDI_NOT_IN_MAP, an SR the host cannot reach', async () => {
    const vm = await byName(s, 'VM', 'stay');
    const { dest, eth0, vdiMap } = await within(vm, 'solo-02', 'solo NFS B');
    const [vif] = (await s.call('VM.get_VIFs', vm)) as string[];
    expect(await code(s.call('VM.migrate_send', vm, dest, true, {}, {}, {}))).toEqual([
      'VDI_NOT_IN_MAP',
      Object.keys(vdiMap)[0],
    ]);
    expect(
      await code(s.call('VM.migrate_send', vm, dest, true, vdiMap, { [String(vif)]: eth0 }, {})),
    ).toEqual([
      'OPERATION_NOT_ALLOWED',
      'VIF mapping is not allowed for intra-pool migration -all VIFs must be on the same network',
    ]);
    // assert_can_migrate does not look at copy mode; migrate_send refuses it.
    await s.call('VM.assert_can_migrate', vm, dest, true, vdiMap, {}, { copy: 'true' });
    expect(await code(s.call('VM.migrate_send', vm, dest, true, vdiMap, {}, { copy: 'true' }))).toEqual([
      'OPERATION_NOT_ALLOWED',
      'Copy mode is disallowed on intra pool storage migration, try efficient alternatives, for example, VM.copy/clone.',
    ]);
    // solo-01's local storage, for a VM going to solo-02.
    const host1 = await byName(s, 'host', 'solo-01');
    const pbds = Object.values(
      (await s.call('PBD.get_all_records')) as Record<string, Record<string, string>>,
    );
    const local = (await s.call('SR.get_by_name_label', 'Local storage')) as string[];
    const local1 = local.find((sr) => pbds.some((p) => p.SR === sr && p.host === host1));
    const toLocal = Object.fromEntries(Object.keys(vdiMap).map((v) => [v, String(local1)]));
    expect(await code(s.call('VM.migrate_send', vm, dest, true, toLocal, {}, {}))).toEqual([
      'VM_REQUIRES_SR',
      vm,
      local1,
    ]);
    // Nothing moved.
    expect(await s.call('VM.get_resident_on', vm)).toBe(host1);
    expect(await s.call('VM.get_current_operations', vm)).toEqual({});
  });
});
