/**
 * HA as xapi does it: restart planning (binpack.ml, xapi_ha_vm_failover.ml), overcommit protection, enable/disable
 * (xapi_ha.ml, xha_statefile.ml), failover with restart priorities and order, fencing on network partitions.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimFaults } from '../contract.js';
import { healPartition, partitionHosts } from './ha-failover.js';
import {
  biggestFitDecreasing,
  computeRestartPlan,
  heuristicFor,
  maxHostFailures,
  planForFailures,
  restartGroups,
} from './ha-plan.js';
import { behaviours } from './index.js';
import { setSrFailed } from './storage.js';
import { createTestWorld, type TestWorld } from './test-harness.js';

const GiB = 1024 ** 3;
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
const pool = () => w.get('pool', poolRef());
const nfs = () => w.byName('SR', 'NFS storage');
const live = (h: string) => w.get('host_metrics', w.get('host', h).metrics as string).live;
const messages = (name: string) => w.engine.store.all('message').filter(([, m]) => m.name === name);
const vm = (name: string) => w.get('VM', w.byName('VM', name));

async function vmOn(h: string, name: string, memGiB: number, priority = ''): Promise<string> {
  const ref = (await w.call('VM.clone', w.byName('VM', 'Debian Bookworm 12'), name)) as string;
  await w.call('VM.provision', ref);
  const m = memGiB * GiB;
  await w.call('VM.set_memory_limits', ref, m, m, m, m);
  if (priority) await w.call('VM.set_ha_restart_priority', ref, priority);
  await w.call('VM.start_on', ref, h, false, false);
  return ref;
}

/**
 * The lose-a-host lab's pool: with db-1, web-1 and web-2 protected the plan covers one host failure, not two;
 * protecting scratch-1 as well leaves no room for it anywhere if xcp-ng-01 fails.
 */
async function labPool(): Promise<void> {
  await vmOn(host(1), 'scratch-1', 20);
  await vmOn(host(2), 'db-1', 8, 'restart');
  await vmOn(host(2), 'web-1', 4, 'restart');
  await vmOn(host(2), 'cache-1', 8, 'best-effort');
  await vmOn(host(3), 'web-2', 4, 'restart');
  await vmOn(host(3), 'batch-1', 8);
}

describe('binpack.ml', () => {
  it('packs the biggest VM first into the host with the most room, and leaves out what does not fit there', () => {
    const plan = biggestFitDecreasing(
      [
        ['small', 1],
        ['big', 5],
        ['huge', 9],
      ],
      [
        ['a', 6],
        ['b', 8],
      ],
    );
    // huge (9) fits nowhere; big (5) goes to b (8 → 3); small (1) to a (6, now the roomiest). Reversed, like xapi.
    expect(plan).toEqual([
      ['small', 'a'],
      ['big', 'b'],
    ]);
  });

  it('plans exhaustively for small pools and approximately for big ones (nCr·r! < 3500, n ≤ 32)', () => {
    expect(heuristicFor(3, 2)).toBe('exhaustive');
    expect(heuristicFor(16, 2)).toBe('exhaustive');
    expect(heuristicFor(10, 5)).toBe('approximate');
    expect(heuristicFor(33, 1)).toBe('approximate');
  });
});

