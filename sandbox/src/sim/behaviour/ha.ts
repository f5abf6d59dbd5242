/**
 * Pool high availability, the API side (ocaml/xapi/xapi_ha.ml `enable`/`disable`, xha_statefile.ml,
 * xha_metadata_vdi.ml, xapi_pool.ml `ha_compute_*`/`set_ha_host_failures_to_tolerate`, xapi_vm.ml
 * `set_ha_restart_priority`, message_forwarding.ml `check_vm_preserves_ha_plan`). Planning is in ha-plan.ts, the
 * pool's plan status and overcommit protection in ha-status.ts, losing and getting back hosts in ha-failover.ts.
 * @module
 */
import type { SimBehaviour, SimContext, SimStore } from '../contract.js';
import { failHost, healPartition, partitionHosts, recoverHost, haMonitorPass } from './ha-failover.js';
import { maxHostFailures, planForFailures } from './ha-plan.js';
import { assertPreservesPlan, refreshHaPlan, rememberContext, updatePoolStatus } from './ha-status.js';
import { hostHooks } from './host.js';
import { createVdi } from './storage.js';
import {
  MiB,
  arg,
  bool,
  fail,
  hostLive,
  isNull,
  map,
  num,
  pbdsOf,
  ref,
  str,
  thePool,
  vdisOf,
} from './util.js';
import { vmHooks } from './vm.js';
import { refreshVm } from './vm-lifecycle.js';

export { failHost, healPartition, partitionHosts, recoverHost };
export { refreshHaPlan };

/** Constants.ha_valid_restart_priorities. */
const PRIORITIES = new Set(['restart', 'best-effort', '']);

/** xha_statefile.ml `minimum_statefile_size`: a 4 KiB global section and 4 KiB for each of up to 64 hosts. */
const STATEFILE_SIZE = 4096 + 64 * 4096;
/** redo_log.ml `minimum_vdi_size`: about 4 GB (in 4 MiB units, less room for the statefile). */
const REDO_LOG_SIZE = (Math.floor(4_000_000_000 / (4 * MiB)) - 2) * 4 * MiB;
const roundTo4MiB = (n: number): number => Math.ceil(n / (4 * MiB)) * 4 * MiB;
/** xha_statefile.ml `minimum_sr_size`: room for both, each rounded up to 4 MiB (SM's smallest VDI). */
const MINIMUM_SR_SIZE = roundTo4MiB(STATEFILE_SIZE) + roundTo4MiB(REDO_LOG_SIZE);

/** An existing VDI of `type` at least `size` big on the SR (xha_statefile.ml `ha_fits_sr` reuses one). */
function existingVdi(store: SimStore, sr: string, type: string, size: number): string | undefined {
  return vdisOf(store, sr).find((v) => {
    const r = store.find('VDI', v);
    return str(r, 'type') === type && num(r, 'virtual_size') >= size;
  });
}

const srFree = (store: SimStore, sr: string): number => {
  const r = store.get('SR', sr);
  return num(r, 'physical_size') - num(r, 'physical_utilisation');
};

/**
 * Why the SR cannot hold the statefile (xha_statefile.ml `check_sr_can_host_statefile`), or undefined: a plugged PBD
 * on every host (SR_HAS_NO_PBDS — the same error when one is unplugged), an SM that can attach VDIs offline (not ISO
 * or removable media: SR_OPERATION_NOT_SUPPORTED), room for the statefile and redo log unless one can be reused
 * (SR_SOURCE_SPACE_INSUFFICIENT). With `redoLog`, the redo log must fit too (`assert_sr_can_host_statefile`).
 */
function statefileProblem(store: SimStore, sr: string, redoLog: boolean): string[] | undefined {
  const rec = store.get('SR', sr);
  const pbds = pbdsOf(store, sr).map((p) => store.get('PBD', p));
  const hosts = new Set(pbds.map((p) => ref(p, 'host')));
  if (hosts.size < store.all('host').length) return ['SR_HAS_NO_PBDS', sr];
  if (pbds.some((p) => !bool(p, 'currently_attached'))) return ['SR_HAS_NO_PBDS', sr];
  if (str(rec, 'content_type') === 'iso' || ['iso', 'udev'].includes(str(rec, 'type')))
    return ['SR_OPERATION_NOT_SUPPORTED', sr];
  const fits = (type: string, size: number): boolean =>
    existingVdi(store, sr, type, size) !== undefined || srFree(store, sr) >= MINIMUM_SR_SIZE;
  if (!fits('ha_statefile', STATEFILE_SIZE)) return ['SR_SOURCE_SPACE_INSUFFICIENT', sr];
  if (redoLog && !fits('redo_log', REDO_LOG_SIZE)) return ['SR_SOURCE_SPACE_INSUFFICIENT', sr];
  return undefined;
}

