/**
 * Hosts: enable/disable, evacuation planning and evacuation, reboot/shutdown/power_on, free memory and data sources
 * (ocaml/xapi/xapi_host.ml, xapi_host_helpers.ml).
 */
import type { SimBehaviour, SimContext, SimStore } from '../contract.js';
import { XapiFailure } from '../contract.js';
import { dataSourceRecords, hostDataSources, queryDataSource, vmDataSources } from './metrics.js';
import { bootHereError, hostFreeMemory, schedule, vmReservedMemory } from './placement.js';
import { arg, bool, fail, hostLive, map, num, ref, residentVms, str } from './util.js';
import { haltDomain, migrateDomain } from './vm.js';
import { assertVmOperation, refreshVm, withOperation } from './vm-lifecycle.js';

const HOST_OPS = [
  'provision',
  'evacuate',
  'shutdown',
  'reboot',
  'power_on',
  'vm_start',
  'vm_resume',
  'vm_migrate',
  'apply_updates',
  'enable',
] as const;
const CREATING = new Set(['provision', 'vm_resume', 'vm_migrate']);
/** Hooks of other modules, set by ha.ts: HA refuses a disable that breaks its plan and decides when a host rejoins. */
export const hostHooks: {
  /** Throws HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN if disabling (or evacuating) the host would break the plan. */
  beforeDisable?: (ctx: SimContext, host: string) => void;
  /** The host is powered on: it boots (unless it is up already) and rejoins the pool when it can reach it. */
  powerOn?: (ctx: SimContext, host: string) => Promise<void>;
} = {};
const REMOVING = new Set(['evacuate', 'reboot', 'shutdown']);

/**
 * The error a host operation would raise now, or undefined (xapi_host_helpers.ml `valid_operations`): creating
 * and removing operations exclude each other, reboot/shutdown need a disabled host, power_on a dead one with a
 * power-on mode.
 */
export function hostOperationError(store: SimStore, host: string, op: string): string[] | undefined {
  const h = store.get('host', host);
  const current = Object.entries(map(h, 'current_operations'));
  if (op !== 'power_on') {
    const removing = current.find(([, o]) => REMOVING.has(o));
    const creating = current.find(([, o]) => CREATING.has(o));
    const clash = CREATING.has(op) ? removing : REMOVING.has(op) ? creating : undefined;
    if (clash) return ['OTHER_OPERATION_IN_PROGRESS', 'host', host, clash[1], clash[0]];
  }
  for (const [busy, blocks] of [
    ['reboot', ['shutdown', 'apply_updates']],
    ['shutdown', ['reboot', 'apply_updates']],
    ['apply_updates', ['reboot', 'shutdown', 'enable']],
    ['provision', ['provision']],
  ] as const) {
    const running = current.find(([, o]) => o === busy);
    if (running && (blocks as readonly string[]).includes(op)) {
      return ['OTHER_OPERATION_IN_PROGRESS', 'host', host, busy, running[0]];
    }
  }
  if (bool(h, 'enabled') && ['reboot', 'shutdown', 'apply_updates'].includes(op))
    return ['HOST_NOT_DISABLED'];
  if (op === 'power_on') {
    if (hostLive(store, host)) return ['HOST_IS_LIVE', host];
    if (str(h, 'power_on_mode') === '') return ['HOST_POWER_ON_MODE_DISABLED'];
  }
  return undefined;
}

/** Keeps host.allowed_operations true. */
export function refreshHost(store: SimStore, host: string): void {
  if (!store.find('host', host)) return;
  const ops = HOST_OPS.filter((op) => hostOperationError(store, host, op) === undefined);
  store.update('host', host, { allowed_operations: ops });
}

function assertHostOperation(store: SimStore, host: string, op: string): void {
  const e = hostOperationError(store, host, op);
  if (e) fail(e[0] ?? 'INTERNAL_ERROR', ...e.slice(1));
}

/** Guest domains running on a host (control domain excluded). */
function guests(store: SimStore, host: string): string[] {
  return residentVms(store, host).filter((vm) => !bool(store.find('VM', vm), 'is_control_domain'));
}

/**
 * The evacuation plan (xapi_host.ml `compute_evacuation_plan`): a target host for every guest, packed greedily by
 * memory; per VM the error that prevents it. No host with room → HOST_NOT_ENOUGH_FREE_MEMORY (actual: [vm]).
 */