describe('restart planning (xapi_ha_vm_failover.ml)', () => {
  it('with nothing protected, every host may fail', async () => {
    await vmOn(host(1), 'plain', 8);
    expect(await w.call('pool.ha_compute_max_host_failures_to_tolerate')).toBe(3);
  });

  it('finds the largest number of host failures every protected VM survives', async () => {
    await labPool();
    expect(planForFailures(w.engine.store, 1)).toBe('all');
    expect(planForFailures(w.engine.store, 2)).toBe('none');
    expect(await w.call('pool.ha_compute_max_host_failures_to_tolerate')).toBe(1);
    expect(await w.call('pool.ha_failover_plan_exists', 1)).toBe(true);
    expect(await w.call('pool.ha_failover_plan_exists', 2)).toBe(false);
  });

  it('plans at memory_static_max, not at what a ballooning guest could be squeezed to', async () => {
    await labPool();
    const db = w.byName('VM', 'db-1');
    await w.call('VM.hard_shutdown', db);
    // dynamic_min 2 GiB would fit anywhere; HA plans for the 8 GiB the guest may grow to.
    await w.call('VM.set_memory_limits', db, 2 * GiB, 8 * GiB, 2 * GiB, 8 * GiB);
    await w.call('VM.start_on', db, host(2), false, false);
    expect(maxHostFailures(w.engine.store)).toBe(1);
    await w.call('VM.hard_shutdown', db);
    await w.call('VM.set_memory_limits', db, 2 * GiB, 24 * GiB, 2 * GiB, 2 * GiB);
    await w.call('VM.start_on', db, host(2), false, false);
    expect(maxHostFailures(w.engine.store)).toBe(0);
  });

  it('computes a hypothetical with only the VMs it is given as protected', async () => {
    await labPool();
    const scratch = w.byName('VM', 'scratch-1');
    const db = w.byName('VM', 'db-1');
    expect(
      await w.call('pool.ha_compute_hypothetical_max_host_failures_to_tolerate', {
        [scratch]: 'restart',
        [db]: 'restart',
      }),
    ).toBe(0);
    expect(
      await w.call('pool.ha_compute_hypothetical_max_host_failures_to_tolerate', { [db]: 'best-effort' }),
    ).toBe(3);
    expect(
      await w.fails('pool.ha_compute_hypothetical_max_host_failures_to_tolerate', { [db]: 'always' }),
    ).toEqual(['INVALID_VALUE', 'ha_restart_priority', 'always']);
  });

  it('pins a protected VM on local storage to a host: a plan only "excluding non-agile VMs", which is no plan', async () => {
    await labPool();
    const local = (await w.call('VM.clone', w.byName('VM', 'Alpine Linux 3.20'), 'pinned')) as string;
    await w.call('VM.provision', local);
    // A disk on xcp-ng-03's local SR: the VM can run there only.
    const sr = w.engine.store
      .all('SR')
      .find(
        ([s, r]) =>
          r.name_label === 'Local storage' &&
          w.engine.store.all('PBD').some(([, p]) => p.SR === s && p.host === host(3)),
      )?.[0];
    const vdi = (await w.call('VDI.create', {
      name_label: 'pinned-disk',
      SR: sr,
      virtual_size: GiB,
      type: 'user',
      sharable: false,
      read_only: false,
      other_config: {},
    })) as string;
    await w.call('VBD.create', {
      VM: local,
      VDI: vdi,
      userdevice: '1',
      bootable: false,
      mode: 'RW',
      type: 'Disk',
      empty: false,
      other_config: {},
      qos_algorithm_type: '',
      qos_algorithm_params: {},
    });
    await w.call('VM.set_memory_limits', local, GiB, GiB, GiB, GiB);
    await w.call('VM.start_on', local, host(3), false, false);
    await w.call('VM.set_ha_restart_priority', local, 'restart');
    expect(planForFailures(w.engine.store, 1)).toBe('excluding-non-agile');
    expect(maxHostFailures(w.engine.store)).toBe(0);
  });

  it('places offline protected VMs first, by size, on the live hosts with the most room', async () => {
    await labPool();
    await faults.failHost?.(w.ctx, host(2)); // HA is off: the VMs still look Running there
    const { plan, notRestarted } = computeRestartPlan(w.engine.store, 1, {
      live: [host(1), host(3)],
      protect: [w.byName('VM', 'db-1'), w.byName('VM', 'web-1'), w.byName('VM', 'web-2')],
    });
    expect(notRestarted).toEqual([]);
    expect(new Map(plan)).toEqual(
      new Map([
        [w.byName('VM', 'db-1'), host(3)],
        [w.byName('VM', 'web-1'), host(1)],
      ]),
    );
  });

  it('restarts by ascending order, in parallel within one order; a negative order goes last', async () => {
    await labPool();
    const names = ['web-1', 'db-1', 'web-2', 'cache-1'];
    const refs = names.map((n) => w.byName('VM', n));
    await w.call('VM.set_order', w.byName('VM', 'db-1'), 1);
    await w.call('VM.set_order', w.byName('VM', 'web-1'), 2);
    await w.call('VM.set_order', w.byName('VM', 'web-2'), 2);
    w.engine.store.update('VM', w.byName('VM', 'cache-1'), { order: -1 });
    const groups = restartGroups(w.engine.store, refs).map((g) => g.map((r) => names[refs.indexOf(r)]));
    expect(groups).toEqual([['db-1'], ['web-1', 'web-2'], ['cache-1']]);
    expect(await w.fails('VM.set_order', refs[0], -1)).toEqual([
      'INVALID_VALUE',
      'order must be non-negative',
      '-1',
    ]);
    expect(await w.fails('VM.set_start_delay', refs[0], -5)).toEqual([
      'INVALID_VALUE',
      'start_delay must be non-negative',
      '-5',
    ]);
  });
});