function failWith(problem: readonly string[]): never {
  fail(problem[0] ?? 'INTERNAL_ERROR', ...problem.slice(1));
}

/** xapi_ha.ml `Timeouts.get_base_t` and `derive`: `ha-config:timeout`, else the pool's default, else 60; ≥ 10. */
function baseTimeout(store: SimStore, config: Record<string, string>): number {
  const given = config.timeout ?? map(thePool(store)[1], 'other_config').default_ha_timeout;
  if (given === undefined) return 60;
  if (!/^-?\d+$/.test(given.trim())) fail('INTERNAL_ERROR', 'Failure("int_of_string")');
  const t = Number(given);
  if (t < 10) fail('INTERNAL_ERROR', 'Failure("constraint violation: timeout >= 10")');
  return t;
}

async function enableHa(ctx: SimContext, srs: string[], config: Record<string, string>): Promise<void> {
  const { store } = ctx;
  rememberContext(ctx);
  const [poolRef, pool] = thePool(store);
  if (bool(pool, 'ha_enabled')) fail('HA_IS_ENABLED');
  const unplugged = store
    .all('PIF')
    .filter(([, p]) => bool(p, 'disallow_unplug') && !bool(p, 'currently_attached'))
    .map(([r]) => r);
  if (unplugged.length > 0) fail('REQUIRED_PIF_IS_UNPLUGGED', ...unplugged);
  // A warning, not an error: PIFs with an IP that could be unplugged (storage NICs not marked disallow_unplug).
  const loose = store
    .all('PIF')
    .filter(
      ([, p]) =>
        str(p, 'ip_configuration_mode') !== 'None' &&
        str(p, 'ip_configuration_mode') !== '' &&
        isNull(ref(p, 'bond_slave_of')) &&
        !bool(p, 'disallow_unplug') &&
        !bool(p, 'management'),
    );
  if (loose.length > 0) {
    const lines = loose.map(
      ([, p]) =>
        `${str(store.find('host', ref(p, 'host')), 'name_label')}: ${str(p, 'device')} (uuid: ${str(p, 'uuid')})`,
    );
    ctx.message(
      'IP_CONFIGURED_PIF_CAN_UNPLUG',
      3,
      'Pool',
      str(pool, 'uuid'),
      [
        'A possible network anomaly was found. The following hosts possibly have storage PIFs that are not dedicated:',
        ...lines,
      ].join('\n'),
    );
  }
  // "Fail if any host is offline. Otherwise we end up with an Xha_errno(bootjoin_timeout)"
  for (const [h] of store.all('host')) if (!hostLive(store, h)) fail('HOST_OFFLINE', h);
  // Only the first SR is used ("the xHA component only handles one"); none given: the first that can host it.
  const sr =
    srs.length > 0
      ? srs[0]
      : store
          .all('SR')
          .map(([r]) => r)
          .find((r) => statefileProblem(store, r, true) === undefined);
  if (sr === undefined) fail('CANNOT_CREATE_STATE_FILE');
  store.get('SR', sr);
  const problem = statefileProblem(store, sr, false);
  if (problem) failWith(problem);
  const statefile =
    existingVdi(store, sr, 'ha_statefile', STATEFILE_SIZE) ??
    createVdi(ctx, sr, {
      name_label: 'Statefile for HA',
      name_description: 'Used for storage heartbeating',
      type: 'ha_statefile',
      sharable: true,
      sm_config: { type: 'raw' },
      // SM makes no VDI smaller than 4 MiB.
      virtual_size: roundTo4MiB(STATEFILE_SIZE),
    });
  // The metadata VDI (the redo log xapi keeps the pool database in, for a new coordinator).
  if (existingVdi(store, sr, 'redo_log', REDO_LOG_SIZE) === undefined)
    createVdi(ctx, sr, {
      name_label: 'Metadata for HA',
      name_description: 'Used for master failover',
      type: 'redo_log',
      sharable: true,
      sm_config: { type: 'raw' },
      virtual_size: REDO_LOG_SIZE,
    });
  store.update('pool', poolRef, {
    ha_statefiles: [statefile],
    ha_configuration: config,
    ha_plan_exists_for: 0,
  });
  updatePoolStatus(store);
  // Writing xhad's configuration derives its timeouts; a bad one fails here, leaving the VDIs for the next try.
  baseTimeout(store, config);
  await ctx.clock.work('pool.enable_ha', ctx.task);
  for (const [h] of store.all('host')) store.update('host', h, { ha_statefiles: [statefile] });
  store.update('pool', poolRef, { ha_enabled: true });
  for (const [vm, r] of store.all('VM')) {
    if (str(r, 'ha_restart_priority') === 'restart' && str(r, 'power_state') === 'Running')
      store.update('VM', vm, { ha_always_run: true });
  }
  refreshPool(store, poolRef);
  // The monitor's first pass: the liveset, the hosts' HA fields, offline protected VMs.
  await haMonitorPass(ctx);
}

