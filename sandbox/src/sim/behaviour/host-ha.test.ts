import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimFaults } from '../contract.js';
import { behaviours } from './index.js';
import { createTestWorld, type TestWorld } from './test-harness.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const faults: SimFaults = Object.assign({}, ...behaviours.map((b) => b.faults ?? {})) as SimFaults;
let w: TestWorld;
beforeEach(async () => {
  w = await createTestWorld();
});
afterEach(() => {
  w.close();
});

const host = (n: number) => w.byName('host', `xcp-ng-0${String(n)}`);
const poolRef = () => w.engine.store.all('pool')[0]?.[0] ?? '';
const nfs = () => w.byName('SR', 'NFS storage');

async function vmOn(h: string, name: string, memGiB = 2, priority = ''): Promise<string> {
  const vm = (await w.call('VM.clone', w.byName('VM', 'Debian Bookworm 12'), name)) as string;
  await w.call('VM.provision', vm);
  const m = memGiB * GiB;
  await w.call('VM.set_memory_limits', vm, m, m, m, m);
  if (priority) await w.call('VM.set_ha_restart_priority', vm, priority);
  await w.call('VM.start_on', vm, h, false, false);
  return vm;
}

describe('hosts', () => {
  it('reboot and shutdown need a disabled host (HOST_NOT_DISABLED) and stop what still runs there', async () => {
    const vm = await vmOn(host(2), 'guest');
    const stays = await vmOn(host(2), 'stays');
    expect(w.get('host', host(2)).allowed_operations).not.toContain('reboot');
    expect(await w.fails('host.reboot', host(2))).toEqual(['HOST_NOT_DISABLED']);
    await w.call('host.disable', host(2));
    expect(w.get('host', host(2)).allowed_operations).toEqual(
      expect.arrayContaining(['reboot', 'shutdown', 'evacuate']),
    );
    await w.call('VM.pool_migrate', vm, host(3), {});
    await w.call('host.shutdown', host(2));
    expect(w.get('VM', stays)).toMatchObject({ power_state: 'Halted', resident_on: 'OpaqueRef:NULL' });
    expect(w.get('VM', vm)).toMatchObject({ power_state: 'Running', resident_on: host(3) });
    expect(w.get('host_metrics', w.get('host', host(2)).metrics as string).live).toBe(false);
    expect(await w.fails('host.power_on', host(2))).toEqual(['HOST_POWER_ON_MODE_DISABLED']);
    await w.call('host.set_power_on_mode', host(2), 'wake-on-lan', {});
    expect(w.get('host', host(2)).allowed_operations).toContain('power_on');
    await w.call('host.power_on', host(2));
    expect(w.get('host', host(2)).enabled).toBe(true);
    expect(await w.fails('host.power_on', host(2))).toEqual(['HOST_IS_LIVE', host(2)]);
  });

  it('evacuates every guest to other hosts', async () => {
    const vm = await vmOn(host(2), 'mover');
    await w.call('host.evacuate', host(2));
    expect(w.get('VM', vm).resident_on).not.toBe(host(2));
    expect(w.get('VM', vm).power_state).toBe('Running');
  });

  it('reports the VMs that prevent evacuation and refuses to evacuate (HOST_NOT_ENOUGH_FREE_MEMORY [vm])', async () => {
    await vmOn(host(2), 'a', 20);
    await vmOn(host(3), 'b', 20);
    const big = await vmOn(host(1), 'big', 20);
    const prevent = (await w.call('host.get_vms_which_prevent_evacuation', host(1))) as Record<
      string,
      string[]
    >;
    expect(prevent).toEqual({ [big]: ['HOST_NOT_ENOUGH_FREE_MEMORY', big] });
    expect(await w.fails('host.assert_can_evacuate', host(1))).toEqual([
      'CANNOT_EVACUATE_HOST',
      `HOST_NOT_ENOUGH_FREE_MEMORY,${big}`,
    ]);
    expect(await w.fails('host.evacuate', host(1))).toEqual(['HOST_NOT_ENOUGH_FREE_MEMORY', big]);
  });

  it('computes free memory from what runs there', async () => {
    const before = (await w.call('host.compute_free_memory', host(1))) as number;
    await vmOn(host(1), 'x', 4);
    const after = (await w.call('host.compute_free_memory', host(1))) as number;
    expect(before - after).toBeGreaterThanOrEqual(4 * GiB);
    expect(before - after).toBeLessThan(4 * GiB + 64 * MiB);
  });
});

