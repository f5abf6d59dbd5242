/**
 * Disaster recovery keeps what the guests wrote: the SR is replicated storage, so the VDIs another pool introduces
 * from it (DR_task.create) are the same disks with the same data (xapi_dr_task.ml introduces the SR and scans its
 * VDIs; VM.recover attaches the recovered VMs to them). East writes to a disk (before and after enabling database
 * replication, with a snapshot between), is lost, and west recovers the VM: its disk and its snapshot's read what
 * east wrote.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { SimulatorOptions } from '../../../sandbox/src/sim/index.js';
import {
  MiB,
  call,
  endpoint,
  ok,
  pattern,
  request,
  session,
  settled,
  smallVm,
  start,
  type RunningSimulator,
} from './transfer-helpers.js';

const running: RunningSimulator[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function pool(name: string, options: SimulatorOptions): Promise<RunningSimulator> {
  const sim = await start({
    seed: name,
    scenario: {
      pool: { name },
      seed: name,
      hosts: [{ name: `${name}-01`, cpus: 8, memoryGiB: 16, nics: ['eth0'] }],
      sharedStorage: [
        {
          name: `${name} NFS`,
          type: 'nfs',
          sizeGiB: 512,
          deviceConfig: { server: '10.0.0.5', serverpath: `/srv/${name}` },
          default: true,
        },
      ],
      vms: [],
    },
    ...options,
  });
  running.push(sim);
  return sim;
}

async function put(on: RunningSimulator, vdi: string, body: Buffer): Promise<void> {
  const session_id = await session(on.url);
  const r = await request(endpoint(on, '/import_raw_vdi', { session_id, vdi, format: 'raw' }), 'PUT', body);
  expect(r.status).toBe(200);
  expect((await settled(on.url, r.headers['task-id'] as string)).status).toBe('success');
}

async function read(on: RunningSimulator, vdi: string): Promise<Buffer> {
  const session_id = await session(on.url);
  const r = await request(endpoint(on, '/export_raw_vdi', { session_id, vdi, format: 'raw' }), 'GET');
  expect(r.status).toBe(200);
  return r.body;
}

async function diskOf(on: RunningSimulator, vm: string): Promise<string> {
  for (const vbd of await call<string[]>(on.url, 'VM.get_VBDs', vm))
    if ((await call<string>(on.url, 'VBD.get_type', vbd)) === 'Disk')
      return call<string>(on.url, 'VBD.get_VDI', vbd);
  throw new Error('no disk');
}

describe('disaster recovery: the recovered disks hold what was written before the site was lost', () => {
  test('a VM recovered in the other pool reads its data, and its snapshot’s disk what it held then', async () => {
    const storage = mkdtempSync(join(tmpdir(), 'xenlab-dr-contents-'));
    dirs.push(storage);
    const east = await pool('east', { sharedStorage: storage });
    const west = await pool('west', { sharedStorage: storage });
    const then = pattern(3 * MiB, 11);
    const now = pattern(3 * MiB, 12);
    const { vm, vdi } = await smallVm(east.url, 'precious', 3 * MiB);
    await put(east, vdi, then);
    const [eastPool] = await call<string[]>(east.url, 'pool.get_all');
    const sr = await call<string>(east.url, 'pool.get_default_SR', eastPool);
    await call(east.url, 'SR.enable_database_replication', sr);
    // After replication started: a snapshot, then new data in the VM's disk.
    const snap = await call<string>(east.url, 'VM.snapshot', vm, 'then');
    await put(east, vdi, now);
    const vmUuid = await call<string>(east.url, 'VM.get_uuid', vm);
    const snapUuid = await call<string>(east.url, 'VM.get_uuid', snap);
    const srUuid = await call<string>(east.url, 'SR.get_uuid', sr);
    // The site is lost.
    await east.close();
    running.splice(running.indexOf(east), 1);

    const dc = { server: '10.0.0.5', serverpath: '/srv/east' };
    const task = await call<string>(west.url, 'DR_task.create', 'nfs', dc, [srUuid]);
    const [introduced] = await call<string[]>(west.url, 'DR_task.get_introduced_SRs', task);
    let metadata = '';
    for (const v of await call<string[]>(west.url, 'SR.get_VDIs', String(introduced)))
      if ((await call<string>(west.url, 'VDI.get_type', v)) === 'metadata') metadata = v;
    const db = await call<string>(west.url, 'VDI.open_database', metadata);
    const foreign = await ok<string>(west.url, 'VM.get_by_uuid', db, vmUuid);
    await ok(west.url, 'VM.recover', db, foreign, await session(west.url), false);
    const recovered = await call<string>(west.url, 'VM.get_by_uuid', vmUuid);
    expect((await read(west, await diskOf(west, recovered))).equals(now)).toBe(true);
    const recoveredSnap = await call<string>(west.url, 'VM.get_by_uuid', snapUuid);
    expect((await read(west, await diskOf(west, recoveredSnap))).equals(then)).toBe(true);
  });
});
