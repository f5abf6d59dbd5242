/**
 * The VM power-state machine, memory and vCPU settings (ocaml/xapi/xapi_vm.ml, xapi_vm_lifecycle.ml,
 * xapi_vm_helpers.ml, vm_memory_constraints.ml). Every operation first runs the lifecycle checks in XAPI's order,
 * then holds the VM's `current_operations` while simulated time passes, then changes state and derived records.
 */
import { createHash } from 'node:crypto';
import type { SimBehaviour, SimContext, SimRecord, SimStore } from '../contract.js';
import { domainBuilt } from './credit-params.js';
import {
  bootHereError,
  chooseHost,
  masterHost,
  memoryChanged,
  refreshHostMemory,
  schedule,
} from './placement.js';
import { VM_MESSAGES, migrated, onHost, vmMessage } from './messages.js';
import { guestOsVersion } from './vm-guest.js';
import { createVdi, destroyVdi, plugVbd, refreshVbd, unplugVbd } from './storage.js';
import {
  MiB,
  NULL_REF,
  arg,
  bool,
  fail,
  hostLive,
  isNull,
  map,
  num,
  ref,
  residentVms,
  str,
  thePool,
  vbdsOf,
  vifsOf,
} from './util.js';
import { assertVmOperation, refreshVm, withOperation } from './vm-lifecycle.js';

/** Hooks other modules register to react to VM state changes (HA plan checks, metrics). Set by index.ts. */
export const vmHooks: {
  /** Throws HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN if `vm` starting on `host` would break the plan. */
  beforeStart?: (ctx: SimContext, vm: string, host: string) => void;
  /** Called after a domain came up, went down or moved (HA recomputes its plan). */
  afterStateChange?: (store: SimStore) => void;
} = {};

/** The last domid handed out per host: Xen does not reuse one until it wraps (per world, not persisted). */
const lastDomid = new WeakMap<SimStore, Map<string, number>>();

function nextDomid(store: SimStore, host: string): number {
  let m = lastDomid.get(store);
  if (!m) {
    m = new Map();
    lastDomid.set(store, m);
  }
  let last = m.get(host);
  if (last === undefined) {
    last = 0;
    for (const vm of residentVms(store, host)) last = Math.max(last, num(store.find('VM', vm), 'domid'));
  }
  m.set(host, last + 1);
  return last + 1;
}

/** A stable guest IP for a VIF: inside the subnet of a statically configured PIF on its network, else 10.x.y.z. */
function guestIp(store: SimStore, vif: Readonly<SimRecord>, host: string): string {
  const h = createHash('md5')
    .update(str(vif, 'MAC') || str(vif, 'uuid'))
    .digest();
  const net = ref(vif, 'network');
  const pif = store
    .all('PIF')
    .find(([, p]) => p.network === net && p.host === host && str(p, 'IP') !== '' && str(p, 'netmask') !== '');
  if (pif) {
    const ip = str(pif[1], 'IP').split('.').map(Number);
    const mask = str(pif[1], 'netmask').split('.').map(Number);
    if (ip.length === 4 && mask.length === 4 && mask[3] === 0) {
      return `${String(ip[0])}.${String(ip[1])}.${String(ip[2])}.${String(100 + ((h[0] ?? 0) % 150))}`;
    }
  }
  return `10.${String(h[0] ?? 0)}.${String(h[1] ?? 0)}.${String(2 + ((h[2] ?? 0) % 250))}`;
}

/**
 * `VM_metrics.VCPUs_utilisation` as xapi leaves it: the field is Removed (figures come from RRDs), yet records carry
 * it, and xapi_vm.ml `create` (and xapi_vm_helpers.ml when copying metrics for a clone) writes `{0: 0.}`.
 */
export function VCPUS_UTILISATION(): Record<string, number> {
  const m = Object.create(null) as Record<string, number>;
  m['0'] = 0;
  return m;
}