describe('metrics', () => {
  it('shows a CPU hog on its VM and its host, and moves with the VM', async () => {
    const vm = await vmOn(host(1), 'hog', 2);
    const cpu = async (h: string) => (await w.call('host.query_data_source', h, 'cpu_avg')) as number;
    const idle1 = await cpu(host(1));
    await faults.vmHog?.(w.ctx, vm, 'cpu', 1);
    expect((await w.call('VM.query_data_source', vm, 'cpu0')) as number).toBeGreaterThan(0.95);
    expect(await cpu(host(1))).toBeGreaterThan(idle1 + 0.15);
    await w.call('VM.pool_migrate', vm, host(2), {});
    expect(await cpu(host(2))).toBeGreaterThan(0.2);
    expect(await cpu(host(1))).toBeLessThan(0.15);
    expect((await w.fails('VM.query_data_source', vm, 'nonsense'))[0]).toBe('INTERNAL_ERROR');
    const names = ((await w.call('VM.get_data_sources', vm)) as { name_label: string }[]).map(
      (d) => d.name_label,
    );
    expect(names).toEqual(
      expect.arrayContaining(['cpu0', 'cpu1', 'memory', 'vbd_xvda_read', 'vbd_xvda_write']),
    );
    const hostNames = ((await w.call('host.get_data_sources', host(1))) as { name_label: string }[]).map(
      (d) => d.name_label,
    );
    expect(hostNames).toEqual(
      expect.arrayContaining(['cpu0', 'cpu7', 'cpu_avg', 'loadavg', 'memory_free_kib', 'pif_eth0_rx']),
    );
  });
});

describe('HA', () => {
  it('needs a heartbeat SR every host sees and refuses to enable twice or disable when off', async () => {
    const local = w.byName('SR', 'Local storage');
    // xha_statefile.ml raises Api_errors.sr_no_pbds, whose wire name is SR_HAS_NO_PBDS
    expect(await w.fails('pool.enable_ha', [local], {})).toEqual(['SR_HAS_NO_PBDS', local]);
    const iso = w.byName('SR', 'ISO library');
    expect(await w.fails('pool.enable_ha', [iso], {})).toEqual(['SR_OPERATION_NOT_SUPPORTED', iso]);
    expect(await w.fails('pool.disable_ha')).toEqual(['HA_NOT_ENABLED']);
    await w.call('pool.enable_ha', [nfs()], { timeout: '30' });
    const pool = w.get('pool', poolRef());
    // xapi leaves the number of failures to tolerate alone (XenCenter's wizard sets it)
    expect(pool).toMatchObject({ ha_enabled: true, ha_host_failures_to_tolerate: 0 });
    expect((pool.ha_statefiles as string[]).length).toBe(1);
    expect(await w.fails('pool.enable_ha', [nfs()], {})).toEqual(['HA_IS_ENABLED']);
    expect(await w.fails('pool.designate_new_master', host(2))).toEqual(['HA_IS_ENABLED']);
    // pool.ha_statefiles holds the VDI's ref (xapi_ha.ml: `List.map Ref.string_of`); xe shows its uuid
    const statefile = (pool.ha_statefiles as string[])[0] ?? '';
    expect(w.get('VDI', statefile)).toMatchObject({ type: 'ha_statefile', SR: nfs() });
    await w.call('pool.disable_ha');
    expect(w.get('pool', poolRef()).ha_enabled).toBe(false);
    // Disabling detaches the statefile and redo log but keeps them: the next enable reuses them.
    const haVdis = () =>
      w.engine.store
        .all('VDI')
        .filter(([, r]) => r.type === 'ha_statefile' || r.type === 'redo_log')
        .map(([r]) => r);
    expect(haVdis()).toHaveLength(2);
    await w.call('pool.enable_ha', [nfs()], {});
    expect(haVdis()).toHaveLength(2);
    expect(w.get('pool', poolRef()).ha_statefiles).toEqual([statefile]);
  });

  it('enables on a one-host pool too (xapi defines HA_TOO_FEW_HOSTS but never raises it)', async () => {
    w.close();
    w = await createTestWorld({
      hosts: [{ name: 'solo' }],
      sharedStorage: [{ name: 'NFS storage', type: 'nfs' }],
    });
    await w.call('pool.enable_ha', [nfs()], {});
    // Nothing protected: every host may fail (compute_max_host_failures_to_tolerate bisects up to the pool size).
    expect(await w.call('pool.ha_compute_max_host_failures_to_tolerate')).toBe(1);
  });

  it('validates restart priorities and failures to tolerate', async () => {
    const vm = (await w.call('VM.clone', w.byName('VM', 'Alpine Linux 3.20'), 'p')) as string;
    expect(await w.fails('VM.set_ha_restart_priority', vm, 'always')).toEqual([
      'INVALID_VALUE',
      'ha_restart_priority',
      'always',
    ]);
    expect(await w.fails('pool.set_ha_host_failures_to_tolerate', poolRef(), -1)).toEqual([
      'INVALID_VALUE',
      'ha_host_failures_to_tolerate',
      '-1',
    ]);
  });

  it('blocks a start that would break the failover plan', async () => {
    await vmOn(host(1), 'p1', 12, 'restart');
    await vmOn(host(2), 'p2', 12, 'restart');
    await w.call('pool.enable_ha', [nfs()], {});
    expect(await w.call('pool.ha_compute_max_host_failures_to_tolerate')).toBe(2);
    await w.call('pool.set_ha_host_failures_to_tolerate', poolRef(), 2);
    const p3 = (await w.call('VM.clone', w.byName('VM', 'Debian Bookworm 12'), 'p3')) as string;
    await w.call('VM.provision', p3);
    await w.call('VM.set_memory_limits', p3, 12 * GiB, 12 * GiB, 12 * GiB, 12 * GiB);
    await w.call('VM.set_ha_restart_priority', p3, 'restart');
    expect(await w.fails('VM.start_on', p3, host(3), false, false)).toEqual([
      'HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN',
    ]);
    expect(await w.fails('pool.set_ha_host_failures_to_tolerate', poolRef(), 3)).toEqual([
      'HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN',
    ]);
  });

  it('restarts protected VMs of a failed host on survivors, elects a new master and raises alerts', async () => {
    const prot = await vmOn(host(1), 'db', 4, 'restart');
    const best = await vmOn(host(1), 'cache', 4, 'best-effort');
    const plain = await vmOn(host(1), 'scratch', 4);
    await w.call('pool.enable_ha', [nfs()], {});
    expect(w.get('VM', prot).ha_always_run).toBe(true);
    await faults.failHost?.(w.ctx, host(1));
    expect(w.get('host_metrics', w.get('host', host(1)).metrics as string).live).toBe(false);
    expect(w.get('pool', poolRef()).master).toBe(host(2));
    expect(w.get('VM', prot).power_state).toBe('Running');
    expect([host(2), host(3)]).toContain(w.get('VM', prot).resident_on);
    expect(w.get('VM', best).power_state).toBe('Running');
    expect(w.get('VM', plain).power_state).toBe('Halted');
    const names = w.engine.store.all('message').map(([, m]) => m.name);
    expect(names).toContain('HA_HOST_FAILED');
    await faults.recoverHost?.(w.ctx, host(1));
    expect(w.get('host', host(1)).enabled).toBe(true);
  });

  it('without HA, VMs of a dead host still look Running until power_state_reset', async () => {
    const vm = await vmOn(host(2), 'orphan', 2);
    await faults.failHost?.(w.ctx, host(2));
    expect(w.get('VM', vm)).toMatchObject({ power_state: 'Running', resident_on: host(2) });
    await w.call('VM.power_state_reset', vm);
    expect(w.get('VM', vm).power_state).toBe('Halted');
    const other = await vmOn(host(3), 'alive', 2);
    expect(await w.fails('VM.power_state_reset', other)).toEqual(['HOST_IS_LIVE', host(3)]);
  });
});

