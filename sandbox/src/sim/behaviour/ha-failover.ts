/**
 * Losing hosts: power loss, network partitions and their way back, with and without HA (ocaml/xapi/xapi_ha.ml
 * `Monitor`, xapi_ha_vm_failover.ml `restart_auto_run_vms`; doc/content/toolstack/features/HA "Fencing").
 *
 * The simulator keeps what the pool's database cannot say: which hosts are up but outside the coordinator's view
 * (across a partition, or fenced and rebooted while it lasts), the partition itself, and which hosts went down
 * uncleanly. Like every fault this lives in memory, not in the saved pool.
 *
 * With HA on, liveness is xhad's: a host survives if it can reach the statefile and is in the best partition — the
 * largest group of hosts that see each other on the network, on a tie the one holding the lowest host uuid (survival
 * rule 1) — or if no host can reach the statefile and every host that should run sees every other (rule 2).
 * Every other host fences: its watchdog reboots it, it stays out until it can rejoin. The coordinator marks the
 * lost hosts dead (HA_HOST_FAILED), resets their VMs to Halted, elects a new coordinator when it was one of them,
 * restarts protected VMs by plan and `order`, and tries best-effort ones once.
 *
 * Without HA, the coordinator marks a host it cannot hear from dead (after `host_assumed_dead_interval`, ten
 * minutes in xapi); its VMs go on running there and nothing restarts them; a host across a partition comes back
 * live, VMs and all, when the network heals.
 *
 * Waits use the clock: `HA.detect` (xhad's heartbeat timeout), `host.assumed_dead`, `VM.start` and
 * `VM.start_delay` (per second of a VM's start_delay) — all zero unless a scenario's `durations` sets them.
 * @module
 */
import type { SimContext, SimStore } from '../contract.js';
import { XapiFailure } from '../contract.js';
import { computeRestartPlan, protectedVms, restartGroups } from './ha-plan.js';
import { quietly, rememberContext, updatePoolStatus } from './ha-status.js';
import { refreshHost } from './host.js';
import { bootHereError, chooseHost, hostSeesSr, schedule } from './placement.js';
import { NULL_REF, bool, hostLive, map, num, ref, residentVms, str, strings, thePool } from './util.js';
import { bootDomain, haltDomain } from './vm.js';

/** What the simulator knows about hosts that the pool database does not. */
interface World {
  /** Hosts that are up but outside the coordinator's view: across a partition, or fenced and rebooted. */
  readonly out: Set<string>;
  /** Hosts that went down uncleanly (power loss, fencing): HA_HOST_WAS_FENCED when they are back with HA on. */
  readonly unclean: Set<string>;
  /** The network partition: groups of hosts that see each other; undefined when the network is whole. */
  groups: string[][] | undefined;
  /** Protected VMs already alerted about (xapi's `restart_failed` table): one HA_PROTECTED_VM_RESTART_FAILED each. */
  readonly restartFailed: Set<string>;
  /** HA_STATEFILE_LOST raised for the current loss (survival rule 2). */
  statefileLost: boolean;
  /** Liveness changes run one at a time. */
  chain: Promise<void>;
}

const worlds = new WeakMap<SimStore, World>();

function world(store: SimStore): World {
  let w = worlds.get(store);
  if (!w) {
    w = {
      out: new Set(),
      unclean: new Set(),
      groups: undefined,
      restartFailed: new Set(),
      statefileLost: false,
      chain: Promise.resolve(),
    };
    worlds.set(store, w);
  }
  return w;
}

/** Runs a liveness change after the ones already under way. */
function serially(store: SimStore, fn: () => Promise<void>): Promise<void> {
  const w = world(store);
  const next = w.chain.then(fn, fn);
  w.chain = next.catch(() => undefined);
  return next;
}

const hostsOf = (store: SimStore): string[] => store.all('host').map(([h]) => h);
const uuidOf = (store: SimStore, cls: string, r: string): string => str(store.find(cls, r), 'uuid');

