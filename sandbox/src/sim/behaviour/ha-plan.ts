/**
 * HA failover planning, as xapi does it (ocaml/xapi/xapi_ha_vm_failover.ml `compute_restart_plan`,
 * `plan_for_n_failures`, `compute_max_host_failures_to_tolerate`; ocaml/xapi/binpack.ml; ocaml/xapi/agility.ml):
 *
 * - protected VMs are those with `ha_always_run` and restart priority `restart` (Helpers.vm_should_always_run);
 * - hosts count when enabled and live; their free memory and every VM's size are taken at `memory_static_max`
 *   (plus overhead) — the "ultra-conservative" Static_max policy, not the Dynamic_min one VM.start uses;
 * - a VM is agile when its disks are on properly shared SRs and its VIFs on properly shared networks; non-agile
 *   protected VMs are pinned to one host and make the plan "excluding non-agile VMs" (which counts as no plan);
 * - offline protected VMs are placed first (biggest fit decreasing), then every sequence of `n` host failures must
 *   be survivable: exhaustively (every combination, in every order) when nCr·r! < 3500 and the pool has at most 32
 *   hosts, else under the approximate worst case (every VM as big as the biggest, the biggest hosts fail).
 *
 * Pure functions over the store; ha.ts applies them (pool fields, alerts, overcommit protection, restarts).
 * @module
 */
import type { SimRecord, SimStore } from '../contract.js';
import { bootHereError, hostMemoryTotal, vmMemoryOverhead } from './placement.js';
import { bool, hostLive, isNull, num, pbdsOf, pifsOfNetwork, ref, str, strings } from './util.js';

/** A counterfactual change the plan is checked against (xapi_ha_vm_failover.ml `configuration_change`). */
export interface PlanChange {
  /** VMs leaving a host: `[host, vm]` (their memory comes back). */
  readonly leaving?: readonly (readonly [string, string])[];
  /** VMs arriving on a host: `[host, vm]` (a start or migration there). */
  readonly arriving?: readonly (readonly [string, string])[];
  /** Hosts about to be disabled (left out of the plan). */
  readonly hostsToDisable?: readonly string[];
  /** Plan for this many failures instead. */
  readonly numFailures?: number;
  /** VMs about to become protected. */
  readonly newVms?: readonly string[];
}

/** What `plan_for_n_failures` finds. */
export type PlanStatus = 'all' | 'excluding-non-agile' | 'none';

/** A restart plan: which host each offline protected VM goes to. */
export interface RestartPlan {
  /** `[vm, host]`, non-agile VMs (pinned) first, then agile ones. */
  readonly plan: readonly (readonly [string, string])[];
  /** Protected VMs that are offline and have no place in the plan. */
  readonly notRestarted: readonly string[];
  /** Whether some protected VMs are not agile. */
  readonly nonAgile: boolean;
  /** The binpacking configuration after the plan, for planning future failures. */
  readonly config: BinpackConfig;
}

/** binpack.ml `configuration`: live hosts with free memory, VMs with their size, where each runs. */
export interface BinpackConfig {
  readonly hosts: readonly (readonly [string, number])[];
  readonly vms: readonly (readonly [string, number])[];
  readonly placement: readonly (readonly [string, string])[];
  readonly totalHosts: number;
  readonly numFailures: number;
}

/** Live hosts as HA plans with them: enabled and live (xapi_ha_vm_failover.ml `get_live_set`). */
export function liveSet(store: SimStore): string[] {
  return store
    .all('host')
    .filter(([h, r]) => bool(r, 'enabled') && hostLive(store, h))
    .map(([h]) => h);
}

/**
 * Whether a VM is protected: restart priority `restart` and `ha_always_run` (xapi sets it on start and clears it on a
 * clean shutdown). A running VM with priority `restart` counts even when the flag lags (the simulator sets it only
 * while HA is on; xapi sets it on every start).
 */
export function isProtected(rec: Readonly<SimRecord> | undefined): boolean {
  if (!rec || bool(rec, 'is_a_template') || bool(rec, 'is_control_domain') || bool(rec, 'is_a_snapshot'))
    return false;
  if (str(rec, 'ha_restart_priority') !== 'restart') return false;
  const power = str(rec, 'power_state');
  return bool(rec, 'ha_always_run') || power === 'Running' || power === 'Paused';
}

