/**
 * VDI.pool_migrate over the wire (ocaml/xapi/message_forwarding.ml `VDI.pool_migrate`, xapi_vm_migrate.ml
 * `vdi_pool_migrate`): storage motion of the VM using the disk, to its own host, moving only that disk (and its
 * snapshots' disks); the answer is the new VDI, the old one is gone; xapi's errors in xapi's order.
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

/** A two-host pool with two NFS SRs ("<name> NFS", the default, and "<name> NFS B"). */
async function pool(name: string, options: SimulatorOptions = {}, durations: Record<string, number> = {}) {
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
        { name: `${name}-01`, cpus: 8, memoryGiB: 16, nics: ['eth0'] },
        { name: `${name}-02`, cpus: 8, memoryGiB: 16, nics: ['eth0'] },
      ],
      sharedStorage: [sr(`${name} NFS`, `/srv/${name}`, true), sr(`${name} NFS B`, `/srv/${name}-b`, false)],
      vms: [],
      durations,
    },
    ...options,
  });
  running.push(sim);
  const [b] = await call<string[]>(sim.url, 'SR.get_by_name_label', `${name} NFS B`);
  return { sim, b: b ?? '' };
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
  return r.body;
}

async function failure(on: RunningSimulator, method: string, ...params: unknown[]): Promise<string[]> {
  return fails(on.url, method, await session(on.url), ...params);
}

/** A VM whose disk holds `bytes`. */
async function vmWith(on: RunningSimulator, name: string, bytes: Buffer) {
  const made = await smallVm(on.url, name, bytes.length);
  expect((await put(on, made.vdi, bytes)).status).toBe('success');
  return made;
}