describe('pool membership', () => {
  it('runs pool.join pre-checks in order: connection, HA, already in a pool', async () => {
    expect(await w.fails('pool.join', '192.0.2.1', 'root', 'x')).toEqual([
      'POOL_JOINING_HOST_CONNECTION_FAILED',
    ]);
    expect(await w.fails('pool.join', '10.0.0.12', 'root', 'xenlab')).toEqual(['HOST_IS_SLAVE', '10.0.0.11']);
    expect(await w.fails('pool.join', '10.0.0.11', 'root', 'xenlab')).toEqual([
      'OPERATION_NOT_ALLOWED',
      'Host is already part of a pool',
    ]);
    await w.call('pool.enable_ha', [nfs()], {});
    expect(await w.fails('pool.join', '10.0.0.11', 'root', 'xenlab')).toEqual(['HA_IS_ENABLED']);
  });

  it('ejects a member without guests, never the master, and designates a new master', async () => {
    const vm = await vmOn(host(3), 'g', 2);
    expect(await w.fails('pool.eject', host(3))).toEqual(['OPERATION_NOT_ALLOWED', 'VM resident on host']);
    await w.call('VM.hard_shutdown', vm);
    await w.call('pool.eject', host(3));
    expect(w.engine.store.find('host', host(2))).toBeDefined();
    expect(w.engine.store.all('host')).toHaveLength(2);
    expect((await w.fails('pool.eject', host(1)))[0]).toBe('INTERNAL_ERROR');
    await w.call('pool.designate_new_master', host(2));
    expect(w.get('pool', poolRef()).master).toBe(host(2));
  });
});