function ensureMetrics(ctx: SimContext, vm: string): string {
  const rec = ctx.store.get('VM', vm);
  const m = ref(rec, 'metrics');
  if (!isNull(m) && ctx.store.find('VM_metrics', m)) return m;
  const created = ctx.store.create('VM_metrics', {
    uuid: ctx.uuid(),
    memory_actual: 0,
    VCPUs_number: 0,
    VCPUs_utilisation: VCPUS_UTILISATION(),
  });
  ctx.store.update('VM', vm, { metrics: created });
  return created;
}

function dropGuestMetrics(store: SimStore, vm: string): void {
  const gm = ref(store.find('VM', vm), 'guest_metrics');
  if (!isNull(gm) && store.find('VM_guest_metrics', gm)) store.destroy('VM_guest_metrics', gm);
  store.update('VM', vm, { guest_metrics: NULL_REF });
}

/** Brings a domain up on `host`: the state a real start, resume or migration leaves behind. */
export function bootDomain(ctx: SimContext, vm: string, host: string, paused: boolean): void {
  const { store } = ctx;
  const rec = store.get('VM', vm);
  const now = ctx.clock.now();
  const domid = nextDomid(store, host);
  const pool = store.all('pool')[0]?.[1];
  schedule(store, vm, NULL_REF);
  store.update('VM', vm, {
    power_state: paused ? 'Paused' : 'Running',
    resident_on: host,
    domid,
    ha_always_run: bool(pool, 'ha_enabled') && str(rec, 'ha_restart_priority') === 'restart',
  });
  // A new domain takes VCPUs_params (credit weight and cap) now, and keeps them until it is built again.
  domainBuilt(store, vm);
  for (const vbd of vbdsOf(store, vm)) plugVbd(store, vbd);
  for (const vif of vifsOf(store, vm)) {
    store.update('VIF', vif, { currently_attached: true });
    refreshVif(store, vif);
  }
  const metrics = ensureMetrics(ctx, vm);
  const vcpus = Math.max(1, num(rec, 'VCPUs_at_startup'));
  const vcpuMap: Record<string, string> = {};
  for (let i = 0; i < vcpus; i++) vcpuMap[String(i)] = String(i % 4);
  store.update('VM_metrics', metrics, {
    start_time: now,
    last_updated: now,
    VCPUs_number: vcpus,
    VCPUs_CPU: vcpuMap,
    memory_actual: num(rec, 'memory_dynamic_max') || num(rec, 'memory_static_max'),
    current_domain_type: str(rec, 'domain_type') || 'hvm',
    hvm: (str(rec, 'domain_type') || 'hvm') === 'hvm',
    state: [],
  });
  // Guest tools report a moment after boot; the simulated guests always run them (networks "N/ip").
  dropGuestMetrics(store, vm);
  const networks: Record<string, string> = {};
  for (const vif of vifsOf(store, vm)) {
    const v = store.get('VIF', vif);
    networks[`${str(v, 'device') || '0'}/ip`] = guestIp(store, v, host);
  }
  const gm = store.create('VM_guest_metrics', {
    uuid: ctx.uuid(),
    // What the guest's agent reports, from the template the VM was made from (vm-guest.ts).
    os_version: guestOsVersion(rec),
    PV_drivers_version: { major: '8', minor: '3', micro: '0' },
    PV_drivers_up_to_date: true,
    PV_drivers_detected: true,
    networks,
    other: {
      'feature-suspend': '1',
      'feature-shutdown': '1',
      'feature-vcpu-hotplug': '1',
      has_vendor_device: '0',
    },
    live: true,
    can_use_hotplug_vbd: 'yes',
    can_use_hotplug_vif: 'yes',
    last_updated: now,
  });
  store.update('VM', vm, { guest_metrics: gm });
  refreshVm(store, vm);
  refreshHostMemory(store, host);
  vmHooks.afterStateChange?.(store);
}