function disableHa(ctx: SimContext): void {
  const { store } = ctx;
  const [poolRef, pool] = thePool(store);
  if (!bool(pool, 'ha_enabled')) fail('HA_NOT_ENABLED');
  // xapi_ha.ml `disable_internal`: the statefile and the metadata VDI are detached but kept (a later enable reuses
  // them: "it expects to see a poisoned VDI"); pool.ha_statefiles keeps naming it until then.
  store.update('pool', poolRef, { ha_plan_exists_for: 0, ha_enabled: false });
  refreshPool(store, poolRef);
}

/** Keeps pool.allowed_operations true. */
export function refreshPool(store: SimStore, poolRef: string): void {
  const pool = store.find('pool', poolRef);
  if (!pool) return;
  const busy = Object.keys(map(pool, 'current_operations')).length > 0;
  const ops = busy
    ? []
    : bool(pool, 'ha_enabled')
      ? ['ha_disable', 'eject']
      : ['ha_enable', 'designate_new_master', 'eject'];
  store.update('pool', poolRef, { allowed_operations: ops });
}

/** xapi_vm.ml `set_ha_restart_priority`. */
function setRestartPriority(ctx: SimContext, vm: string, value: string): void {
  const { store } = ctx;
  if (!PRIORITIES.has(value)) fail('INVALID_VALUE', 'ha_restart_priority', value);
  const rec = store.get('VM', vm);
  const current = str(rec, 'ha_restart_priority');
  if (current !== 'restart' && value === 'restart' && str(rec, 'power_state') !== 'Halted')
    assertPreservesPlan(store, { newVms: [vm] });
  if (current === value) return;
  // A running VM is protected (or not) at once: ha_always_run follows the priority.
  const running = str(rec, 'power_state') === 'Running';
  store.update('VM', vm, {
    ha_restart_priority: value,
    ...(running ? { ha_always_run: value === 'restart' } : {}),
  });
  refreshHaPlan(store);
  refreshVm(store, vm);
}

/** VM.set_order / set_start_delay / set_shutdown_delay (xapi_vm.ml): non-negative. */
function nonNegative(field: string) {
  return (ctx: SimContext, args: readonly unknown[]): void => {
    const vm = arg.str(args, 0);
    const value = arg.num(args, 1);
    ctx.store.get('VM', vm);
    if (!Number.isInteger(value) || value < 0)
      fail('INVALID_VALUE', `${field} must be non-negative`, String(value));
    ctx.store.update('VM', vm, { [field]: value });
  };
}