/** Every protected VM (xapi_ha_vm_failover.ml `all_protected_vms`). */
export function protectedVms(store: SimStore): string[] {
  return store
    .all('VM')
    .filter(([, r]) => isProtected(r))
    .map(([vm]) => vm);
}

/** Memory HA plans for a VM: static_max and its overhead (Memory_check Static_max policy). */
export function planMemory(rec: Readonly<SimRecord> | undefined): number {
  if (!rec) return 0;
  return num(rec, 'memory_static_max') + vmMemoryOverhead(rec);
}

/**
 * Free memory of each host under the Static_max policy (Memory_check.host_compute_free_memory_with_policy): total
 * less the host's overhead less every domain resident or scheduled there at its static_max.
 */
export function planFreeMemory(store: SimStore, hosts: readonly string[]): Map<string, number> {
  const used = new Map<string, number>(hosts.map((h) => [h, 0]));
  for (const [, r] of store.all('VM')) {
    const size = planMemory(r);
    const on = ref(r, 'resident_on');
    const scheduled = ref(r, 'scheduled_to_be_resident_on');
    if (used.has(on)) used.set(on, (used.get(on) ?? 0) + size);
    if (scheduled !== on && used.has(scheduled)) used.set(scheduled, (used.get(scheduled) ?? 0) + size);
  }
  return new Map(
    hosts.map((h) => {
      const total = hostMemoryTotal(store, h) - num(store.get('host', h), 'memory_overhead');
      return [h, Math.max(0, total - (used.get(h) ?? 0))];
    }),
  );
}

function enabledHosts(store: SimStore): string[] {
  return store
    .all('host')
    .filter(([, r]) => bool(r, 'enabled'))
    .map(([h]) => h);
}

/** agility.ml `is_sr_properly_shared`: marked shared, and a plugged PBD on every enabled host. */
export function srProperlyShared(store: SimStore, sr: string, enabled = enabledHosts(store)): boolean {
  const rec = store.find('SR', sr);
  if (!rec || !bool(rec, 'shared')) return false;
  const plugged = new Set(
    pbdsOf(store, sr)
      .map((p) => store.find('PBD', p))
      .filter((p) => bool(p, 'currently_attached'))
      .map((p) => ref(p, 'host')),
  );
  return enabled.every((h) => plugged.has(h));
}

/**
 * agility.ml `is_network_properly_shared`: every enabled host has a PIF on it that is not a bond slave (so a
 * network without PIFs — a private one — is not properly shared).
 */
export function networkProperlyShared(store: SimStore, net: string, enabled = enabledHosts(store)): boolean {
  const hosts = new Set(
    pifsOfNetwork(store, net)
      .map((p) => store.find('PIF', p))
      .filter((p) => p !== undefined && isNull(ref(p, 'bond_slave_of')))
      .map((p) => ref(p, 'host')),
  );
  return enabled.every((h) => hosts.has(h));
}

/**
 * Why a VM is not agile (agility.ml `vm_assert_agile`), or undefined: `[code, …params]` —
 * VM_HAS_VGPU, VM_HAS_VUSBS, HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED [SR], HA_CONSTRAINT_VIOLATION_NETWORK_NOT_SHARED
 * [network].
 */
export function agilityError(store: SimStore, vm: string): string[] | undefined {
  const rec = store.get('VM', vm);
  if (strings(rec, 'VGPUs').length > 0) return ['VM_HAS_VGPU', vm];
  if (strings(rec, 'VUSBs').length > 0) return ['VM_HAS_VUSBS', vm];
  const enabled = enabledHosts(store);
  for (const vbd of strings(rec, 'VBDs')) {
    const b = store.find('VBD', vbd);
    if (!b || bool(b, 'empty')) continue;
    const sr = ref(store.find('VDI', ref(b, 'VDI')), 'SR');
    if (!srProperlyShared(store, sr, enabled)) return ['HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED', sr];
  }
  for (const vif of strings(rec, 'VIFs')) {
    const net = ref(store.find('VIF', vif), 'network');
    if (!networkProperlyShared(store, net, enabled))
      return ['HA_CONSTRAINT_VIOLATION_NETWORK_NOT_SHARED', net];
  }
  return undefined;
}

