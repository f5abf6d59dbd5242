/**
 * Pool HA over the wire: enabling it, the failover plan and its protection, and the control API's network faults
 * (`fault/partition`, `fault/heal`) with and without HA — as a client and an instructor's tooling see them.
 */
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { callControl } from '../../../sandbox/src/sim/control.js';
import { fails, login, ok, start } from './helpers.js';
import type { RunningSimulator } from './helpers.js';

const GiB = 1024 ** 3;
let sim: RunningSimulator;
let s: string;
beforeEach(async () => {
  sim = await start();
  s = await login(sim.url);
});
afterEach(async () => {
  await sim.close();
});

const call = <T = unknown>(method: string, ...params: unknown[]) => ok<T>(sim.url, method, s, ...params);
const refusal = (method: string, ...params: unknown[]) => fails(sim.url, method, s, ...params);
const byName = async (cls: string, name: string) =>
  (await call<string[]>(`${cls}.get_by_name_label`, name))[0] ?? '';
const hostLive = async (name: string) =>
  call<boolean>('host_metrics.get_live', await call<string>('host.get_metrics', await byName('host', name)));
const messages = async (name: string) =>
  Object.values(
    await call<Record<string, { name: string; body: string; obj_uuid: string }>>('message.get_all_records'),
  ).filter((m) => m.name === name);

async function vmOn(hostName: string, name: string, memGiB: number, priority = ''): Promise<string> {
  const vm = await call<string>('VM.clone', await byName('VM', 'Debian Bookworm 12'), name);
  await call('VM.provision', vm);
  const m = memGiB * GiB;
  await call('VM.set_memory_limits', vm, m, m, m, m);
  if (priority) await call('VM.set_ha_restart_priority', vm, priority);
  await call('VM.start_on', vm, await byName('host', hostName), false, false);
  return vm;
}

describe('HA over the wire', () => {
  test('enable, plan, protection and a failover seen by a client', async () => {
    const [pool] = await call<string[]>('pool.get_all');
    const local = (await call<string[]>('SR.get_by_name_label', 'Local storage'))[0];
    expect(await refusal('pool.enable_ha', [local], {})).toEqual(['SR_HAS_NO_PBDS', local]);
    await vmOn('xcp-ng-01', 'scratch-1', 20);
    const db = await vmOn('xcp-ng-02', 'db-1', 8, 'restart');
    await vmOn('xcp-ng-02', 'web-1', 4, 'restart');
    await vmOn('xcp-ng-03', 'web-2', 4, 'restart');
    await vmOn('xcp-ng-03', 'batch-1', 8);
    const nfs = await byName('SR', 'NFS storage');
    await call('pool.enable_ha', [nfs], { timeout: '60' });
    expect(await call('pool.ha_compute_max_host_failures_to_tolerate')).toBe(1);
    await call('pool.set_ha_host_failures_to_tolerate', pool, 1);
    expect(await call('pool.get_ha_plan_exists_for', pool)).toBe(1);
    expect(await refusal('VM.set_ha_restart_priority', await byName('VM', 'scratch-1'), 'restart')).toEqual([
      'HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN',
    ]);
    const statefiles = await call<string[]>('pool.get_ha_statefiles', pool);
    expect(await call('VDI.get_type', statefiles[0])).toBe('ha_statefile');

    const r = await callControl(sim, 'fault/host-fail', { name_label: 'xcp-ng-02' });
    expect(r.status).toBe(200);
    expect(await hostLive('xcp-ng-02')).toBe(false);
    expect(await call('VM.get_power_state', db)).toBe('Running');
    expect(await call('VM.get_resident_on', db)).not.toBe(await byName('host', 'xcp-ng-02'));
    expect((await messages('HA_HOST_FAILED')).map((m) => m.body)).toEqual(["Server 'xcp-ng-02' has failed"]);
    expect(await call('pool.get_ha_overcommitted', pool)).toBe(true);
  });
});