/** Hosts that are powered and running xapi: live in the database, or up outside the coordinator's view. */
function runningHosts(store: SimStore): Set<string> {
  const w = world(store);
  return new Set(hostsOf(store).filter((h) => hostLive(store, h) || w.out.has(h)));
}

/** The partition group of a host (its index), or 0 when the network is whole. */
function groupOf(w: World, host: string): number {
  if (!w.groups) return 0;
  const i = w.groups.findIndex((g) => g.includes(host));
  return i === -1 ? w.groups.length : i;
}

/** Whether a host can read and write the HA statefile: its SR works and the host has it plugged. */
function statefileAccess(store: SimStore, host: string): boolean {
  const [, pool] = thePool(store);
  const vdi = store.find('VDI', strings(pool, 'ha_statefiles')[0] ?? NULL_REF);
  if (!vdi) return false;
  const sr = ref(vdi, 'SR');
  if (map(store.find('SR', sr), 'other_config').xenlab_failed === 'true') return false;
  return hostSeesSr(store, host, sr);
}

/** Splits hosts into the groups that see each other on the network. */
function components(store: SimStore, hosts: readonly string[]): string[][] {
  const w = world(store);
  const by = new Map<number, string[]>();
  for (const h of hosts) by.set(groupOf(w, h), [...(by.get(groupOf(w, h)) ?? []), h]);
  return [...by.values()];
}

/**
 * xhad's liveset: survival rule 1 (statefile access and the best partition: the largest, on a tie the one holding
 * the lowest host uuid), else rule 2 (nobody reaches the statefile, and every host that should run is up and sees
 * every other). Returns the surviving hosts and whether rule 2 keeps them.
 */
function liveset(store: SimStore, running: ReadonlySet<string>): { live: string[]; rule2: boolean } {
  const w = world(store);
  const withStatefile = [...running].filter((h) => statefileAccess(store, h));
  if (withStatefile.length > 0) {
    const lowest = (g: readonly string[]): string =>
      g.map((h) => uuidOf(store, 'host', h)).sort((a, b) => a.localeCompare(b))[0] ?? '';
    const best = components(store, withStatefile).sort(
      (a, b) => b.length - a.length || lowest(a).localeCompare(lowest(b)),
    )[0];
    return { live: best ?? [], rule2: false };
  }
  const shouldRun = hostsOf(store).filter((h) => running.has(h) || w.unclean.has(h));
  const all = [...running];
  const together = components(store, all).length === 1;
  if (all.length > 0 && together && shouldRun.every((h) => running.has(h))) return { live: all, rule2: true };
  return { live: [], rule2: false };
}

/** Halts a dead host's guests as xapi's force_state_reset does: `ha_always_run` is kept (they stay protected). */
function resetGuests(ctx: SimContext, host: string): string[] {
  const vms = residentVms(ctx.store, host).filter(
    (vm) => !bool(ctx.store.find('VM', vm), 'is_control_domain'),
  );
  for (const vm of vms) {
    const always = bool(ctx.store.get('VM', vm), 'ha_always_run');
    haltDomain(ctx, vm);
    if (always) ctx.store.update('VM', vm, { ha_always_run: true });
  }
  return vms;
}

function setLive(ctx: SimContext, host: string, live: boolean, enable = false): void {
  const m = ref(ctx.store.get('host', host), 'metrics');
  if (ctx.store.find('host_metrics', m))
    ctx.store.update('host_metrics', m, { live, last_updated: ctx.clock.now() });
  if (enable) ctx.store.update('host', host, { enabled: true });
  refreshHost(ctx.store, host);
}

/**
 * Starts a VM the way HA's `VM.start ~force:true` does: on `host` (the plan's) or where placement chooses, then
 * waits its start_delay. Returns the error, or undefined when it runs.
 */