/** Takes a domain down (VM becomes Halted or Suspended): XAPI's force_state_reset. */
export function haltDomain(ctx: SimContext, vm: string, state: 'Halted' | 'Suspended' = 'Halted'): void {
  const { store } = ctx;
  const wasOn = ref(store.get('VM', vm), 'resident_on');
  schedule(store, vm, NULL_REF);
  store.update('VM', vm, {
    power_state: state,
    resident_on: NULL_REF,
    domid: -1,
    ha_always_run: false,
  });
  for (const vbd of vbdsOf(store, vm)) unplugVbd(store, vbd);
  for (const vif of vifsOf(store, vm)) {
    store.update('VIF', vif, { currently_attached: false });
    refreshVif(store, vif);
  }
  const m = ref(store.get('VM', vm), 'metrics');
  if (store.find('VM_metrics', m)) {
    store.update('VM_metrics', m, {
      memory_actual: 0,
      VCPUs_number: 0,
      VCPUs_CPU: {},
      current_domain_type: 'unspecified',
      last_updated: ctx.clock.now(),
    });
  }
  dropGuestMetrics(store, vm);
  if (state === 'Halted') {
    const sv = ref(store.get('VM', vm), 'suspend_VDI');
    if (!isNull(sv) && store.find('VDI', sv)) destroyVdi(store, sv);
    store.update('VM', vm, { suspend_VDI: NULL_REF });
  }
  refreshVm(store, vm);
  if (!isNull(wasOn)) refreshHostMemory(store, wasOn);
  vmHooks.afterStateChange?.(store);
}

/** Keeps VIF.allowed_operations true: plug when detached on a running VM, unplug when attached. */
export function refreshVif(store: SimStore, vif: string): void {
  const rec = store.find('VIF', vif);
  if (!rec) return;
  const power = str(store.find('VM', ref(rec, 'VM')), 'power_state');
  const ops = bool(rec, 'currently_attached')
    ? ['attach', 'unplug']
    : power === 'Running'
      ? ['attach', 'plug']
      : ['attach'];
  store.update('VIF', vif, { allowed_operations: ops });
}

/** Where a start or resume puts the VM: the host asked for (if it can boot it there), else placement's choice. */
function bootTarget(store: SimStore, vm: string, host: string | undefined): string {
  if (host === undefined) return chooseHost(store, vm);
  store.get('host', host);
  const err = bootHereError(store, vm, host);
  if (err) throw err;
  return host;
}

async function start(
  ctx: SimContext,
  vm: string,
  host: string | undefined,
  paused: boolean,
  op: string,
): Promise<void> {
  const { store } = ctx;
  assertVmOperation(store, vm, op);
  const target = bootTarget(store, vm, host);
  vmHooks.beforeStart?.(ctx, vm, target);
  await withOperation(ctx, 'VM', vm, op, refreshVm, async () => {
    schedule(store, vm, target);
    try {
      await ctx.clock.work('VM.start', ctx.task);
    } catch (e) {
      schedule(store, vm, NULL_REF);
      throw e;
    }
    bootDomain(ctx, vm, target, paused);
  });
  vmMessage(ctx, vm, VM_MESSAGES.started, onHost(ctx, 'started', target));
}

async function simpleTransition(
  ctx: SimContext,
  vm: string,
  op: string,
  work: string,
  apply: () => void,
  message?: readonly [readonly [string, number], string],
): Promise<void> {
  assertVmOperation(ctx.store, vm, op);
  await withOperation(ctx, 'VM', vm, op, refreshVm, async () => {
    await ctx.clock.work(work, ctx.task);
    apply();
  });
  if (message) vmMessage(ctx, vm, message[0], message[1]);
}

function suspendSr(store: SimStore, vm: string): string | undefined {
  const rec = store.get('VM', vm);
  const candidates = [
    ref(rec, 'suspend_SR'),
    ref(thePool(store)[1], 'suspend_image_SR'),
    ref(store.find('host', ref(rec, 'resident_on')), 'suspend_image_sr'),
  ];
  return candidates.find((sr) => !isNull(sr) && store.find('SR', sr) !== undefined);
}

async function resume(
  ctx: SimContext,
  vm: string,
  host: string | undefined,
  paused: boolean,
  op: string,
): Promise<void> {
  const { store } = ctx;
  assertVmOperation(store, vm, op);
  const target = bootTarget(store, vm, host);
  await withOperation(ctx, 'VM', vm, op, refreshVm, async () => {
    await ctx.clock.work('VM.resume', ctx.task);
    const sv = ref(store.get('VM', vm), 'suspend_VDI');
    bootDomain(ctx, vm, target, paused);
    if (!isNull(sv) && store.find('VDI', sv)) destroyVdi(store, sv);
    store.update('VM', vm, { suspend_VDI: NULL_REF });
  });
  vmMessage(ctx, vm, VM_MESSAGES.resumed, onHost(ctx, 'resumed', target));
}