// ---- binpack.ml ----------------------------------------------------------------------------------------------

/** Sorts `[id, size]` pairs biggest first, keeping the order of equals (OCaml's List.sort is a stable merge sort). */
const biggestFirst = <T>(xs: readonly (readonly [T, number])[]): [T, number][] =>
  xs.map((x) => [x[0], x[1]] as [T, number]).sort((a, b) => b[1] - a[1]);

/**
 * binpack.ml `biggest_fit_decreasing`: things biggest first, each into the bin with the most room; a thing that does
 * not fit there is left out. Returns `[thing, bin]` in xapi's (reversed) order.
 */
export function biggestFitDecreasing<A, B>(
  things: readonly (readonly [A, number])[],
  bins: readonly (readonly [B, number])[],
): [A, B][] {
  let free = biggestFirst(bins);
  const mapping: [A, B][] = [];
  for (const [thing, size] of biggestFirst(things)) {
    const first = free[0];
    if (!first) continue;
    const remaining = first[1] - size;
    if (remaining < 0) continue;
    // `insert less_than`: before the first bin with no more room than this one.
    const rest = free.slice(1);
    const at = rest.findIndex(([, s]) => s <= remaining);
    rest.splice(at === -1 ? rest.length : at, 0, [first[0], remaining]);
    free = rest;
    mapping.unshift([thing, first[0]]);
  }
  return mapping;
}

/** binpack.ml `account`: subtracts what the plan puts on each host from its free memory. */
function account(
  hosts: readonly (readonly [string, number])[],
  vms: readonly (readonly [string, number])[],
  plan: readonly (readonly [string, string])[],
): [string, number][] {
  const size = new Map(vms.map(([v, s]) => [v, s]));
  return hosts.map(([h, free]) => [
    h,
    free - plan.filter(([, on]) => on === h).reduce((n, [vm]) => n + (size.get(vm) ?? 0), 0),
  ]);
}

function applyPlan(config: BinpackConfig, plan: readonly (readonly [string, string])[]): BinpackConfig {
  const moved = new Set(plan.map(([vm]) => vm));
  return {
    ...config,
    hosts: account(config.hosts, config.vms, plan),
    placement: [...plan, ...config.placement.filter(([vm]) => !moved.has(vm))],
  };
}

class Stop extends Error {}

/** binpack.ml `simulate_failure`: one host dies, its VMs are packed onto the others (all of them, or Stop). */
function simulateFailure(config: BinpackConfig, dead: string): BinpackConfig {
  const failed = config.placement.filter(([, h]) => h === dead).map(([vm]) => vm);
  const hosts = config.hosts.filter(([h]) => h !== dead);
  const size = new Map(config.vms.map(([v, s]) => [v, s]));
  const plan = biggestFitDecreasing(
    failed.map((vm) => [vm, size.get(vm) ?? 0] as const),
    hosts,
  );
  if (plan.length !== failed.length) throw new Stop();
  const to = new Map(plan);
  return {
    ...config,
    hosts: account(hosts, config.vms, plan),
    placement: config.placement.map(([vm, h]) => [vm, to.get(vm) ?? h] as const),
    numFailures: config.numFailures - 1,
  };
}

function trivialNever(config: BinpackConfig): boolean {
  const n = config.hosts.length;
  return n < config.numFailures || (n === config.numFailures && config.vms.length > 0);
}

function combinations<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  const [x, ...xs] = items;
  if (x === undefined) return [];
  return [...combinations(xs, k), ...combinations(xs, k - 1).map((c) => [x, ...c])];
}

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((x, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [x, ...p]),
  );
}

/** Exhaustive heuristic: every combination of `r` live hosts failing, in every order, must be survivable. */
function planAlwaysPossibleExhaustive(config: BinpackConfig): boolean {
  try {
    if (trivialNever(config)) throw new Stop();
    for (const combination of combinations(
      config.hosts.map(([h]) => h),
      config.numFailures,
    )) {
      for (const order of permutations(combination)) order.reduce(simulateFailure, config);
    }
    return true;
  } catch (e) {
    if (e instanceof Stop) return false;
    throw e;
  }
}

/**
 * Approximate heuristic (binpack.ml `simulate_failure_approximation`): every VM as big as the biggest, the `r`
 * biggest hosts fail and the `r` fullest hosts' VMs must fit in what the others have left.
 */