describe('fault/partition and fault/heal', () => {
  test('with HA the coordinator cut off alone fences; the others elect a new one and restart its VMs', async () => {
    const [pool] = await call<string[]>('pool.get_all');
    const master = await call<string>('pool.get_master', pool);
    expect(await call('host.get_name_label', master)).toBe('xcp-ng-01');
    const app = await vmOn('xcp-ng-01', 'app-1', 4, 'restart');
    await call('pool.enable_ha', [await byName('SR', 'NFS storage')], {});
    const r = await callControl(sim, 'fault/partition', {
      groups: [['xcp-ng-01'], ['xcp-ng-02', 'xcp-ng-03']],
    });
    expect(r.status).toBe(200);
    expect(r.body.groups).toEqual([
      [master],
      [await byName('host', 'xcp-ng-02'), await byName('host', 'xcp-ng-03')],
    ]);
    expect(await hostLive('xcp-ng-01')).toBe(false);
    expect(await call('pool.get_master', pool)).not.toBe(master);
    expect(await call('VM.get_power_state', app)).toBe('Running');
    expect(await call('VM.get_resident_on', app)).not.toBe(master);

    expect((await callControl(sim, 'fault/heal', {})).status).toBe(200);
    expect(await hostLive('xcp-ng-01')).toBe(true);
    expect((await messages('HA_HOST_WAS_FENCED')).map((m) => m.obj_uuid)).toEqual([
      await call('host.get_uuid', master),
    ]);
  });

  test('without HA a member across the split is dead to the coordinator, its VMs untouched', async () => {
    const far = await vmOn('xcp-ng-03', 'far-1', 2, 'restart');
    const h3 = await byName('host', 'xcp-ng-03');
    // Hosts by uuid work too; hosts named in no group form one more group (here xcp-ng-01 and -02).
    const r = await callControl(sim, 'fault/partition', { groups: [[await call('host.get_uuid', h3)]] });
    expect(r.status).toBe(200);
    expect(await hostLive('xcp-ng-03')).toBe(false);
    expect(await hostLive('xcp-ng-01')).toBe(true);
    expect(await call('VM.get_power_state', far)).toBe('Running');
    expect(await call('VM.get_resident_on', far)).toBe(h3);
    expect(await refusal('VM.start_on', await vmHalted('near-1'), h3, false, false)).toEqual([
      'HOST_OFFLINE',
      h3,
    ]);
    await callControl(sim, 'fault/heal', {});
    expect(await hostLive('xcp-ng-03')).toBe(true);
    expect(await call('VM.get_resident_on', far)).toBe(h3);
  });

  test('refuses bad requests: 400 for a bad shape, 404 for an unknown host, 409 for a host in two groups', async () => {
    expect((await callControl(sim, 'fault/partition', { groups: 'xcp-ng-01' })).status).toBe(400);
    expect((await callControl(sim, 'fault/partition', { groups: [[]] })).status).toBe(400);
    const unknown = await callControl(sim, 'fault/partition', { groups: [['xcp-ng-09']] });
    expect(unknown).toMatchObject({ status: 404, body: { error: 'SIM_ERR_FAULT_TARGET_NOT_FOUND' } });
    const twice = await callControl(sim, 'fault/partition', {
      groups: [['xcp-ng-01'], ['xcp-ng-01', 'xcp-ng-02']],
    });
    expect(twice).toMatchObject({ status: 409, body: { error: 'INVALID_VALUE' } });
    const noAuth = await fetch(new URL('fault/heal', sim.controlUrl), { method: 'POST', body: '{}' });
    expect(noAuth.status).toBe(401);
  });
});

async function vmHalted(name: string): Promise<string> {
  const vm = await call<string>('VM.clone', await byName('VM', 'Alpine Linux 3.20'), name);
  await call('VM.provision', vm);
  return vm;
}