/** Memory constraints (vm_memory_constraints.ml): order always; all equal when ballooning is off for the VM. */
export function assertMemoryConstraints(
  vm: Readonly<SimRecord>,
  c: { static_min: number; dynamic_min: number; dynamic_max: number; static_max: number },
): void {
  const values = [c.static_min, c.dynamic_min, c.dynamic_max, c.static_max];
  if (values.some((v) => !Number.isFinite(v) || v < 0)) fail('MEMORY_CONSTRAINT_VIOLATION_ORDER');
  if (!(c.static_min <= c.dynamic_min && c.dynamic_min <= c.dynamic_max && c.dynamic_max <= c.static_max)) {
    fail('MEMORY_CONSTRAINT_VIOLATION_ORDER');
  }
  const platform = map(vm, 'platform');
  const pinned =
    bool(vm, 'is_control_domain') ||
    platform['nested-virt'] === 'true' ||
    platform['exp-nested-hvm'] === 'true';
  if (pinned && !(c.dynamic_min === c.dynamic_max && c.dynamic_max === c.static_max)) {
    fail(
      'MEMORY_CONSTRAINT_VIOLATION_MAXPIN',
      'dynamic_min = dynamic_max = static_max is required for this VM',
    );
  }
}

function memoryOf(vm: Readonly<SimRecord>): {
  static_min: number;
  dynamic_min: number;
  dynamic_max: number;
  static_max: number;
} {
  return {
    static_min: num(vm, 'memory_static_min'),
    dynamic_min: num(vm, 'memory_dynamic_min'),
    dynamic_max: num(vm, 'memory_dynamic_max'),
    static_max: num(vm, 'memory_static_max'),
  };
}

function setMemory(
  ctx: SimContext,
  vm: string,
  op: string,
  patch: Partial<{ static_min: number; dynamic_min: number; dynamic_max: number; static_max: number }>,
): void {
  const rec = assertVmOperation(ctx.store, vm, op);
  const next = { ...memoryOf(rec), ...patch };
  assertMemoryConstraints(rec, next);
  memoryChanged(ctx.store);
  ctx.store.update('VM', vm, {
    memory_static_min: next.static_min,
    memory_dynamic_min: next.dynamic_min,
    memory_dynamic_max: next.dynamic_max,
    memory_static_max: next.static_max,
    memory_target: next.dynamic_max,
  });
  if (str(rec, 'power_state') === 'Running') {
    const m = ref(rec, 'metrics');
    if (ctx.store.find('VM_metrics', m))
      ctx.store.update('VM_metrics', m, { memory_actual: next.dynamic_max });
  }
  refreshVm(ctx.store, vm);
}

/** validate_VCPUs_configuration (xapi_vm_helpers.ml). */
function assertVcpus(max: number, atStartup: number): void {
  if (!Number.isInteger(max) || max < 1) fail('INVALID_VALUE', 'VCPUs_max', String(max));
  if (!Number.isInteger(atStartup) || atStartup < 1)
    fail('INVALID_VALUE', 'VCPUs_at_startup', String(atStartup));
  if (atStartup > max) {
    fail('INVALID_VALUE', 'VCPUs_at_startup must be less than or equal to VCPUs_max', String(atStartup));
  }
}

const vmArg = (args: readonly unknown[]): string => arg.str(args, 0);