export function evacuationPlan(
  store: SimStore,
  host: string,
): { moves: [string, string][]; errors: Map<string, XapiFailure> } {
  const others = store
    .all('host')
    .map(([h]) => h)
    .filter((h) => h !== host);
  const planned = new Map<string, number>();
  const moves: [string, string][] = [];
  const errors = new Map<string, XapiFailure>();
  const vms = guests(store, host).sort(
    (a, b) => vmReservedMemory(store.get('VM', b)) - vmReservedMemory(store.get('VM', a)),
  );
  for (const vm of vms) {
    const power = str(store.get('VM', vm), 'power_state');
    if (power !== 'Running') {
      errors.set(vm, new XapiFailure('VM_BAD_POWER_STATE', [vm, 'running', power.toLowerCase()]));
      continue;
    }
    let target: string | undefined;
    let firstError: XapiFailure | undefined;
    let memoryOnly = false;
    for (const h of others) {
      const err = bootHereError(store, vm, h);
      if (err && err.code !== 'HOST_NOT_ENOUGH_FREE_MEMORY') {
        firstError ??= err;
        continue;
      }
      const free = hostFreeMemory(store, h) - (planned.get(h) ?? 0);
      if (vmReservedMemory(store.get('VM', vm)) > free) {
        memoryOnly = true;
        continue;
      }
      target = h;
      break;
    }
    if (target === undefined) {
      errors.set(
        vm,
        memoryOnly || !firstError ? new XapiFailure('HOST_NOT_ENOUGH_FREE_MEMORY', [vm]) : firstError,
      );
      continue;
    }
    planned.set(target, (planned.get(target) ?? 0) + vmReservedMemory(store.get('VM', vm)));
    moves.push([vm, target]);
  }
  return { moves, errors };
}

async function evacuate(ctx: SimContext, host: string): Promise<void> {
  const { store } = ctx;
  store.get('host', host);
  const plan = evacuationPlan(store, host);
  const first = [...plan.errors.values()][0];
  if (first) throw first;
  await withOperation(ctx, 'host', host, 'evacuate', refreshHost, async () => {
    for (const [vm, target] of plan.moves) {
      assertVmOperation(store, vm, 'pool_migrate');
      await withOperation(ctx, 'VM', vm, 'pool_migrate', refreshVm, async () => {
        schedule(store, vm, target);
        await ctx.clock.work('VM.pool_migrate', ctx.task);
        migrateDomain(ctx, vm, host, target);
      });
    }
  });
}

/** Marks a host live or dead (host_metrics.live) and refreshes what depends on it. */
export function setHostLive(ctx: SimContext, host: string, live: boolean): void {
  const h = ctx.store.get('host', host);
  const m = ref(h, 'metrics');
  if (ctx.store.find('host_metrics', m)) {
    ctx.store.update('host_metrics', m, { live, last_updated: ctx.clock.now() });
  }
  refreshHost(ctx.store, host);
}

