/**
 * vApps (`VM_appliance`) as xapi runs them (ocaml/xapi/xapi_vm_appliance.ml, xapi_vm_appliance_lifecycle.ml,
 * message_forwarding.ml `with_vm_appliance_operation`, xapi_vm.ml `set_appliance`):
 *
 * - `start(paused)` groups the VMs not yet in the wanted state by their `order`, runs the groups in ascending order
 *   (every VM of a group at once), each VM's start followed by its `start_delay` seconds (xapi waits it inside
 *   VM.start), and the next group only once the whole group is done; `clean_shutdown`, `hard_shutdown` and `shutdown`
 *   (= hard_shutdown) run the groups in descending order, each VM followed by its `shutdown_delay`. VMs that did not
 *   reach the state make `OPERATION_PARTIALLY_FAILED [VM_appliance.<op>, vm…]` at the end.
 * - One operation at a time (`OTHER_OPERATION_IN_PROGRESS [VM_appliance, ref]`); `OPERATION_NOT_ALLOWED` with
 *   xapi's reasons when no VM could take part; `allowed_operations` follows the members' power states.
 * - Delays use the simulated clock: operation `VM.start_delay` / `VM.shutdown_delay` per second of delay (scenario
 *   `durations`, as behaviour/ha-failover.ts does for HA restarts; zero unless set, and in fast mode).
 *
 * Recovery (`assert_can_be_recovered`, `get_SRs_required_for_recovery`, `recover`) is in dr.ts.
 * @module
 */
import type { SimBehaviour, SimContext, SimHandler, SimStore } from '../contract.js';
import { engineOf } from '../engine.js';
import { arg, fail, isNull, map, num, operationId, ref, str, strings } from './util.js';
import { refreshVm } from './vm-lifecycle.js';

const OPS = ['start', 'clean_shutdown', 'hard_shutdown', 'shutdown'] as const;
type ApplianceOp = (typeof OPS)[number];

/** Members of an appliance (the store keeps `VM_appliance.VMs` from `VM.appliance`). */
export function applianceVms(store: SimStore, appliance: string): string[] {
  return strings(store.find('VM_appliance', appliance), 'VMs').filter((vm) => store.find('VM', vm));
}

/** xapi_vm_appliance_lifecycle.ml `check_operation_error`: the reason an operation may not run now, if any. */
export function applianceOperationError(
  store: SimStore,
  appliance: string,
  op: ApplianceOp,
): readonly [string, ...string[]] | undefined {
  const rec = store.get('VM_appliance', appliance);
  if (Object.keys(map(rec, 'current_operations')).length > 0)
    return ['OTHER_OPERATION_IN_PROGRESS', 'VM_appliance', appliance];
  const states = applianceVms(store, appliance).map((vm) => str(store.find('VM', vm), 'power_state'));
  if (states.length === 0) return ['OPERATION_NOT_ALLOWED', 'Appliance has no VMs.'];
  const [ok, reason] =
    op === 'start'
      ? [states.includes('Halted'), 'There are no halted VMs in this appliance.']
      : op === 'clean_shutdown'
        ? [states.includes('Running'), 'There are no running VMs in this appliance.']
        : [states.some((s) => s !== 'Halted'), 'All VMs in this appliance are halted.'];
  return ok ? undefined : ['OPERATION_NOT_ALLOWED', reason];
}

/** Recomputes an appliance's `allowed_operations` (no event when unchanged). */
export function refreshAppliance(store: SimStore, appliance: string): void {
  const rec = store.find('VM_appliance', appliance);
  if (!rec) return;
  const next = OPS.filter((op) => applianceOperationError(store, appliance, op) === undefined);
  const prev = strings(rec, 'allowed_operations');
  if (prev.length !== next.length || prev.some((p, i) => p !== next[i]))
    store.update('VM_appliance', appliance, { allowed_operations: next });
}

// Members' power states change in many handlers (VM.start, HA, faults): a store listener notes the appliances of VMs
// that changed and refreshes them once the current change is over (never from inside the store's own notification).
const watched = new WeakSet<SimStore>();