const handlers: Record<string, (ctx: SimContext, args: readonly unknown[]) => unknown> = {
  'VM.start': (ctx, args) => start(ctx, vmArg(args), undefined, arg.bool(args, 1), 'start'),
  'VM.start_on': (ctx, args) => start(ctx, vmArg(args), arg.str(args, 1), arg.bool(args, 2), 'start_on'),
  'VM.assert_can_boot_here': (ctx, args) => {
    const vm = vmArg(args);
    const host = arg.str(args, 1);
    ctx.store.get('VM', vm);
    ctx.store.get('host', host);
    const err = bootHereError(ctx.store, vm, host);
    if (err) throw err;
  },
  'VM.get_possible_hosts': (ctx, args) => {
    const vm = vmArg(args);
    ctx.store.get('VM', vm);
    return ctx.store
      .all('host')
      .map(([h]) => h)
      .filter((h) => bootHereError(ctx.store, vm, h) === undefined);
  },
  'VM.pause': (ctx, args) => {
    const vm = vmArg(args);
    return simpleTransition(
      ctx,
      vm,
      'pause',
      'VM.pause',
      () => {
        ctx.store.update('VM', vm, { power_state: 'Paused' });
        refreshVm(ctx.store, vm);
      },
      [VM_MESSAGES.paused, 'paused'],
    );
  },
  'VM.unpause': (ctx, args) => {
    const vm = vmArg(args);
    return simpleTransition(
      ctx,
      vm,
      'unpause',
      'VM.unpause',
      () => {
        ctx.store.update('VM', vm, { power_state: 'Running' });
        refreshVm(ctx.store, vm);
      },
      [VM_MESSAGES.unpaused, 'unpaused'],
    );
  },
  'VM.clean_shutdown': (ctx, args) => {
    const vm = vmArg(args);
    return simpleTransition(
      ctx,
      vm,
      'clean_shutdown',
      'VM.clean_shutdown',
      () => {
        haltDomain(ctx, vm);
      },
      [VM_MESSAGES.shutdown, 'shutdown'],
    );
  },
  'VM.hard_shutdown': (ctx, args) => {
    const vm = vmArg(args);
    return simpleTransition(
      ctx,
      vm,
      'hard_shutdown',
      'VM.hard_shutdown',
      () => {
        haltDomain(ctx, vm);
      },
      [VM_MESSAGES.shutdown, 'shutdown forcibly'],
    );
  },
  'VM.shutdown': (ctx, args) => {
    const vm = vmArg(args);
    return simpleTransition(
      ctx,
      vm,
      'shutdown',
      'VM.clean_shutdown',
      () => {
        haltDomain(ctx, vm);
      },
      [VM_MESSAGES.shutdown, 'shutdown'],
    );
  },
  'VM.clean_reboot': (ctx, args) => {
    const vm = vmArg(args);
    return simpleTransition(
      ctx,
      vm,
      'clean_reboot',
      'VM.clean_reboot',
      () => {
        const host = ref(ctx.store.get('VM', vm), 'resident_on');
        bootDomain(ctx, vm, host, false);
      },
      [VM_MESSAGES.rebooted, 'rebooted cleanly'],
    );
  },
  'VM.hard_reboot': (ctx, args) => {
    const vm = vmArg(args);
    return simpleTransition(
      ctx,
      vm,
      'hard_reboot',
      'VM.hard_reboot',
      () => {
        const host = ref(ctx.store.get('VM', vm), 'resident_on');
        bootDomain(ctx, vm, host, false);
      },
      [VM_MESSAGES.rebooted, 'rebooted forcibly'],
    );
  },
  'VM.suspend': async (ctx, args) => {
    const vm = vmArg(args);
    const rec = assertVmOperation(ctx.store, vm, 'suspend');
    const sr = suspendSr(ctx.store, vm);
    if (sr === undefined) fail('VM_NO_SUSPEND_SR', vm);
    await withOperation(ctx, 'VM', vm, 'suspend', refreshVm, async () => {
      // The suspend image holds the guest's memory plus device state (xapi creates it static_max + 5 MiB [est]).
      const size = num(rec, 'memory_static_max') + 5 * MiB;
      const vdi = createVdi(ctx, sr, {
        name_label: 'Suspend image',
        name_description: 'Suspend image',
        type: 'suspend',
        virtual_size: size,
        other_config: { vm: str(rec, 'uuid') },
      });
      await ctx.clock.work('VM.suspend', ctx.task);
      haltDomain(ctx, vm, 'Suspended');
      ctx.store.update('VM', vm, { suspend_VDI: vdi });
      refreshVm(ctx.store, vm);
    });
    vmMessage(ctx, vm, VM_MESSAGES.suspended, 'suspended');
  },
  'VM.resume': (ctx, args) => resume(ctx, vmArg(args), undefined, arg.bool(args, 1), 'resume'),
  'VM.resume_on': (ctx, args) => resume(ctx, vmArg(args), arg.str(args, 1), arg.bool(args, 2), 'resume_on'),
  'VM.power_state_reset': (ctx, args) => {
    const vm = vmArg(args);
    const rec = assertVmOperation(ctx.store, vm, 'power_state_reset');
    const power = str(rec, 'power_state');
    const host = ref(rec, 'resident_on');
    if ((power === 'Running' || power === 'Paused') && !isNull(host) && hostLive(ctx.store, host)) {
      // xapi_vm.ml power_state_reset: refuses to forget a domain that a live host still runs.
      if (host === masterHost(ctx.store)) fail('DOMAIN_EXISTS', vm, String(num(rec, 'domid')));
      fail('HOST_IS_LIVE', host);
    }
    haltDomain(ctx, vm);
  },
  'VM.pool_migrate': async (ctx, args) => {
    const vm = vmArg(args);
    const host = arg.str(args, 1);
    assertVmOperation(ctx.store, vm, 'pool_migrate');
    ctx.store.get('host', host);
    const from = ref(ctx.store.get('VM', vm), 'resident_on');
    const err = bootHereError(ctx.store, vm, host);
    if (err) throw err;
    await withOperation(ctx, 'VM', vm, 'pool_migrate', refreshVm, async () => {
      schedule(ctx.store, vm, host);
      await ctx.clock.work('VM.pool_migrate', ctx.task);
      migrateDomain(ctx, vm, from, host);
    });
    vmMessage(ctx, vm, VM_MESSAGES.migrated, migrated(ctx, from, host));
  },
  'VM.set_memory_limits': (ctx, args) => {
    setMemory(ctx, vmArg(args), 'changing_memory_limits', {
      static_min: arg.num(args, 1),
      static_max: arg.num(args, 2),
      dynamic_min: arg.num(args, 3),
      dynamic_max: arg.num(args, 4),
    });
  },
  'VM.set_memory_static_range': (ctx, args) => {
    setMemory(ctx, vmArg(args), 'changing_static_range', {
      static_min: arg.num(args, 1),
      static_max: arg.num(args, 2),
    });
  },
  'VM.set_memory_dynamic_range': (ctx, args) => {
    setMemory(ctx, vmArg(args), 'changing_dynamic_range', {
      dynamic_min: arg.num(args, 1),
      dynamic_max: arg.num(args, 2),
    });
  },
  'VM.set_memory': (ctx, args) => {
    const v = arg.num(args, 1);
    setMemory(ctx, vmArg(args), 'changing_memory_limits', { static_max: v, dynamic_min: v, dynamic_max: v });
  },
  'VM.set_memory_static_max': (ctx, args) => {
    setMemory(ctx, vmArg(args), 'changing_static_range', { static_max: arg.num(args, 1) });
  },
  'VM.set_memory_static_min': (ctx, args) => {
    setMemory(ctx, vmArg(args), 'changing_static_range', { static_min: arg.num(args, 1) });
  },
  'VM.set_memory_dynamic_max': (ctx, args) => {
    setMemory(ctx, vmArg(args), 'changing_dynamic_range', { dynamic_max: arg.num(args, 1) });
  },
  'VM.set_memory_dynamic_min': (ctx, args) => {
    setMemory(ctx, vmArg(args), 'changing_dynamic_range', { dynamic_min: arg.num(args, 1) });
  },
  'VM.set_memory_target_live': (ctx, args) => {
    const vm = vmArg(args);
    const rec = assertVmOperation(ctx.store, vm, 'changing_memory_live');
    const target = arg.num(args, 1);
    const m = memoryOf(rec);
    if (!(target >= m.dynamic_min && target <= m.dynamic_max))
      fail('INVALID_VALUE', 'target', String(target));
    const metrics = ref(rec, 'metrics');
    if (ctx.store.find('VM_metrics', metrics))
      ctx.store.update('VM_metrics', metrics, { memory_actual: target });
  },
  'VM.set_VCPUs_max': (ctx, args) => {
    const vm = vmArg(args);
    const rec = assertVmOperation(ctx.store, vm, 'changing_VCPUs');
    const v = arg.num(args, 1);
    assertVcpus(v, num(rec, 'VCPUs_at_startup'));
    ctx.store.update('VM', vm, { VCPUs_max: v });
    refreshVm(ctx.store, vm);
  },
  'VM.set_VCPUs_at_startup': (ctx, args) => {
    const vm = vmArg(args);
    const rec = assertVmOperation(ctx.store, vm, 'changing_VCPUs');
    const v = arg.num(args, 1);
    assertVcpus(num(rec, 'VCPUs_max'), v);
    ctx.store.update('VM', vm, { VCPUs_at_startup: v });
    refreshVm(ctx.store, vm);
  },
  'VM.set_VCPUs_number_live': (ctx, args) => {
    const vm = vmArg(args);
    const rec = assertVmOperation(ctx.store, vm, 'changing_VCPUs_live');
    const n = arg.num(args, 1);
    if (!Number.isInteger(n) || n < 1 || n > num(rec, 'VCPUs_max')) fail('INVALID_VALUE', 'nvcpu', String(n));
    ctx.store.update('VM', vm, { VCPUs_at_startup: n });
    const m = ref(rec, 'metrics');
    if (ctx.store.find('VM_metrics', m)) ctx.store.update('VM_metrics', m, { VCPUs_number: n });
  },
  'VM.set_suspend_SR': (ctx, args) => {
    const vm = vmArg(args);
    const sr = arg.str(args, 1);
    ctx.store.get('VM', vm);
    if (!isNull(sr)) ctx.store.get('SR', sr);
    ctx.store.update('VM', vm, { suspend_SR: sr });
  },
  'VM.get_allowed_VBD_devices': (ctx, args) => {
    const vm = vmArg(args);
    const used = new Set(vbdsOf(ctx.store, vm).map((b) => str(ctx.store.find('VBD', b), 'userdevice')));
    return Array.from({ length: 16 }, (_, i) => String(i)).filter((d) => !used.has(d));
  },
  'VM.get_allowed_VIF_devices': (ctx, args) => {
    const vm = vmArg(args);
    const used = new Set(vifsOf(ctx.store, vm).map((v) => str(ctx.store.find('VIF', v), 'device')));
    return Array.from({ length: 7 }, (_, i) => String(i)).filter((d) => !used.has(d));
  },
  'VM.assert_operation_valid': (ctx, args) => {
    assertVmOperation(ctx.store, vmArg(args), arg.str(args, 1));
  },
  'VM.update_allowed_operations': (ctx, args) => {
    refreshVm(ctx.store, vmArg(args));
  },
};

/** Moves a running domain to another host (pool_migrate, evacuate, HA). */
export function migrateDomain(ctx: SimContext, vm: string, from: string, to: string): void {
  const { store } = ctx;
  const paused = str(store.get('VM', vm), 'power_state') === 'Paused';
  const metrics = ref(store.get('VM', vm), 'metrics');
  const start = store.find('VM_metrics', metrics)?.start_time;
  bootDomain(ctx, vm, to, paused);
  if (from !== to && !isNull(from) && ctx.store.find('host', from)) refreshHostMemory(store, from);
  if (start !== undefined && from !== to) store.update('VM_metrics', metrics, { start_time: start });
}

/** VM behaviour: power-state machine, memory and vCPU settings; keeps allowed_operations true after any change. */
export const vmBehaviour: SimBehaviour = {
  handlers,
  afterChange(ctx, cls, r) {
    if (cls === 'VM') {
      // A generic setter or create may have touched memory or vCPU fields.
      memoryChanged(ctx.store);
      refreshVm(ctx.store, r);
    } else if (cls === 'VIF') refreshVif(ctx.store, r);
    else if (cls === 'VBD') refreshVbd(ctx.store, r);
  },
};