function planAlwaysPossibleApproximate(config: BinpackConfig): boolean {
  if (trivialNever(config)) return false;
  if (config.vms.length === 0) return true;
  const maxVm = Math.max(0, ...config.vms.map(([, s]) => s));
  if (maxVm <= 0) return false; // Int64.div by zero in xapi: the planner fails, "no plan"
  const capacity = config.hosts.map(([, free]) => Math.trunc(free / maxVm)).sort((a, b) => b - a);
  const left = capacity.slice(config.numFailures).reduce((a, b) => a + b, 0);
  const counts = config.hosts
    .map(([h]) => config.placement.filter(([, on]) => on === h).length)
    .sort((a, b) => b - a);
  const toMove = counts.slice(0, config.numFailures).reduce((a, b) => a + b, 0);
  return toMove <= left;
}

function binomial(n: number, r: number): number {
  let out = 1;
  for (let i = 1; i <= r; i++) out = (out * (n - r + i)) / i;
  return Math.round(out);
}

function factorial(n: number): number {
  return n <= 1 ? 1 : n * factorial(n - 1);
}

/** binpack.ml `choose_heuristic`: exhaustive for small pools (nCr·r! < 3500, n ≤ 32), else approximate. */
export function heuristicFor(totalHosts: number, numFailures: number): 'exhaustive' | 'approximate' {
  if (totalHosts > 32) return 'approximate';
  const cost = binomial(totalHosts, numFailures) * factorial(numFailures);
  return Number.isSafeInteger(cost) && cost < 3500 ? 'exhaustive' : 'approximate';
}

/** Whether every sequence of `config.numFailures` host failures leaves room for every VM. */
export function planAlwaysPossible(config: BinpackConfig): boolean {
  return heuristicFor(config.totalHosts, config.numFailures) === 'exhaustive'
    ? planAlwaysPossibleExhaustive(config)
    : planAlwaysPossibleApproximate(config);
}

// ---- xapi_ha_vm_failover.ml ----------------------------------------------------------------------------------

/**
 * compute_restart_plan: where the offline protected VMs go now, and the configuration after that, for planning
 * `n` future failures. `live` overrides the live set (the HA liveset during a failover).
 */