function watch(store: SimStore): void {
  if (watched.has(store)) return;
  const s = store as SimStore & { subscribe?: (fn: (cls: string, ref: string) => void) => () => void };
  if (typeof s.subscribe !== 'function') return;
  watched.add(store);
  const dirty = new Set<string>();
  let queued = false;
  s.subscribe((cls, r) => {
    if (cls !== 'VM') return;
    const app = ref(store.find('VM', r), 'appliance');
    if (isNull(app)) return;
    dirty.add(app);
    if (queued) return;
    queued = true;
    queueMicrotask(() => {
      queued = false;
      const apps = [...dirty];
      dirty.clear();
      for (const a of apps) refreshAppliance(store, a);
    });
  });
}

function applianceArg(ctx: SimContext, args: readonly unknown[]): string {
  const self = arg.str(args, 0);
  ctx.store.get('VM_appliance', self);
  watch(ctx.store);
  return self;
}

/** message_forwarding.ml `with_vm_appliance_operation`: the op in `current_operations` under the task while it runs. */
async function withApplianceOperation<T>(
  ctx: SimContext,
  self: string,
  op: ApplianceOp,
  body: () => Promise<T>,
): Promise<T> {
  const err = applianceOperationError(ctx.store, self, op);
  if (err) fail(...err);
  const id = operationId(ctx);
  ctx.store.update('VM_appliance', self, {
    current_operations: { ...map(ctx.store.get('VM_appliance', self), 'current_operations'), [id]: op },
  });
  refreshAppliance(ctx.store, self);
  try {
    return await body();
  } finally {
    const rec = ctx.store.find('VM_appliance', self);
    if (rec) {
      const ops = map(rec, 'current_operations');
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- keyed by task ref, as xapi stores it
      delete ops[id];
      ctx.store.update('VM_appliance', self, { current_operations: ops });
      refreshAppliance(ctx.store, self);
    }
  }
}

/** Groups of VMs by `order`: ascending to start, descending to shut down (xapi_vm_appliance.ml create_action_list). */
export function actionGroups(store: SimStore, vms: readonly string[], ascending: boolean): string[][] {
  const byOrder = new Map<number, string[]>();
  for (const vm of vms) {
    const order = num(store.find('VM', vm), 'order');
    byOrder.set(order, [...(byOrder.get(order) ?? []), vm]);
  }
  const orders = [...byOrder.keys()].sort((a, b) => (ascending ? a - b : b - a));
  return orders.map((o) => byOrder.get(o) ?? []);
}

interface Operation {
  readonly name: string;
  readonly vmCall: string;
  readonly vmArgs: readonly unknown[];
  readonly required: string;
  readonly ascending: boolean;
  /** Clock operation waited per second of the VM's delay field after its call. */
  readonly delay: readonly [clockOp: string, field: string];
}

async function perform(ctx: SimContext, self: string, op: Operation): Promise<void> {
  const engine = engineOf(ctx.store);
  if (!engine) fail('INTERNAL_ERROR', 'xenlab: no engine for this store');
  const state = (vm: string): string => str(ctx.store.find('VM', vm), 'power_state');
  const targets = applianceVms(ctx.store, self).filter((vm) => state(vm) !== op.required);
  const groups = actionGroups(ctx.store, targets, op.ascending);
  let done = 0;
  for (const group of groups) {
    // A VM whose call fails is left where it is; the others go on (run_operation_on_vms).
    await Promise.all(
      group.map(async (vm) => {
        try {
          await engine.invoke(op.vmCall, [vm, ...op.vmArgs]);
        } catch {
          return;
        }
        const seconds = num(ctx.store.find('VM', vm), op.delay[1]);
        if (seconds > 0) await ctx.clock.work(op.delay[0], undefined, seconds);
      }),
    );
    done += group.length;
    if (targets.length > 0) ctx.task?.setProgress(done / targets.length);
  }
  const failed = targets.filter((vm) => ctx.store.find('VM', vm) && state(vm) !== op.required);
  if (failed.length > 0) fail('OPERATION_PARTIALLY_FAILED', op.name, ...failed);
}