async function startVm(ctx: SimContext, vm: string, host?: string): Promise<XapiFailure | undefined> {
  const { store } = ctx;
  const rec = store.find('VM', vm);
  if (!rec) return new XapiFailure('HANDLE_INVALID', ['VM', vm]);
  if (str(rec, 'power_state') !== 'Halted')
    return new XapiFailure('VM_BAD_POWER_STATE', [vm, 'halted', str(rec, 'power_state').toLowerCase()]);
  if (Object.keys(map(rec, 'current_operations')).length > 0)
    return new XapiFailure('OTHER_OPERATION_IN_PROGRESS', ['VM', vm]);
  let target: string;
  try {
    if (host === undefined) target = chooseHost(store, vm);
    else {
      const err = bootHereError(store, vm, host);
      if (err) return err;
      target = host;
    }
  } catch (e) {
    if (e instanceof XapiFailure) return e;
    throw e;
  }
  schedule(store, vm, target);
  await ctx.clock.work('VM.start', undefined);
  if (str(store.find('VM', vm), 'power_state') !== 'Halted' || !hostLive(store, target)) {
    schedule(store, vm, NULL_REF);
    return new XapiFailure('HOST_OFFLINE', [target]);
  }
  bootDomain(ctx, vm, target, false);
  await ctx.clock.work('VM.start_delay', undefined, num(store.find('VM', vm), 'start_delay'));
  return undefined;
}

/** Runs starts by `order` groups, in parallel within a group; returns each VM's error (undefined: started). */
async function startInOrder(
  ctx: SimContext,
  vms: readonly string[],
  hostOf: (vm: string) => string | undefined,
): Promise<Map<string, XapiFailure | undefined>> {
  const out = new Map<string, XapiFailure | undefined>();
  for (const group of restartGroups(ctx.store, vms)) {
    const results = await Promise.all(group.map((vm) => startVm(ctx, vm, hostOf(vm))));
    group.forEach((vm, i) => out.set(vm, results[i]));
  }
  return out;
}

/**
 * restart_auto_run_vms (after the dead hosts' VMs were reset): restarts offline protected VMs on the plan's hosts,
 * or in priority order wherever they fit when no complete plan exists; one more attempt for those that failed;
 * HA_PROTECTED_VM_RESTART_FAILED once per VM that stays down; then one start for each best-effort VM of a dead host
 * (xapi 24.x, XCP-ng 8.3: left halted if it does not fit; xapi 25.30+ also retries them when a host comes back).
 */
async function restartAutoRunVms(
  ctx: SimContext,
  live: readonly string[],
  reset: readonly string[],
): Promise<void> {
  const { store } = ctx;
  const w = world(store);
  const [, pool] = thePool(store);
  const n = num(pool, 'ha_host_failures_to_tolerate');
  const { plan, notRestarted } = computeRestartPlan(store, n, { live });
  const planned = new Map(plan.map(([vm, h]) => [vm, h]));
  const offline = protectedVms(store).filter((vm) => str(store.get('VM', vm), 'power_state') === 'Halted');
  const first =
    notRestarted.length === 0
      ? await startInOrder(ctx, [...planned.keys()], (vm) => planned.get(vm))
      : await startInOrder(ctx, offline, () => undefined);
  // One final attempt for those that failed. xapi would not retry a VM within 2 minutes of its last attempt, so this
  // one is "delayed" when it just failed; the next pass of its monitor tries again. The simulator's next pass is
  // the next change of liveness (a host lost or back, a partition, its healing).
  const failed = [...first].filter(([, e]) => e !== undefined).map(([vm]) => vm);
  for (const vm of failed) {
    if (w.restartFailed.has(vm)) continue;
    w.restartFailed.add(vm);
    ctx.message('HA_PROTECTED_VM_RESTART_FAILED', 2, 'VM', uuidOf(store, 'VM', vm), '');
  }
  for (const vm of [...w.restartFailed]) if (!first.has(vm)) w.restartFailed.delete(vm);
  const bestEffort = reset.filter((vm) => {
    const r = store.find('VM', vm);
    return str(r, 'ha_restart_priority') === 'best-effort' && str(r, 'power_state') === 'Halted';
  });
  await startInOrder(ctx, bestEffort, () => undefined);
}