export function computeRestartPlan(
  store: SimStore,
  n: number,
  options: { change?: PlanChange; live?: readonly string[]; protect?: readonly string[] } = {},
): RestartPlan {
  const change = options.change ?? {};
  const numFailures = change.numFailures ?? n;
  const live = new Set(options.live ?? liveSet(store));
  const leaving = new Map((change.leaving ?? []).map(([h, vm]) => [vm, h]));
  const arriving = new Map((change.arriving ?? []).map(([h, vm]) => [vm, h]));
  const byUuid = (cls: string) => (a: string, b: string) =>
    str(store.get(cls, a), 'uuid').localeCompare(str(store.get(cls, b), 'uuid'));

  const allHosts = store
    .all('host')
    .map(([h]) => h)
    .sort(byUuid('host'));
  const disabling = new Set(change.hostsToDisable ?? []);
  const liveHosts = allHosts.filter(
    (h) => bool(store.get('host', h), 'enabled') && !disabling.has(h) && hostLive(store, h) && live.has(h),
  );
  const liveHostSet = new Set(liveHosts);
  const vms = [...new Set([...(options.protect ?? protectedVms(store)), ...(change.newVms ?? [])])].sort(
    byUuid('VM'),
  );
  /** Where a VM is accounted: its live host (after the change), else the live host it is scheduled to. */
  const accounted = (vm: string): string | undefined => {
    const rec = store.get('VM', vm);
    const on = arriving.get(vm) ?? (leaving.has(vm) ? undefined : ref(rec, 'resident_on'));
    if (on !== undefined && liveHostSet.has(on)) return on;
    const scheduled = ref(rec, 'scheduled_to_be_resident_on');
    return liveHostSet.has(scheduled) ? scheduled : undefined;
  };
  const size = new Map(vms.map((vm) => [vm, planMemory(store.get('VM', vm))]));
  const free = planFreeMemory(store, liveHosts);
  let hosts: [string, number][] = liveHosts.map((h) => {
    let m = free.get(h) ?? 0;
    for (const [vm, on] of leaving) if (on === h) m += planMemory(store.find('VM', vm));
    for (const [vm, on] of arriving) if (on === h) m -= planMemory(store.find('VM', vm));
    return [h, m];
  });

  const agile = vms.filter((vm) => agilityError(store, vm) === undefined);
  const notAgile = vms.filter((vm) => !agile.includes(vm));
  // host_of_non_agile_vm: the first host (by uuid, live or not) that could boot it, memory aside.
  const pinned: [string, string][] = [];
  for (const vm of notAgile) {
    const h = allHosts.find(
      (x) => bootHereError(store, vm, x, { free: Number.MAX_SAFE_INTEGER }) === undefined,
    );
    if (h !== undefined) pinned.push([vm, h]);
  }
  const nonAgilePlan = pinned.filter(([vm]) => accounted(vm) === undefined);
  const vmSizes = vms.map((vm) => [vm, size.get(vm) ?? 0] as const);
  hosts = account(hosts, vmSizes, nonAgilePlan);

  const agileSizes = agile.map((vm) => [vm, size.get(vm) ?? 0] as const);
  const placement: (readonly [string, string])[] = [];
  const failed: string[] = [];
  for (const vm of agile) {
    const on = accounted(vm);
    if (on === undefined) failed.push(vm);
    else placement.push([vm, on]);
  }
  let config: BinpackConfig = {
    hosts,
    vms: agileSizes,
    placement,
    totalHosts: allHosts.length,
    numFailures,
  };
  const agilePlan = biggestFitDecreasing(
    failed.map((vm) => [vm, size.get(vm) ?? 0] as const),
    config.hosts,
  );
  const restarted = new Set(agilePlan.map(([vm]) => vm));
  const notRestarted = vms.filter((vm) => accounted(vm) === undefined && !restarted.has(vm));
  config = applyPlan(config, agilePlan);
  return { plan: [...nonAgilePlan, ...agilePlan], notRestarted, nonAgile: notAgile.length > 0, config };
}

/** plan_for_n_failures: whether a failover plan exists for `n` host failures (after restarting offline VMs). */
export function planForFailures(
  store: SimStore,
  n: number,
  options: { change?: PlanChange; live?: readonly string[]; protect?: readonly string[] } = {},
): PlanStatus {
  const { config, notRestarted, nonAgile } = computeRestartPlan(store, n, options);
  // "Even with no Host failures this Pool cannot start the configured protected VMs."
  if (notRestarted.length > 0) return 'none';
  if (config.numFailures > config.totalHosts || config.numFailures < 0) return 'none';
  if (!planAlwaysPossible(config)) return 'none';
  return nonAgile ? 'excluding-non-agile' : 'all';
}

/**
 * compute_max_host_failures_to_tolerate: the largest n in [0, hosts] with a plan for every protected VM, found by
 * bisection (Helpers.bisect, which assumes that no plan for n means none for more). With nothing to protect that is
 * the number of hosts.
 */
export function maxHostFailures(
  store: SimStore,
  options: { live?: readonly string[]; protect?: readonly string[] } = {},
): number {
  const f = (n: number): boolean => planForFailures(store, n, options) === 'all';
  const bisect = (lower: number, upper: number): number => {
    if (upper - lower < 2) return f(upper) ? upper : lower;
    const mid = Math.floor((upper + lower) / 2);
    return f(mid) ? bisect(mid, upper) : bisect(lower, mid);
  };
  return bisect(0, store.all('host').length);
}

/**
 * The order HA restarts VMs in (xapi_ha_vm_failover.ml `order_f` and `map_parallel`): groups by ascending `order`
 * (a negative order goes last), started in parallel within a group; the next group starts once the previous one's
 * starts have returned, each after its VM's `start_delay`.
 */
export function restartGroups(store: SimStore, vms: readonly string[]): string[][] {
  const key = (vm: string): number => {
    const o = num(store.find('VM', vm), 'order');
    return o < 0 ? Number.MAX_SAFE_INTEGER : o;
  };
  const groups = new Map<number, string[]>();
  for (const vm of vms) groups.set(key(vm), [...(groups.get(key(vm)) ?? []), vm]);
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, g]) => g);
}