function shutdownOp(name: string, vmCall: string): Operation {
  return {
    name,
    vmCall,
    vmArgs: [],
    required: 'Halted',
    ascending: false,
    delay: ['VM.shutdown_delay', 'shutdown_delay'],
  };
}

const handlers: Record<string, SimHandler> = {
  'VM_appliance.create': (ctx, args) => {
    watch(ctx.store);
    const rec = (args[0] ?? {}) as Record<string, unknown>;
    const self = ctx.store.create('VM_appliance', {
      uuid: ctx.uuid(),
      name_label: typeof rec.name_label === 'string' ? rec.name_label : '',
      name_description: typeof rec.name_description === 'string' ? rec.name_description : '',
      allowed_operations: [],
      current_operations: {},
    });
    refreshAppliance(ctx.store, self);
    return self;
  },
  'VM_appliance.destroy': (ctx, args) => {
    const self = applianceArg(ctx, args);
    // The members' `appliance` no longer points anywhere (xapi's db leaves a dangling ref the GC resets).
    const members = applianceVms(ctx.store, self);
    for (const vm of members) ctx.store.update('VM', vm, { appliance: 'OpaqueRef:NULL' });
    ctx.store.destroy('VM_appliance', self);
    for (const vm of members) refreshVm(ctx.store, vm);
  },
  'VM_appliance.start': (ctx, args) => {
    const self = applianceArg(ctx, args);
    const paused = arg.bool(args, 1);
    return withApplianceOperation(ctx, self, 'start', () =>
      perform(ctx, self, {
        name: 'VM_appliance.start',
        vmCall: 'VM.start',
        vmArgs: [paused, false],
        required: paused ? 'Paused' : 'Running',
        ascending: true,
        delay: ['VM.start_delay', 'start_delay'],
      }),
    );
  },
  'VM_appliance.clean_shutdown': (ctx, args) => {
    const self = applianceArg(ctx, args);
    return withApplianceOperation(ctx, self, 'clean_shutdown', () =>
      perform(ctx, self, shutdownOp('VM_appliance.clean_shutdown', 'VM.clean_shutdown')),
    );
  },
  'VM_appliance.hard_shutdown': (ctx, args) => {
    const self = applianceArg(ctx, args);
    return withApplianceOperation(ctx, self, 'hard_shutdown', () =>
      perform(ctx, self, shutdownOp('VM_appliance.hard_shutdown', 'VM.hard_shutdown')),
    );
  },
  // xapi_vm_appliance.ml: shutdown = hard_shutdown (under its own operation name).
  'VM_appliance.shutdown': (ctx, args) => {
    const self = applianceArg(ctx, args);
    return withApplianceOperation(ctx, self, 'shutdown', () =>
      perform(ctx, self, shutdownOp('VM_appliance.hard_shutdown', 'VM.hard_shutdown')),
    );
  },
  'VM.set_appliance': (ctx, args) => {
    const vm = arg.str(args, 0);
    const value = arg.str(args, 1);
    const rec = ctx.store.get('VM', vm);
    watch(ctx.store);
    if (rec.is_control_domain === true || rec.is_a_template === true || rec.is_a_snapshot === true)
      fail(
        'OPERATION_NOT_ALLOWED',
        'Control domains, templates and snapshots cannot be assigned to appliances.',
      );
    if (!isNull(value)) ctx.store.get('VM_appliance', value);
    const previous = ref(rec, 'appliance');
    ctx.store.update('VM', vm, { appliance: isNull(value) ? 'OpaqueRef:NULL' : value });
    if (!isNull(previous)) refreshAppliance(ctx.store, previous);
    if (!isNull(value)) refreshAppliance(ctx.store, value);
    refreshVm(ctx.store, vm); // make_into_template is not allowed in a vApp
  },
};

export const applianceBehaviour: SimBehaviour = {
  handlers,
  afterChange(ctx, cls) {
    if (cls === 'VM' || cls === 'VM_appliance') watch(ctx.store);
  },
};
