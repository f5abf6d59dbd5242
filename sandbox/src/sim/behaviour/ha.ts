/**
 * Pool high availability (ocaml/xapi/xapi_ha.ml, xapi_ha_vm_failover.ml; doc/content/toolstack/features/HA):
 * enabling with a heartbeat SR, the failover plan for `ha_host_failures_to_tolerate` host failures, the checks that
 * refuse changes breaking it, and the reaction to a dead host (protected VMs restarted on survivors, a new
 * coordinator elected when the master died).
 */
import type { SimBehaviour, SimContext, SimStore } from '../contract.js';
import { XapiFailure } from '../contract.js';
import { refreshHost } from './host.js';
import { chooseHost, hostFreeMemory, hostSeesSr, vmReservedMemory, vmSrs } from './placement.js';
import { createVdi, destroyVdi } from './storage.js';
import { MiB, arg, bool, fail, hostLive, map, num, pbdsOf, ref, residentVms, str, thePool } from './util.js';
import { bootDomain, haltDomain, vmHooks } from './vm.js';
import { refreshVm } from './vm-lifecycle.js';

const PRIORITIES = new Set(['restart', 'best-effort', '']);
/** Above this many failure combinations the plan check assumes the largest hosts fail (binpack.ml does the same). */
const MAX_COMBINATIONS = 5000;

/** Protected VMs: restart priority `restart`, running (xapi_ha_vm_failover.ml `all_protected_vms`). */
function protectedVms(store: SimStore, extra?: { vm: string; host: string }): [string, string][] {
  const out: [string, string][] = [];
  for (const [vm, r] of store.all('VM')) {
    if (bool(r, 'is_a_template') || bool(r, 'is_control_domain')) continue;
    if (str(r, 'ha_restart_priority') !== 'restart' && vm !== extra?.vm) continue;
    const host = vm === extra?.vm ? extra.host : ref(r, 'resident_on');
    if (vm !== extra?.vm && str(r, 'power_state') !== 'Running' && str(r, 'power_state') !== 'Paused')
      continue;
    out.push([vm, host]);
  }
  return out;
}

function combinations<T>(items: readonly T[], k: number, limit: number): T[][] | undefined {
  const out: T[][] = [];
  const rec = (start: number, acc: T[]): boolean => {
    if (acc.length === k) {
      out.push([...acc]);
      return out.length <= limit;
    }
    for (let i = start; i < items.length; i++) {
      const item = items[i];
      if (item === undefined) continue;
      acc.push(item);
      if (!rec(i + 1, acc)) return false;
      acc.pop();
    }
    return true;
  };
  return rec(0, []) ? out : undefined;
}

/** Whether every protected VM could be restarted if any `k` live hosts failed. */
export function planSurvives(store: SimStore, k: number, extra?: { vm: string; host: string }): boolean {
  const live = store
    .all('host')
    .map(([h]) => h)
    .filter((h) => hostLive(store, h));
  if (k === 0) return true;
  if (k >= live.length) return false;
  const prot = protectedVms(store, extra);
  const load = (h: string): number =>
    prot.filter(([, on]) => on === h).reduce((s, [vm]) => s + vmReservedMemory(store.get('VM', vm)), 0);
  const sets = combinations(live, k, MAX_COMBINATIONS) ?? [
    [...live].sort((a, b) => load(b) - load(a)).slice(0, k),
  ];
  for (const failed of sets) {
    const survivors = live.filter((h) => !failed.includes(h));
    const free = new Map(
      survivors.map((h) => [
        h,
        hostFreeMemory(store, h) - (extra?.host === h ? vmReservedMemory(store.get('VM', extra.vm)) : 0),
      ]),
    );
    const victims = prot
      .filter(([, on]) => failed.includes(on))
      .map(([vm]) => vm)
      .sort((a, b) => vmReservedMemory(store.get('VM', b)) - vmReservedMemory(store.get('VM', a)));
    for (const vm of victims) {
      const need = vmReservedMemory(store.get('VM', vm));
      const srs = vmSrs(store, vm);
      const target = survivors.find(
        (h) => (free.get(h) ?? 0) >= need && srs.every((sr) => hostSeesSr(store, h, sr)),
      );
      if (target === undefined) return false;
      free.set(target, (free.get(target) ?? 0) - need);
    }
  }
  return true;
}

/** The largest number of host failures the plan survives (pool.ha_compute_max_host_failures_to_tolerate). */
export function maxFailuresToTolerate(store: SimStore, extra?: { vm: string; host: string }): number {
  const live = store.all('host').filter(([h]) => hostLive(store, h)).length;
  let k = 0;
  while (k + 1 < live && planSurvives(store, k + 1, extra)) k++;
  return k;
}

