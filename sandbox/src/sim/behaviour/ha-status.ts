/**
 * The pool's HA status and overcommit protection (ocaml/xapi/xapi_ha_vm_failover.ml `update_pool_status`,
 * `mark_pool_as_overcommitted`, `assert_configuration_change_preserves_ha_plan`): `pool.ha_plan_exists_for`,
 * `pool.ha_overcommitted`, the alerts HA_POOL_OVERCOMMITTED and HA_POOL_DROP_IN_PLAN_EXISTS_FOR, and the
 * HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN refusal.
 *
 * xapi recomputes the status when HA is enabled, when `ha_host_failures_to_tolerate` or a restart priority changes,
 * after a failover, and from its monitor (every 20 s once scheduled, else every 30 min). The simulator also
 * recomputes it after every VM state change, so the fields are what the monitor would show a moment later.
 * @module
 */
import type { SimContext, SimStore } from '../contract.js';
import { maxHostFailures, planForFailures, type PlanChange } from './ha-plan.js';
import { bool, fail, num, str, thePool } from './util.js';

/** A context per store, remembered from HA calls, so status changes seen from a VM hook can still raise alerts. */
const contexts = new WeakMap<SimStore, SimContext>();
/** Stores in the middle of a failover: the status is recomputed once at its end. */
const quiet = new WeakSet<SimStore>();

/** Remembers the context alerts of this store are raised through. */
export function rememberContext(ctx: SimContext): void {
  contexts.set(ctx.store, ctx);
}

/** Runs `fn` without per-change status updates (a failover updates the status once when it is done). */
export async function quietly<T>(store: SimStore, fn: () => Promise<T>): Promise<T> {
  const was = quiet.has(store);
  quiet.add(store);
  try {
    return await fn();
  } finally {
    if (!was) quiet.delete(store);
  }
}

function alert(
  store: SimStore,
  name: string,
  priority: number,
  cls: string,
  uuid: string,
  body: string,
): void {
  contexts.get(store)?.message(name, priority, cls, uuid, body);
}

/**
 * mark_pool_as_overcommitted: the plan no longer covers `ha_host_failures_to_tolerate`. `ha_plan_exists_for` drops
 * to what still has a plan (alert HA_POOL_DROP_IN_PLAN_EXISTS_FOR with the new number), and on the transition the
 * pool is marked overcommitted (alert HA_POOL_OVERCOMMITTED). Returns whether anything changed.
 */
export function markOvercommitted(store: SimStore, live?: readonly string[]): boolean {
  const [poolRef, pool] = thePool(store);
  const overcommitted = bool(pool, 'ha_overcommitted');
  const plannedFor = num(pool, 'ha_plan_exists_for');
  const toTolerate = num(pool, 'ha_host_failures_to_tolerate');
  const max = maxHostFailures(store, live ? { live } : {});
  if (plannedFor !== max) {
    store.update('pool', poolRef, { ha_plan_exists_for: Math.min(toTolerate, max) });
    if (max < plannedFor)
      alert(store, 'HA_POOL_DROP_IN_PLAN_EXISTS_FOR', 3, 'Pool', str(pool, 'uuid'), String(max));
  }
  if (!overcommitted) {
    store.update('pool', poolRef, { ha_overcommitted: true });
    alert(
      store,
      'HA_POOL_OVERCOMMITTED',
      3,
      'Pool',
      str(pool, 'uuid'),
      `The failover tolerance for pool '${str(pool, 'name_label')}' has dropped and the initially specified number of host failures to tolerate can no longer be guaranteed`,
    );
  }
  return plannedFor !== max || !overcommitted;
}

/**
 * update_pool_status: with a plan for `ha_host_failures_to_tolerate` failures the pool is not overcommitted and
 * `ha_plan_exists_for` equals it; otherwise {@link markOvercommitted}. Returns whether anything changed.
 */
export function updatePoolStatus(store: SimStore, live?: readonly string[]): boolean {
  const [poolRef, pool] = thePool(store);
  const overcommitted = bool(pool, 'ha_overcommitted');
  const toTolerate = num(pool, 'ha_host_failures_to_tolerate');
  const plannedFor = num(pool, 'ha_plan_exists_for');
  if (planForFailures(store, toTolerate, live ? { live } : {}) === 'all') {
    if (overcommitted) store.update('pool', poolRef, { ha_overcommitted: false });
    if (plannedFor !== toTolerate) store.update('pool', poolRef, { ha_plan_exists_for: toTolerate });
    return overcommitted || plannedFor !== toTolerate;
  }
  return markOvercommitted(store, live);
}

/** The status after anything that moves load, while HA is on (outside a failover). */
export function refreshHaPlan(store: SimStore): void {
  const pool = store.all('pool')[0];
  if (!pool || !bool(pool[1], 'ha_enabled') || quiet.has(store)) return;
  updatePoolStatus(store);
}

/**
 * assert_configuration_change_preserves_ha_plan: with HA on and overcommit not allowed, refuses a change that would
 * leave no plan for `ha_plan_exists_for` failures when there is one now (no plan now "cannot get worse").
 */
export function assertPreservesPlan(store: SimStore, change: PlanChange): void {
  const [, pool] = thePool(store);
  if (!bool(pool, 'ha_enabled') || bool(pool, 'ha_allow_overcommit')) return;
  const planned = num(pool, 'ha_plan_exists_for');
  if (planForFailures(store, planned) !== 'all') return;
  if (planForFailures(store, planned, { change }) !== 'all') fail('HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN');
}