describe('overcommit protection (xapi_ha_vm_failover.ml)', () => {
  beforeEach(async () => {
    await labPool();
    await w.call('pool.enable_ha', [nfs()], {});
    await w.call('pool.set_ha_host_failures_to_tolerate', poolRef(), 1);
  });

  it('keeps the plan and refuses what would break it: protecting too much, more failures, disabling a host', async () => {
    expect(pool()).toMatchObject({ ha_plan_exists_for: 1, ha_overcommitted: false });
    const scratch = w.byName('VM', 'scratch-1');
    expect(await w.fails('VM.set_ha_restart_priority', scratch, 'restart')).toEqual([
      'HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN',
    ]);
    expect(vm('scratch-1').ha_restart_priority).toBe('');
    expect(await w.fails('pool.set_ha_host_failures_to_tolerate', poolRef(), 2)).toEqual([
      'HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN',
    ]);
    expect(await w.fails('host.disable', host(3))).toEqual(['HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN']);
    expect(await w.fails('host.evacuate', host(3))).toEqual(['HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN']);
    // A best-effort VM is not protected: no plan to keep for it.
    await w.call('VM.set_ha_restart_priority', scratch, 'best-effort');
  });

  it('refuses to start even an unprotected VM where the plan needs the room', async () => {
    const big = (await w.call('VM.clone', w.byName('VM', 'Debian Bookworm 12'), 'big')) as string;
    await w.call('VM.provision', big);
    await w.call('VM.set_memory_limits', big, 12 * GiB, 12 * GiB, 12 * GiB, 12 * GiB);
    expect(await w.fails('VM.start_on', big, host(3), false, false)).toEqual([
      'HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN',
    ]);
  });

  it('with ha_allow_overcommit, lets it happen: overcommitted, the plan drops, two alerts', async () => {
    await w.call('pool.set_ha_allow_overcommit', poolRef(), true);
    await w.call('VM.set_ha_restart_priority', w.byName('VM', 'scratch-1'), 'restart');
    expect(vm('scratch-1').ha_always_run).toBe(true);
    expect(pool()).toMatchObject({ ha_overcommitted: true, ha_plan_exists_for: 0 });
    const [over] = messages('HA_POOL_OVERCOMMITTED');
    expect(over?.[1]).toMatchObject({
      priority: 3,
      cls: 'Pool',
      body: "The failover tolerance for pool 'xenlab' has dropped and the initially specified number of host failures to tolerate can no longer be guaranteed",
    });
    expect(messages('HA_POOL_DROP_IN_PLAN_EXISTS_FOR')[0]?.[1]).toMatchObject({ body: '0' });
    // Back to a plan: no longer overcommitted.
    await w.call('VM.set_ha_restart_priority', w.byName('VM', 'scratch-1'), '');
    expect(pool()).toMatchObject({ ha_overcommitted: false, ha_plan_exists_for: 1 });
    expect(messages('HA_POOL_OVERCOMMITTED')).toHaveLength(1);
  });

  it('does not block changes when there is no plan at all (ha_plan_exists_for 0)', async () => {
    await w.call('pool.set_ha_host_failures_to_tolerate', poolRef(), 0);
    await w.call('pool.set_ha_host_failures_to_tolerate', poolRef(), 2);
    expect(pool()).toMatchObject({
      ha_host_failures_to_tolerate: 2,
      ha_overcommitted: true,
      ha_plan_exists_for: 1,
    });
  });

  it('maps the deprecated VM.set_ha_always_run onto the restart priority', async () => {
    await w.call('pool.set_ha_host_failures_to_tolerate', poolRef(), 0);
    const batch = w.byName('VM', 'batch-1');
    await w.call('VM.set_ha_always_run', batch, true);
    expect(vm('batch-1')).toMatchObject({ ha_restart_priority: 'restart', ha_always_run: true });
    await w.call('VM.set_ha_always_run', batch, false);
    expect(vm('batch-1')).toMatchObject({ ha_restart_priority: '', ha_always_run: false });
  });
});