/** Recomputes pool.ha_plan_exists_for / ha_overcommitted after anything that moves load. */
export function refreshHaPlan(store: SimStore): void {
  const pool = store.all('pool')[0];
  if (!pool || !bool(pool[1], 'ha_enabled')) return;
  const ntol = num(pool[1], 'ha_host_failures_to_tolerate');
  const max = maxFailuresToTolerate(store);
  const planFor = Math.min(ntol, max);
  if (num(pool[1], 'ha_plan_exists_for') !== planFor || bool(pool[1], 'ha_overcommitted') !== max < ntol) {
    store.update('pool', pool[0], { ha_plan_exists_for: planFor, ha_overcommitted: max < ntol });
  }
}

/**
 * Refuses a change that would leave no plan for `ha_host_failures_to_tolerate` failures
 * (xapi_ha_vm_failover.ml `assert_configuration_change_preserves_ha_plan`).
 */
export function assertPreservesPlan(
  store: SimStore,
  change: { extra?: { vm: string; host: string }; failures?: number },
): void {
  const [, pool] = thePool(store);
  if (!bool(pool, 'ha_enabled') || bool(pool, 'ha_allow_overcommit')) return;
  // Only block when a plan exists now and would evaporate: no plan now "cannot get worse" (and
  // HA_NO_PLAN is never raised by current xapi).
  const planned = num(pool, 'ha_plan_exists_for');
  if (!planSurvives(store, planned)) return;
  if (!planSurvives(store, change.failures ?? planned, change.extra))
    fail('HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN');
}

/**
 * Why an SR cannot hold the HA statefile, or undefined (xha_statefile.ml): every host needs a plugged PBD to it
 * (a local SR of a multi-host pool fails SR_NO_PBDS), its SM must attach VDIs offline (not ISO or DVD drives),
 * and the statefile and redo log must fit.
 */
function statefileProblem(store: SimStore, sr: string): string[] | undefined {
  const rec = store.get('SR', sr);
  const pbds = pbdsOf(store, sr).map((p) => store.get('PBD', p));
  const hosts = new Set(pbds.map((p) => ref(p, 'host')));
  if (store.all('host').some(([h]) => !hosts.has(h))) return ['SR_NO_PBDS', sr];
  if (pbds.some((p) => !bool(p, 'currently_attached'))) return ['SR_NO_PBDS', sr];
  if (str(rec, 'content_type') === 'iso' || str(rec, 'type') === 'udev' || str(rec, 'type') === 'iso') {
    return ['SR_OPERATION_NOT_SUPPORTED', sr];
  }
  const free = num(rec, 'physical_size') - num(rec, 'physical_utilisation');
  if (free < 4 * MiB + 256 * MiB) return ['SR_SOURCE_SPACE_INSUFFICIENT', sr];
  return undefined;
}

async function enableHa(ctx: SimContext, srs: string[], config: Record<string, string>): Promise<void> {
  const { store } = ctx;
  const [poolRef, pool] = thePool(store);
  if (bool(pool, 'ha_enabled')) fail('HA_IS_ENABLED');
  // xapi_ha.ml `enable` order: unplugged must-stay-plugged PIFs, offline hosts, then the statefile SR
  // (Xha_statefile.check_sr_can_host_statefile). (actual) HA_TOO_FEW_HOSTS is defined but never raised.
  const hosts = store.all('host').map(([h]) => h);
  const unplugged = store
    .all('PIF')
    .filter(([, p]) => bool(p, 'disallow_unplug') && !bool(p, 'currently_attached'))
    .map(([r]) => r);
  if (unplugged.length > 0) fail('REQUIRED_PIF_IS_UNPLUGGED', ...unplugged);
  for (const h of hosts) if (!hostLive(store, h)) fail('HOST_OFFLINE', h);
  for (const s of srs) store.get('SR', s);
  const candidates =
    srs.length > 0
      ? srs
      : store
          .all('SR')
          .map(([r]) => r)
          .filter((r) => statefileProblem(store, r) === undefined);
  const sr = candidates[0];
  if (sr === undefined) fail('CANNOT_CREATE_STATE_FILE');
  const problem = statefileProblem(store, sr);
  if (problem) fail(problem[0] ?? 'INTERNAL_ERROR', ...problem.slice(1));
  const timeout = config.timeout === undefined ? 60 : Number(config.timeout);
  await ctx.clock.work('pool.enable_ha', ctx.task);
  const statefile = createVdi(ctx, sr, {
    name_label: 'Statefile for HA',
    name_description: 'Used for storage heartbeating',
    type: 'ha_statefile',
    virtual_size: 4 * MiB,
  });
  createVdi(ctx, sr, {
    name_label: 'Metadata for HA',
    name_description: 'Used for master failover',
    type: 'redo_log',
    virtual_size: 256 * MiB,
  });
  const statefileUuid = str(store.get('VDI', statefile), 'uuid');
  store.update('pool', poolRef, {
    ha_enabled: true,
    ha_configuration: { ...config, timeout: String(timeout) },
    ha_statefiles: [statefileUuid],
  });
  for (const h of hosts) {
    store.update('host', h, {
      ha_statefiles: [statefileUuid],
      ha_network_peers: hosts.filter((x) => x !== h).map((x) => str(store.get('host', x), 'uuid')),
    });
  }
  for (const [vm, r] of store.all('VM')) {
    if (str(r, 'ha_restart_priority') === 'restart' && str(r, 'power_state') === 'Running') {
      store.update('VM', vm, { ha_always_run: true });
    }
  }
  // xapi leaves ha_host_failures_to_tolerate as it was (XenCenter's wizard sets it; `xe pool-param-set` here).
  refreshHaPlan(store);
  refreshPool(store, poolRef);
}