describe('VDI.pool_migrate', () => {
  test("a running VM's disk moves to the other SR with its data and snapshot; the VBD points at the new VDI, the old one is gone", async () => {
    const { sim, b } = await pool('live');
    const bytes = pattern(4 * MiB, 3);
    const { vm, vdi, vbd } = await vmWith(sim, 'mover', bytes);
    const snap = await call<string>(sim.url, 'VM.snapshot', vm, 'before');
    const [snapVbd] = await call<string[]>(sim.url, 'VM.get_VBDs', snap);
    await call(sim.url, 'VM.start', vm, false, false);
    const host = await call<string>(sim.url, 'VM.get_resident_on', vm);
    const messages = (await call<string[]>(sim.url, 'message.get_all')).length;
    // A client (XenCenter, Xen Orchestra) offers "migrate this disk" when `mirror` is allowed: attached, it is.
    expect(await call<string[]>(sim.url, 'VDI.get_allowed_operations', vdi)).toContain('mirror');

    const moved = await call<string>(sim.url, 'VDI.pool_migrate', vdi, b, {});

    expect(moved).not.toBe(vdi);
    expect(await call<string>(sim.url, 'VBD.get_VDI', vbd)).toBe(moved);
    expect(await call<string>(sim.url, 'VDI.get_SR', moved)).toBe(b);
    expect((await read(sim, moved)).equals(bytes)).toBe(true);
    expect(await failure(sim, 'VDI.get_uuid', vdi)).toEqual(['HANDLE_INVALID', 'VDI', vdi]);
    // The snapshot's disk went along and is still a snapshot of the moved disk.
    const snapDisk = await call<string>(sim.url, 'VBD.get_VDI', snapVbd);
    expect(await call<string>(sim.url, 'VDI.get_SR', snapDisk)).toBe(b);
    expect(await call<string>(sim.url, 'VDI.get_snapshot_of', snapDisk)).toBe(moved);
    // The VM stayed where it ran; a direct migrate_send, so no VM_MIGRATED message.
    expect(await call<string>(sim.url, 'VM.get_power_state', vm)).toBe('Running');
    expect(await call<string>(sim.url, 'VM.get_resident_on', vm)).toBe(host);
    expect(await call<string[]>(sim.url, 'message.get_all')).toHaveLength(messages);
    expect(await call<Record<string, string>>(sim.url, 'VDI.get_current_operations', moved)).toEqual({});
    expect(await call<string[]>(sim.url, 'VDI.get_allowed_operations', moved)).toContain('mirror');
  });

  test("a halted VM's disk is copied there; to its own SR the disk stays and is the answer", async () => {
    const { sim, b } = await pool('offline');
    const bytes = pattern(2 * MiB, 9);
    const { vdi, vbd } = await vmWith(sim, 'halted', bytes);
    const sr = await call<string>(sim.url, 'VDI.get_SR', vdi);
    expect(await call<string>(sim.url, 'VDI.pool_migrate', vdi, sr, {})).toBe(vdi);
    const moved = await call<string>(sim.url, 'VDI.pool_migrate', vdi, b, {});
    expect(moved).not.toBe(vdi);
    expect(await call<string>(sim.url, 'VBD.get_VDI', vbd)).toBe(moved);
    expect(await call<string>(sim.url, 'VDI.get_SR', moved)).toBe(b);
    expect((await read(sim, moved)).equals(bytes)).toBe(true);
  });

  test('the disk shows the mirror operation while it moves', async () => {
    // 20 ms per ms of link time: the move takes long enough to be watched.
    const { sim, b } = await pool(
      'slow',
      { fast: false },
      { 'VM.start': 0, 'VM.clone': 0, 'VM.migrate_send': 20 },
    );
    const { vm, vdi } = await vmWith(sim, 'watched', pattern(4 * MiB, 5));
    await call(sim.url, 'VM.start', vm, false, false);
    const task = await call<string>(sim.url, 'Async.VDI.pool_migrate', vdi, b, {});
    let seen: Record<string, string> = {};
    for (let i = 0; i < 100 && Object.keys(seen).length === 0; i++) {
      seen = await call<Record<string, string>>(sim.url, 'VDI.get_current_operations', vdi);
      if (Object.keys(seen).length === 0) await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen).toEqual({ [task]: 'mirror' });
    expect(await call<string[]>(sim.url, 'VDI.get_allowed_operations', vdi)).toEqual([]);
    // Meanwhile the VM is in migrate_send: a second move of its disk is refused.
    expect(await failure(sim, 'VDI.pool_migrate', vdi, b, {})).toEqual([
      'OTHER_OPERATION_IN_PROGRESS',
      'VM',
      vm,
      'migrate_send',
      task,
    ]);
    const done = await settled(sim.url, task);
    expect(done.status).toBe('success');
  });

  test("xapi's errors: no VM, a paused VM, a snapshot's disk, an unknown SR", async () => {
    const { sim, b } = await pool('errors');
    const [poolRef] = await call<string[]>(sim.url, 'pool.get_all');
    const sr = await call<string>(sim.url, 'pool.get_default_SR', poolRef);
    const loose = await call<string>(sim.url, 'VDI.create', {
      name_label: 'loose',
      name_description: '',
      SR: sr,
      virtual_size: MiB,
      type: 'user',
      sharable: false,
      read_only: false,
      other_config: {},
      xenstore_data: {},
      sm_config: {},
      tags: [],
    });
    expect(await failure(sim, 'VDI.pool_migrate', loose, b, {})).toEqual(['VDI_NEEDS_VM_FOR_MIGRATE', loose]);

    const { vm, vdi } = await smallVm(sim.url, 'paused');
    const snap = await call<string>(sim.url, 'VM.snapshot', vm, 'snap');
    const [snapVbd] = await call<string[]>(sim.url, 'VM.get_VBDs', snap);
    const snapDisk = await call<string>(sim.url, 'VBD.get_VDI', snapVbd);
    expect(await failure(sim, 'VDI.pool_migrate', snapDisk, b, {})).toEqual([
      'VM_IS_SNAPSHOT',
      snap,
      'migrate_send',
    ]);
    expect(await failure(sim, 'VDI.pool_migrate', vdi, 'OpaqueRef:nonsense', {})).toEqual([
      'HANDLE_INVALID',
      'SR',
      'OpaqueRef:nonsense',
    ]);
    await call(sim.url, 'VM.start', vm, true, false);
    expect(await failure(sim, 'VDI.pool_migrate', vdi, b, {})).toEqual([
      'VM_BAD_POWER_STATE',
      vm,
      'halted, suspended, running',
      'paused',
    ]);
    // Nothing moved.
    expect(await call<string>(sim.url, 'VDI.get_SR', vdi)).toBe(sr);
  });
});