describe('enable and disable (xapi_ha.ml, xha_statefile.ml)', () => {
  it('creates the statefile and the redo log on the heartbeat SR and fills in the hosts', async () => {
    await w.call('pool.enable_ha', [nfs()], { timeout: '90' });
    expect(pool()).toMatchObject({ ha_enabled: true, ha_configuration: { timeout: '90' } });
    const [statefile] = pool().ha_statefiles as string[];
    expect(w.get('VDI', statefile ?? '')).toMatchObject({
      name_label: 'Statefile for HA',
      name_description: 'Used for storage heartbeating',
      type: 'ha_statefile',
      virtual_size: 4 * 1024 ** 2,
      sharable: true,
    });
    const redo = w.engine.store.all('VDI').find(([, r]) => r.type === 'redo_log')?.[1];
    expect(redo).toMatchObject({
      name_label: 'Metadata for HA',
      name_description: 'Used for master failover',
    });
    expect(redo?.virtual_size).toBe(951 * 4 * 1024 ** 2);
    for (const n of [1, 2, 3]) {
      const h = w.get('host', host(n));
      expect(h.ha_statefiles).toEqual([statefile]);
      expect([...(h.ha_network_peers as string[])].sort()).toEqual(
        [1, 2, 3].map((k) => w.get('host', host(k)).uuid).sort(),
      );
    }
  });

  it('refuses in xapi order: already on, a host offline, the SR (no PBD everywhere, no offline attach, too small)', async () => {
    await faults.failHost?.(w.ctx, host(3));
    expect(await w.fails('pool.enable_ha', [nfs()], {})).toEqual(['HOST_OFFLINE', host(3)]);
    await faults.recoverHost?.(w.ctx, host(3));
    const iso = w.byName('SR', 'ISO library');
    expect(await w.fails('pool.enable_ha', [iso], {})).toEqual(['SR_OPERATION_NOT_SUPPORTED', iso]);
    setSrFailed(w.engine.store, nfs(), true);
    expect(await w.fails('pool.enable_ha', [nfs()], {})).toEqual(['SR_HAS_NO_PBDS', nfs()]);
    // No SR named and none can hold it.
    expect(await w.fails('pool.enable_ha', [], {})).toEqual(['CANNOT_CREATE_STATE_FILE']);
    setSrFailed(w.engine.store, nfs(), false);
    await w.call('pool.enable_ha', [], {});
    expect(await w.fails('pool.enable_ha', [nfs()], {})).toEqual(['HA_IS_ENABLED']);
  });

  it('needs room for the statefile and a 4 GB redo log', async () => {
    w.close();
    w = await createTestWorld({
      hosts: [{ name: 'a' }, { name: 'b' }],
      sharedStorage: [{ name: 'NFS storage', type: 'nfs', sizeGiB: 3 }],
    });
    expect(await w.fails('pool.enable_ha', [nfs()], {})).toEqual(['SR_SOURCE_SPACE_INSUFFICIENT', nfs()]);
  });

  it('fails on a timeout under 10 s after making the VDIs (xhad timeouts), as xapi does', async () => {
    expect(await w.fails('pool.enable_ha', [nfs()], { timeout: '5' })).toEqual([
      'INTERNAL_ERROR',
      'Failure("constraint violation: timeout >= 10")',
    ]);
    expect(pool().ha_enabled).toBe(false);
    await w.call('pool.enable_ha', [nfs()], { timeout: '30' });
    expect(w.engine.store.all('VDI').filter(([, r]) => r.type === 'ha_statefile')).toHaveLength(1);
  });
});