/** Host.ha_statefiles and ha_network_peers as the coordinator's monitor keeps them. */
function refreshHaHostFields(store: SimStore, live: readonly string[], running: ReadonlySet<string>): void {
  const w = world(store);
  const [, pool] = thePool(store);
  const statefiles = strings(pool, 'ha_statefiles');
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  for (const h of hostsOf(store)) {
    const rec = store.get('host', h);
    const inSet = live.includes(h);
    const sf = inSet && statefileAccess(store, h) ? statefiles : [];
    // [est] the heartbeat list a host reports includes itself.
    const peers = inSet
      ? [...running].filter((x) => groupOf(w, x) === groupOf(w, h)).map((x) => uuidOf(store, 'host', x))
      : [];
    const patch: Record<string, unknown> = {};
    if (!same(strings(rec, 'ha_statefiles'), sf)) patch.ha_statefiles = sf;
    if (!same(strings(rec, 'ha_network_peers'), peers)) patch.ha_network_peers = peers;
    if (Object.keys(patch).length > 0) store.update('host', h, patch);
  }
}

/** HA on: xhad decides who lives; the coordinator declares the rest dead, fails over and takes back who returns. */
async function reconcileHa(ctx: SimContext, running: ReadonlySet<string>): Promise<void> {
  const { store } = ctx;
  const w = world(store);
  const { live, rule2 } = liveset(store, running);
  const wasLive = hostsOf(store).filter((h) => hostLive(store, h));
  const dead = wasLive.filter((h) => !live.includes(h));
  const back = live.filter((h) => !hostLive(store, h));
  const reset: string[] = [];
  if (dead.length > 0) await ctx.clock.work('HA.detect', undefined);
  await quietly(store, async () => {
    for (const h of dead) {
      ctx.message(
        'HA_HOST_FAILED',
        3,
        'Host',
        uuidOf(store, 'host', h),
        `Server '${str(store.get('host', h), 'name_label')}' has failed`,
      );
      setLive(ctx, h, false);
      w.unclean.add(h);
      reset.push(...resetGuests(ctx, h));
    }
    const [poolRef, pool] = thePool(store);
    const first = live[0];
    if (!live.includes(ref(pool, 'master')) && first !== undefined) {
      // [est] the statefile's master lock goes to the first survivor (xhad elects; xapi follows its liveset).
      const next = hostsOf(store).find((h) => live.includes(h)) ?? first;
      store.update('pool', poolRef, { master: next });
    }
    for (const h of back) {
      setLive(ctx, h, true, true);
      if (w.unclean.delete(h)) ctx.message('HA_HOST_WAS_FENCED', 4, 'Host', uuidOf(store, 'host', h), '');
    }
    if (rule2 && !w.statefileLost) {
      w.statefileLost = true;
      ctx.message(
        'HA_STATEFILE_LOST',
        2,
        'Host',
        uuidOf(store, 'host', ref(thePool(store)[1], 'master')),
        'All live servers have lost access to the HA statefile',
      );
    } else if (!rule2) w.statefileLost = false;
    w.out.clear();
    for (const h of running) if (!live.includes(h)) w.out.add(h);
    refreshHaHostFields(store, live, running);
    if (
      dead.length > 0 ||
      back.length > 0 ||
      protectedVms(store).some((vm) => str(store.get('VM', vm), 'power_state') === 'Halted')
    )
      await restartAutoRunVms(ctx, live, reset);
  });
  updatePoolStatus(store, live);
}