const handlers: Record<string, (ctx: SimContext, args: readonly unknown[]) => unknown> = {
  'host.disable': (ctx, args) => {
    const host = arg.str(args, 0);
    const h = ctx.store.get('host', host);
    hostHooks.beforeDisable?.(ctx, host);
    ctx.store.update('host', host, {
      enabled: false,
      other_config: { ...map(h, 'other_config'), ...(arg.bool(args, 1) ? { auto_enable: 'true' } : {}) },
    });
    refreshHost(ctx.store, host);
  },
  'host.enable': (ctx, args) => {
    const host = arg.str(args, 0);
    ctx.store.get('host', host);
    if (!hostLive(ctx.store, host)) fail('HOST_OFFLINE', host);
    ctx.store.update('host', host, { enabled: true });
    refreshHost(ctx.store, host);
  },
  'host.get_vms_which_prevent_evacuation': (ctx, args) => {
    const host = arg.str(args, 0);
    ctx.store.get('host', host);
    const out: Record<string, string[]> = {};
    for (const [vm, err] of evacuationPlan(ctx.store, host).errors) out[vm] = [err.code, ...err.params];
    return out;
  },
  'host.assert_can_evacuate': (ctx, args) => {
    const host = arg.str(args, 0);
    ctx.store.get('host', host);
    const { errors } = evacuationPlan(ctx.store, host);
    if (errors.size > 0) {
      fail(
        'CANNOT_EVACUATE_HOST',
        [...errors.values()].map((e) => [e.code, ...e.params].join(',')).join('|'),
      );
    }
  },
  'host.evacuate': (ctx, args) => {
    const host = arg.str(args, 0);
    ctx.store.get('host', host);
    hostHooks.beforeDisable?.(ctx, host);
    return evacuate(ctx, host);
  },
  'host.reboot': async (ctx, args) => {
    const host = arg.str(args, 0);
    ctx.store.get('host', host);
    assertHostOperation(ctx.store, host, 'reboot');
    await withOperation(ctx, 'host', host, 'reboot', refreshHost, async () => {
      // prepare_for_poweroff: Vm_evacuation.ensure_no_vms shuts down whatever still runs there.
      for (const vm of guests(ctx.store, host)) haltDomain(ctx, vm);
      setHostLive(ctx, host, false);
      await ctx.clock.work('host.reboot', ctx.task);
      setHostLive(ctx, host, true);
      // A rebooted host comes back enabled (xapi re-enables on startup unless told otherwise).
      ctx.store.update('host', host, { enabled: true });
    });
    refreshHost(ctx.store, host);
  },
  'host.shutdown': async (ctx, args) => {
    const host = arg.str(args, 0);
    ctx.store.get('host', host);
    assertHostOperation(ctx.store, host, 'shutdown');
    await withOperation(ctx, 'host', host, 'shutdown', refreshHost, async () => {
      for (const vm of guests(ctx.store, host)) haltDomain(ctx, vm);
      await ctx.clock.work('host.shutdown', ctx.task);
      setHostLive(ctx, host, false);
    });
    refreshHost(ctx.store, host);
  },
  'host.power_on': async (ctx, args) => {
    const host = arg.str(args, 0);
    ctx.store.get('host', host);
    assertHostOperation(ctx.store, host, 'power_on');
    await ctx.clock.work('host.power_on', ctx.task);
    if (hostHooks.powerOn) await hostHooks.powerOn(ctx, host);
    else {
      setHostLive(ctx, host, true);
      ctx.store.update('host', host, { enabled: true });
    }
    refreshHost(ctx.store, host);
  },
  'host.set_power_on_mode': (ctx, args) => {
    const host = arg.str(args, 0);
    ctx.store.get('host', host);
    const mode = arg.str(args, 1);
    // xapi_host.ml set_power_on_mode: "", "wake-on-lan", "iLO", "DRAC" or a custom plugin name
    ctx.store.update('host', host, { power_on_mode: mode, power_on_config: arg.map(args, 2) });
    refreshHost(ctx.store, host);
  },
  'host.compute_free_memory': (ctx, args) => hostFreeMemory(ctx.store, arg.str(args, 0)),
  'host.compute_memory_overhead': (ctx, args) =>
    num(ctx.store.get('host', arg.str(args, 0)), 'memory_overhead'),
  'host.get_data_sources': (ctx, args) =>
    dataSourceRecords(hostDataSources(ctx.store, arg.str(args, 0), ctx.clock.now())),
  'host.query_data_source': (ctx, args) =>
    queryDataSource(hostDataSources(ctx.store, arg.str(args, 0), ctx.clock.now()), arg.str(args, 1)),
  'host.record_data_source': (ctx, args) => {
    queryDataSource(hostDataSources(ctx.store, arg.str(args, 0), ctx.clock.now()), arg.str(args, 1));
  },
  'host.forget_data_source_archives': (ctx, args) => {
    ctx.store.get('host', arg.str(args, 0));
  },
  'VM.get_data_sources': (ctx, args) => {
    const vm = arg.str(args, 0);
    assertVmOperation(ctx.store, vm, 'data_source_op');
    return dataSourceRecords(vmDataSources(ctx.store, vm, ctx.clock.now()));
  },
  'VM.query_data_source': (ctx, args) => {
    const vm = arg.str(args, 0);
    assertVmOperation(ctx.store, vm, 'data_source_op');
    return queryDataSource(vmDataSources(ctx.store, vm, ctx.clock.now()), arg.str(args, 1));
  },
  'VM.record_data_source': (ctx, args) => {
    const vm = arg.str(args, 0);
    assertVmOperation(ctx.store, vm, 'data_source_op');
    queryDataSource(vmDataSources(ctx.store, vm, ctx.clock.now()), arg.str(args, 1));
  },
};

/** Host behaviour. */
export const hostBehaviour: SimBehaviour = {
  handlers,
  afterChange(ctx, cls, r) {
    if (cls === 'host') refreshHost(ctx.store, r);
    else if (cls === 'host_metrics') {
      const host = ctx.store.all('host').find(([, h]) => h.metrics === r)?.[0];
      if (host !== undefined) refreshHost(ctx.store, host);
    }
  },
};