describe('losing a host with HA (restart_auto_run_vms)', () => {
  beforeEach(async () => {
    await labPool();
    await w.call('VM.set_order', w.byName('VM', 'db-1'), 1);
    await w.call('VM.set_order', w.byName('VM', 'web-1'), 2);
    await w.call('pool.enable_ha', [nfs()], {});
    await w.call('pool.set_ha_host_failures_to_tolerate', poolRef(), 1);
  });

  it('fences the dead host, restarts protected VMs by plan, tries best-effort ones once, leaves the rest', async () => {
    await faults.failHost?.(w.ctx, host(2));
    expect(live(host(2))).toBe(false);
    const failed = messages('HA_HOST_FAILED');
    expect(failed.map(([, m]) => m.body)).toEqual(["Server 'xcp-ng-02' has failed"]);
    expect(failed[0]?.[1]).toMatchObject({ priority: 3, cls: 'Host', obj_uuid: w.get('host', host(2)).uuid });
    expect(vm('db-1')).toMatchObject({ power_state: 'Running', resident_on: host(3), ha_always_run: true });
    expect(vm('web-1')).toMatchObject({ power_state: 'Running', resident_on: host(1) });
    // cache-1 (8 GiB) fits on neither survivor: one try, then left halted.
    expect(vm('cache-1')).toMatchObject({ power_state: 'Halted', resident_on: 'OpaqueRef:NULL' });
    expect(messages('HA_PROTECTED_VM_RESTART_FAILED')).toHaveLength(0);
    // After a failover the pool can no longer survive another one.
    expect(pool()).toMatchObject({ ha_overcommitted: true, ha_plan_exists_for: 0 });
    // The host comes back empty; HA says it was fenced; nothing moves back; best-effort stays down (xapi 24.x).
    await faults.recoverHost?.(w.ctx, host(2));
    expect(live(host(2))).toBe(true);
    expect(w.get('host', host(2)).enabled).toBe(true);
    expect(messages('HA_HOST_WAS_FENCED').map(([, m]) => [m.obj_uuid, m.priority, m.body])).toEqual([
      [w.get('host', host(2)).uuid, 4, ''],
    ]);
    expect(vm('db-1').resident_on).toBe(host(3));
    expect(vm('cache-1').power_state).toBe('Halted');
    expect(pool()).toMatchObject({ ha_overcommitted: false, ha_plan_exists_for: 1 });
  });

  it('alerts once for a protected VM it cannot restart, and restarts it when a host comes back', async () => {
    await faults.failHost?.(w.ctx, host(2));
    await faults.failHost?.(w.ctx, host(3));
    // db-1 and web-2 need 12 GiB; xcp-ng-01 has 4 left after web-1.
    const down = ['db-1', 'web-1', 'web-2'].filter((n) => vm(n).power_state === 'Halted');
    expect(down.length).toBeGreaterThan(0);
    const alerts = messages('HA_PROTECTED_VM_RESTART_FAILED');
    expect(alerts.map(([, m]) => m.obj_uuid).sort()).toEqual(down.map((n) => vm(n).uuid).sort());
    expect(alerts[0]?.[1]).toMatchObject({ priority: 2, cls: 'VM', body: '' });
    for (const n of down) expect(vm(n).ha_always_run).toBe(true);
    await faults.recoverHost?.(w.ctx, host(2));
    for (const n of ['db-1', 'web-1', 'web-2']) expect(vm(n).power_state).toBe('Running');
    expect(messages('HA_PROTECTED_VM_RESTART_FAILED')).toHaveLength(alerts.length);
  });

  it('elects a new coordinator when the coordinator dies', async () => {
    await faults.failHost?.(w.ctx, host(1));
    expect(pool().master).not.toBe(host(1));
    expect([host(2), host(3)]).toContain(pool().master);
    expect(vm('scratch-1').power_state).toBe('Halted');
  });

  it('does not restart a protected VM someone shut down', async () => {
    await w.call('VM.clean_shutdown', w.byName('VM', 'web-1'));
    await faults.failHost?.(w.ctx, host(2));
    expect(vm('web-1').power_state).toBe('Halted');
    expect(vm('db-1').power_state).toBe('Running');
  });

  it('powers a dead host on only with a power-on mode, and it comes back empty', async () => {
    await faults.failHost?.(w.ctx, host(2));
    expect(await w.fails('host.power_on', host(2))).toEqual(['HOST_POWER_ON_MODE_DISABLED']);
    await w.call('host.set_power_on_mode', host(2), 'wake-on-lan', {});
    await w.call('host.power_on', host(2));
    expect(live(host(2))).toBe(true);
    expect(w.get('host', host(2)).resident_VMs).toHaveLength(1); // its control domain
  });
});