/** HA off: the coordinator hears from the hosts on its side of the network; nothing restarts anywhere. */
async function reconcilePlain(ctx: SimContext, running: ReadonlySet<string>, booted?: string): Promise<void> {
  const { store } = ctx;
  const w = world(store);
  const master = ref(thePool(store)[1], 'master');
  const reachable = running.has(master)
    ? [...running].filter((h) => groupOf(w, h) === groupOf(w, master))
    : [...running];
  const lost = hostsOf(store).filter((h) => hostLive(store, h) && !reachable.includes(h));
  if (lost.length > 0) await ctx.clock.work('host.assumed_dead', undefined);
  for (const h of lost) setLive(ctx, h, false);
  for (const h of reachable) {
    if (hostLive(store, h)) continue;
    setLive(ctx, h, true, h === booted);
    w.unclean.delete(h);
  }
  w.out.clear();
  for (const h of running) if (!reachable.includes(h)) w.out.add(h);
}

async function reconcile(ctx: SimContext, running: ReadonlySet<string>, booted?: string): Promise<void> {
  rememberContext(ctx);
  if (bool(thePool(ctx.store)[1], 'ha_enabled')) await reconcileHa(ctx, running);
  else await reconcilePlain(ctx, running, booted);
}

/**
 * A host loses power. Without HA the coordinator marks it dead and its guests still look Running there until
 * `VM.power_state_reset` (xapi cannot know they died); with HA the survivors fail over.
 */
export function failHost(ctx: SimContext, host: string): Promise<void> {
  ctx.store.get('host', host);
  return serially(ctx.store, async () => {
    const w = world(ctx.store);
    const running = runningHosts(ctx.store);
    running.delete(host);
    w.out.delete(host);
    w.unclean.add(host);
    await reconcile(ctx, running);
  });
}

/**
 * A host is powered on (its power button, a BMC, `host.power_on`): it boots empty — xapi resyncs the guests the
 * database still shows there as Halted — and rejoins when it can reach the coordinator (with HA: when it is in the
 * best partition). A host that is already up (across a partition, or fenced and waiting) is left as it is.
 */
export function recoverHost(ctx: SimContext, host: string): Promise<void> {
  ctx.store.get('host', host);
  return serially(ctx.store, async () => {
    const running = runningHosts(ctx.store);
    if (running.has(host)) return;
    for (const vm of residentVms(ctx.store, host)) {
      if (!bool(ctx.store.find('VM', vm), 'is_control_domain')) haltDomain(ctx, vm);
    }
    running.add(host);
    await reconcile(ctx, running, host);
  });
}

/**
 * The network splits into groups of hosts that see each other (hosts named in no group form one more group
 * together); every host still sees the storage. A host in two groups is refused (INVALID_VALUE).
 */
export async function partitionHosts(ctx: SimContext, groups: readonly (readonly string[])[]): Promise<void> {
  const all = hostsOf(ctx.store);
  const seen = new Set<string>();
  for (const g of groups)
    for (const h of g) {
      ctx.store.get('host', h);
      if (seen.has(h)) throw new XapiFailure('INVALID_VALUE', ['groups', `host ${h} is in two groups`]);
      seen.add(h);
    }
  const rest = all.filter((h) => !seen.has(h));
  const split = [...groups.map((g) => [...g]), ...(rest.length > 0 ? [rest] : [])].filter(
    (g) => g.length > 0,
  );
  await serially(ctx.store, async () => {
    world(ctx.store).groups = split.length > 1 ? split : undefined;
    await reconcile(ctx, runningHosts(ctx.store));
  });
}

/** The network is whole again: hosts that were cut off (and, with HA, fenced and rebooted) rejoin. */
export function healPartition(ctx: SimContext): Promise<void> {
  return serially(ctx.store, async () => {
    world(ctx.store).groups = undefined;
    await reconcile(ctx, runningHosts(ctx.store));
  });
}

/** The partition now, as groups of host refs (undefined when the network is whole). */
export function currentPartition(store: SimStore): readonly (readonly string[])[] | undefined {
  return world(store).groups;
}

/** One pass of the coordinator's HA monitor (xapi_ha.ml `Monitor`): the liveset, the hosts' HA fields, restarts. */
export function haMonitorPass(ctx: SimContext): Promise<void> {
  return serially(ctx.store, () => reconcile(ctx, runningHosts(ctx.store)));
}