function disableHa(ctx: SimContext): void {
  const { store } = ctx;
  const [poolRef, pool] = thePool(store);
  if (!bool(pool, 'ha_enabled')) fail('HA_NOT_ENABLED');
  // The statefile and the redo log are found by type, as xapi's Xha_statefile.list_existing_statefiles does.
  for (const [vdi, r] of store.all('VDI')) {
    if (str(r, 'type') === 'ha_statefile' || str(r, 'type') === 'redo_log') destroyVdi(store, vdi);
  }
  store.update('pool', poolRef, {
    ha_enabled: false,
    ha_statefiles: [],
    ha_plan_exists_for: 0,
    ha_overcommitted: false,
  });
  for (const [h] of store.all('host')) store.update('host', h, { ha_statefiles: [], ha_network_peers: [] });
  for (const [vm, r] of store.all('VM'))
    if (bool(r, 'ha_always_run')) store.update('VM', vm, { ha_always_run: false });
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

/**
 * A host dies (control API). Its metrics go not-live. Without HA xapi cannot know the guests died: they stay
 * Running on the dead host until `VM.power_state_reset`. With HA, survivors fence it, elect a new coordinator if
 * needed and restart protected VMs by `order` (then `start_delay`), best-effort ones once if there is room.
 */
export async function failHost(ctx: SimContext, host: string): Promise<void> {
  const { store } = ctx;
  const h = store.get('host', host);
  const m = ref(h, 'metrics');
  if (store.find('host_metrics', m))
    store.update('host_metrics', m, { live: false, last_updated: ctx.clock.now() });
  refreshHost(store, host);
  const [poolRef, pool] = thePool(store);
  if (!bool(pool, 'ha_enabled')) return;
  await ctx.clock.work('HA.failover', undefined);
  ctx.message('HA_HOST_FAILED', 3, 'Host', str(h, 'uuid'), `Server '${str(h, 'name_label')}' has failed.`);
  if (ref(pool, 'master') === host) {
    const next = store.all('host').find(([x]) => x !== host && hostLive(store, x));
    if (next) {
      store.update('pool', poolRef, { master: next[0] });
      ctx.message(
        'HA_HOST_WAS_FENCED',
        3,
        'Host',
        str(h, 'uuid'),
        `The pool coordinator failed; ${str(next[1], 'name_label')} is the new coordinator.`,
      );
    }
  }
  const victims = residentVms(store, host).filter((vm) => !bool(store.find('VM', vm), 'is_control_domain'));
  for (const vm of victims) haltDomain(ctx, vm);
  const byOrder = (a: string, b: string): number => {
    const ra = store.get('VM', a);
    const rb = store.get('VM', b);
    return num(ra, 'order') - num(rb, 'order') || num(ra, 'start_delay') - num(rb, 'start_delay');
  };
  const restart = victims
    .filter((vm) => str(store.get('VM', vm), 'ha_restart_priority') === 'restart')
    .sort(byOrder);
  const bestEffort = victims
    .filter((vm) => str(store.get('VM', vm), 'ha_restart_priority') === 'best-effort')
    .sort(byOrder);
  for (const vm of restart) {
    try {
      const target = chooseHost(store, vm, [host]);
      bootDomain(ctx, vm, target, false);
      store.update('VM', vm, { ha_always_run: true });
    } catch (e) {
      const detail = e instanceof XapiFailure ? `${e.code} ${e.params.join(' ')}` : String(e);
      ctx.message(
        'HA_PROTECTED_VM_RESTART_FAILED',
        2,
        'VM',
        str(store.get('VM', vm), 'uuid'),
        `HA could not restart protected VM '${str(store.get('VM', vm), 'name_label')}': ${detail}`,
      );
    }
  }
  for (const vm of bestEffort) {
    try {
      bootDomain(ctx, vm, chooseHost(store, vm, [host]), false);
    } catch {
      // best-effort: tried once, left halted when there is no room (HA docs)
    }
  }
  refreshHaPlan(store);
  const after = thePool(store)[1];
  if (bool(after, 'ha_overcommitted')) {
    ctx.message(
      'HA_POOL_OVERCOMMITTED',
      3,
      'Pool',
      str(after, 'uuid'),
      'The pool can no longer tolerate its configured number of host failures.',
    );
  }
}

/** The host boots again: empty (xapi resyncs its domains as halted), live and enabled. */
export function recoverHost(ctx: SimContext, host: string): void {
  const { store } = ctx;
  const h = store.get('host', host);
  for (const vm of residentVms(store, host)) {
    if (!bool(store.find('VM', vm), 'is_control_domain')) haltDomain(ctx, vm);
  }
  const m = ref(h, 'metrics');
  if (store.find('host_metrics', m))
    store.update('host_metrics', m, { live: true, last_updated: ctx.clock.now() });
  store.update('host', host, { enabled: true });
  refreshHost(store, host);
  refreshHaPlan(store);
}

const handlers: Record<string, (ctx: SimContext, args: readonly unknown[]) => unknown> = {
  'pool.enable_ha': (ctx, args) => enableHa(ctx, arg.strings(args, 0), arg.map(args, 1)),
  'pool.disable_ha': (ctx) => {
    disableHa(ctx);
  },
  'pool.ha_compute_max_host_failures_to_tolerate': (ctx) => maxFailuresToTolerate(ctx.store),
  'pool.ha_compute_hypothetical_max_host_failures_to_tolerate': (ctx, args) => {
    // configuration: VM → restart priority; evaluate as if those priorities were set.
    const config = arg.map(args, 0);
    const saved: [string, string][] = [];
    try {
      for (const [vm, prio] of Object.entries(config)) {
        saved.push([vm, str(ctx.store.get('VM', vm), 'ha_restart_priority')]);
        ctx.store.update('VM', vm, { ha_restart_priority: prio });
      }
      return maxFailuresToTolerate(ctx.store);
    } finally {
      for (const [vm, prio] of saved) ctx.store.update('VM', vm, { ha_restart_priority: prio });
    }
  },
  'pool.set_ha_host_failures_to_tolerate': (ctx, args) => {
    const poolRef = arg.str(args, 0);
    const value = arg.num(args, 1);
    const pool = ctx.store.get('pool', poolRef);
    if (!Number.isInteger(value) || value < 0)
      fail('INVALID_VALUE', 'ha_host_failures_to_tolerate', String(value));
    // xapi_pool.ml: "Don't block changes if we have no plan at all"
    if (num(pool, 'ha_plan_exists_for') > 0) assertPreservesPlan(ctx.store, { failures: value });
    ctx.store.update('pool', poolRef, { ha_host_failures_to_tolerate: value });
    refreshHaPlan(ctx.store);
  },
  'VM.set_ha_restart_priority': (ctx, args) => {
    const vm = arg.str(args, 0);
    const value = arg.str(args, 1);
    const rec = ctx.store.get('VM', vm);
    if (!PRIORITIES.has(value)) fail('INVALID_VALUE', 'ha_restart_priority', value);
    const running = str(rec, 'power_state') === 'Running';
    if (
      value === 'restart' &&
      str(rec, 'ha_restart_priority') !== 'restart' &&
      str(rec, 'power_state') !== 'Halted'
    ) {
      assertPreservesPlan(ctx.store, { extra: { vm, host: ref(rec, 'resident_on') } });
    }
    const pool = thePool(ctx.store)[1];
    ctx.store.update('VM', vm, {
      ha_restart_priority: value,
      ha_always_run: bool(pool, 'ha_enabled') && value === 'restart' && running,
    });
    refreshHaPlan(ctx.store);
    refreshVm(ctx.store, vm);
  },
  'VM.set_ha_always_run': (ctx, args) => {
    // Deprecated: xapi sets it itself while a protected VM runs; kept settable for old clients.
    const vm = arg.str(args, 0);
    ctx.store.get('VM', vm);
    ctx.store.update('VM', vm, { ha_always_run: arg.bool(args, 1) });
  },
};

/** Installs the HA checks into the VM power-state machine. */
export function installHaHooks(): void {
  vmHooks.beforeStart = (ctx, vm, host) => {
    if (str(ctx.store.get('VM', vm), 'ha_restart_priority') === 'restart')
      assertPreservesPlan(ctx.store, { extra: { vm, host } });
  };
  vmHooks.afterStateChange = (store) => {
    refreshHaPlan(store);
  };
}

/** HA behaviour. */
export const haBehaviour: SimBehaviour = {
  handlers,
  afterChange(ctx, cls, r) {
    if (cls === 'pool') refreshPool(ctx.store, r);
  },
};