const handlers: Record<string, (ctx: SimContext, args: readonly unknown[]) => unknown> = {
  'pool.enable_ha': (ctx, args) => enableHa(ctx, arg.strings(args, 0), arg.map(args, 1)),
  'pool.disable_ha': (ctx) => {
    disableHa(ctx);
  },
  'pool.ha_compute_max_host_failures_to_tolerate': (ctx) => {
    // xapi_pool.ml: also refreshes the pool's fields while HA is on.
    const { store } = ctx;
    rememberContext(ctx);
    const n = maxHostFailures(store);
    const [poolRef, pool] = thePool(store);
    if (bool(pool, 'ha_enabled')) {
      const wanted = num(pool, 'ha_host_failures_to_tolerate');
      if (bool(pool, 'ha_overcommitted') !== wanted > n)
        store.update('pool', poolRef, { ha_overcommitted: wanted > n });
      const current = num(pool, 'ha_plan_exists_for');
      if (current !== n) {
        store.update('pool', poolRef, { ha_plan_exists_for: Math.min(wanted, n) });
        if (n < current)
          ctx.message('HA_POOL_DROP_IN_PLAN_EXISTS_FOR', 3, 'Pool', str(pool, 'uuid'), String(n));
      }
    }
    return n;
  },
  'pool.ha_compute_hypothetical_max_host_failures_to_tolerate': (ctx, args) => {
    // Only the VMs the configuration marks `restart` count as protected.
    const config = arg.map(args, 0);
    for (const p of Object.values(config))
      if (!PRIORITIES.has(p)) fail('INVALID_VALUE', 'ha_restart_priority', p);
    const protect = Object.entries(config)
      .filter(([, p]) => p === 'restart')
      .map(([vm]) => vm);
    for (const vm of protect) ctx.store.get('VM', vm);
    return maxHostFailures(ctx.store, { protect });
  },
  'pool.ha_failover_plan_exists': (ctx, args) => planForFailures(ctx.store, arg.num(args, 0)) === 'all',
  'pool.set_ha_host_failures_to_tolerate': (ctx, args) => {
    const { store } = ctx;
    rememberContext(ctx);
    const poolRef = arg.str(args, 0);
    const value = arg.num(args, 1);
    store.get('pool', poolRef);
    if (!Number.isInteger(value) || value < 0)
      fail('INVALID_VALUE', 'ha_host_failures_to_tolerate', String(value));
    // "Don't block changes if we have no plan at all"
    if (num(thePool(store)[1], 'ha_plan_exists_for') > 0) assertPreservesPlan(store, { numFailures: value });
    store.update('pool', poolRef, { ha_host_failures_to_tolerate: value });
    updatePoolStatus(store);
  },
  'VM.set_ha_restart_priority': (ctx, args) => {
    rememberContext(ctx);
    setRestartPriority(ctx, arg.str(args, 0), arg.str(args, 1));
  },
  // Deprecated since Boston: true means priority `restart`, false no protection (xapi_vm.ml `set_ha_always_run`).
  'VM.set_ha_always_run': (ctx, args) => {
    rememberContext(ctx);
    setRestartPriority(ctx, arg.str(args, 0), arg.bool(args, 1) ? 'restart' : '');
  },
  'VM.set_order': nonNegative('order'),
  'VM.set_start_delay': nonNegative('start_delay'),
  'VM.set_shutdown_delay': nonNegative('shutdown_delay'),
};

/** Installs the HA checks into the VM power-state machine and the host operations. */
export function installHaHooks(): void {
  // message_forwarding.ml `check_vm_preserves_ha_plan`, on every start, resume and migration with HA on: a VM
  // about to become protected is planned as a new one, any other as memory arriving on its host.
  vmHooks.beforeStart = (ctx, vm, host) => {
    const rec = ctx.store.get('VM', vm);
    if (str(rec, 'ha_restart_priority') === 'restart' && !bool(rec, 'ha_always_run'))
      assertPreservesPlan(ctx.store, { newVms: [vm] });
    else assertPreservesPlan(ctx.store, { arriving: [[host, vm]] });
  };
  vmHooks.afterStateChange = (store) => {
    refreshHaPlan(store);
  };
  // Host.disable and Host.evacuate: "Block call if this would break our VM restart plan".
  hostHooks.beforeDisable = (ctx, host) => {
    assertPreservesPlan(ctx.store, { hostsToDisable: [host] });
  };
  hostHooks.powerOn = (ctx, host) => recoverHost(ctx, host);
}

/** HA behaviour. */
export const haBehaviour: SimBehaviour = {
  handlers,
  afterChange(ctx, cls, r) {
    if (cls === 'pool') refreshPool(ctx.store, r);
  },
};