describe('network partitions', () => {
  it('with HA, the majority survives and the minority fences, even the coordinator; healing brings it back', async () => {
    await labPool();
    await w.call('pool.enable_ha', [nfs()], {});
    await partitionHosts(w.ctx, [[host(1)], [host(2), host(3)]]);
    expect(live(host(1))).toBe(false);
    expect(live(host(2))).toBe(true);
    expect(messages('HA_HOST_FAILED').map(([, m]) => m.body)).toEqual(["Server 'xcp-ng-01' has failed"]);
    expect([host(2), host(3)]).toContain(pool().master);
    // scratch-1 was not protected: it died with its host.
    expect(vm('scratch-1').power_state).toBe('Halted');
    expect(w.get('host', host(2)).ha_network_peers).toHaveLength(2);
    expect(w.get('host', host(1)).ha_network_peers).toEqual([]);
    // Powering on a host that is up (fenced, rebooted, cut off) changes nothing.
    await faults.recoverHost?.(w.ctx, host(1));
    expect(live(host(1))).toBe(false);
    await healPartition(w.ctx);
    expect(live(host(1))).toBe(true);
    expect(messages('HA_HOST_WAS_FENCED')).toHaveLength(1);
    expect(w.get('host', host(1)).ha_network_peers).toHaveLength(3);
  });

  it('with HA, on a tie the half holding the lowest host uuid survives', async () => {
    w.close();
    w = await createTestWorld({
      seed: 'tie',
      hosts: [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }],
      sharedStorage: [{ name: 'NFS storage', type: 'nfs' }],
    });
    await w.call('pool.enable_ha', [nfs()], {});
    const hosts = w.engine.store.all('host').map(([h, r]) => [h, r.uuid as string] as const);
    const lowest = [...hosts].sort((x, y) => x[1].localeCompare(y[1]))[0]?.[0] ?? '';
    const others = hosts.map(([h]) => h).filter((h) => h !== lowest);
    const withLowest = [lowest, others[0] ?? ''];
    const without = others.slice(1);
    await partitionHosts(w.ctx, [without, withLowest]);
    for (const h of withLowest) expect(live(h)).toBe(true);
    for (const h of without) expect(live(h)).toBe(false);
  });

  it('with HA, losing the statefile everywhere keeps every host while they all see each other (survival rule 2)', async () => {
    await w.call('pool.enable_ha', [nfs()], {});
    setSrFailed(w.engine.store, nfs(), true);
    await healPartition(w.ctx); // a monitor pass
    for (const n of [1, 2, 3]) expect(live(host(n))).toBe(true);
    expect(messages('HA_STATEFILE_LOST').map(([, m]) => m.body)).toEqual([
      'All live servers have lost access to the HA statefile',
    ]);
    // Then any split fences everyone: no statefile to settle it.
    await partitionHosts(w.ctx, [[host(3)]]);
    for (const n of [1, 2, 3]) expect(live(host(n))).toBe(false);
  });

  it('without HA, the coordinator loses sight of the far side; its VMs go on running, nothing restarts', async () => {
    await labPool();
    await partitionHosts(w.ctx, [[host(1), host(2)], [host(3)]]);
    expect(live(host(3))).toBe(false);
    expect(vm('web-2')).toMatchObject({ power_state: 'Running', resident_on: host(3) });
    expect(messages('HA_HOST_FAILED')).toHaveLength(0);
    // Powering on a host that is up does nothing to its VMs.
    await faults.recoverHost?.(w.ctx, host(3));
    expect(vm('web-2').power_state).toBe('Running');
    await healPartition(w.ctx);
    expect(live(host(3))).toBe(true);
    expect(vm('web-2')).toMatchObject({ power_state: 'Running', resident_on: host(3) });
  });

  it('without HA, a coordinator cut off alone sees every member dead', async () => {
    await partitionHosts(w.ctx, [[host(1)], [host(2), host(3)]]);
    expect([1, 2, 3].map((n) => live(host(n)))).toEqual([true, false, false]);
    expect(await w.fails('pool.enable_ha', [nfs()], {})).toEqual(['HOST_OFFLINE', host(2)]);
  });

  it('refuses a host in two groups', async () => {
    await expect(partitionHosts(w.ctx, [[host(1)], [host(1), host(2)]])).rejects.toMatchObject({
      code: 'INVALID_VALUE',
    });
  });
});
