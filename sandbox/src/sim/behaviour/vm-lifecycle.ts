/**
 * Which VM operations are allowed, and which error a forbidden one raises, in XAPI's check order
 * (ocaml/xapi/xapi_vm_lifecycle.ml `allowed_power_states`, `is_allowed_concurrently`, `check_operation_error`).
 * Pure functions over a VM record, plus the `allowed_operations` refresh and the "operation in progress" bracket.
 */
import type { SimContext, SimRecord, SimStore } from '../contract.js';
import { XapiFailure } from '../contract.js';
import { bool, fail, map, num, operationId, str } from './util.js';

type Power = 'Halted' | 'Paused' | 'Running' | 'Suspended';
const ALL: readonly Power[] = ['Halted', 'Paused', 'Suspended', 'Running'];

/** Power states from which `op` may run (xapi_vm_lifecycle.ml `allowed_power_states`). */
export function allowedPowerStates(op: string, vm: Readonly<SimRecord>): readonly Power[] {
  switch (op) {
    case 'changing_memory_limits':
    case 'changing_static_range':
    case 'changing_VCPUs':
      // a control domain's limits can change while it runs
      return bool(vm, 'is_control_domain') ? ['Halted', 'Running'] : ['Halted'];
    case 'changing_shadow_memory':
    case 'changing_NVRAM':
    case 'create_vtpm':
    case 'make_into_template':
    case 'provision':
    case 'start':
    case 'start_on':
      return ['Halted'];
    case 'unpause':
      return ['Paused'];
    case 'csvm':
    case 'resume':
    case 'resume_on':
      return ['Suspended'];
    case 'awaiting_memory_live':
    case 'call_plugin':
    case 'clean_reboot':
    case 'clean_shutdown':
    case 'changing_memory_live':
    case 'changing_shadow_memory_live':
    case 'changing_VCPUs_live':
    case 'data_source_op':
    case 'pause':
    case 'pool_migrate':
    case 'send_sysrq':
    case 'send_trigger':
    case 'snapshot_with_quiesce':
    case 'suspend':
    case 'sysprep':
      return ['Running'];
    case 'changing_dynamic_range':
      return ['Halted', 'Running'];
    case 'clone':
    case 'copy':
      // Suspended VMs clone only when they are snapshots (clone_suspended_vm_enabled is off by default).
      return bool(vm, 'is_a_snapshot') ? ['Halted', 'Suspended'] : ['Halted'];
    case 'create_template':
    case 'destroy':
    case 'export':
      return ['Halted', 'Suspended'];
    case 'migrate_send':
      return ['Halted', 'Suspended', 'Running'];
    case 'hard_reboot':
      return ['Paused', 'Running'];
    case 'checkpoint':
    case 'get_boot_record':
    case 'shutdown':
    case 'hard_shutdown':
      return ['Paused', 'Suspended', 'Running'];
    case 'import':
      return [];
    default:
      // assert_operation_valid, metadata_export, power_state_reset, revert, reverting, snapshot, query_services, …
      return ALL;
  }
}

/** Whether `op` may start while `current` operations run (xapi_vm_lifecycle.ml `is_allowed_concurrently`). */
export function allowedConcurrently(op: string, current: readonly string[]): boolean {
  const groups = [['clone', 'copy', 'export'], ['snapshot', 'checkpoint'], ['get_boot_record']];
  if (groups.some((g) => g.includes(op) && current.every((c) => g.includes(c)))) return true;
  // The state machine: a hard shutdown may interrupt anything but another hard shutdown, a hard reboot anything
  // but a hard shutdown or reboot; a few single transitions are allowed on top of one running operation.
  if (op === 'hard_shutdown') return !current.includes('hard_shutdown');
  if (op === 'hard_reboot') return !current.some((c) => c === 'hard_shutdown' || c === 'hard_reboot');
  const transitions: [string, string][] = [
    ['snapshot_with_quiesce', 'snapshot'],
    ['migrate_send', 'metadata_export'],
    ['migrate_send', 'clean_shutdown'],
    ['migrate_send', 'clean_reboot'],
  ];
  return current.length === 1 && transitions.some(([s, t]) => s === current[0] && t === op);
}

const TEMPLATE_OPS = new Set([
  'changing_dynamic_range',
  'changing_static_range',
  'changing_memory_limits',
  'changing_shadow_memory',
  'changing_VCPUs',
  'changing_NVRAM',
  'clone',
  'copy',
  'export',
  'metadata_export',
  'provision',
]);
const SNAPSHOT_OPS = new Set([
  'revert',
  'clone',
  'copy',
  'export',
  'destroy',
  'hard_shutdown',
  'metadata_export',
]);
const CONTROL_DOMAIN_OPS = new Set([
  'data_source_op',
  'changing_memory_live',
  'awaiting_memory_live',
  'metadata_export',
  'changing_dynamic_range',
  'changing_memory_limits',
  'changing_static_range',
  'start',
  'start_on',
  'changing_VCPUs',
  'destroy',
]);

/**
 * The error `op` would raise on this VM, or undefined when allowed — checks in XAPI's order:
 * OPERATION_BLOCKED → VM_BAD_POWER_STATE → OTHER_OPERATION_IN_PROGRESS → VM_IS_TEMPLATE → VM_IS_SNAPSHOT →
 * PROVISION_ONLY_ALLOWED_ON_TEMPLATE / REVERT_ONLY_ALLOWED_ON_SNAPSHOT → control-domain restrictions.
 */
export function vmOperationError(ref: string, vm: Readonly<SimRecord>, op: string): XapiFailure | undefined {
  const e = operationProblem(ref, digest(vm), op);
  return e ? new XapiFailure(e[0] ?? '', e.slice(1)) : undefined;
}

/** What the checks read from a VM record, extracted once per sweep. */
interface VmFacts {
  readonly vm: Readonly<SimRecord>;
  readonly blocked: Record<string, string>;
  readonly power: Power;
  readonly current: [string, string][];
  readonly isTemplate: boolean;
  readonly isSnapshot: boolean;
  readonly isDefault: boolean;
  readonly isDomainZero: boolean;
  readonly isControl: boolean;
  /** Member of a vApp (VM.appliance set). */
  readonly inAppliance: boolean;
}

function digest(vm: Readonly<SimRecord>): VmFacts {
  return {
    vm,
    blocked: map(vm, 'blocked_operations'),
    power: (str(vm, 'power_state') || 'Halted') as Power,
    current: Object.entries(map(vm, 'current_operations')),
    isTemplate: bool(vm, 'is_a_template'),
    isSnapshot: bool(vm, 'is_a_snapshot'),
    isDefault:
      bool(vm, 'is_default_template') ||
      ['1', 'true'].includes((map(vm, 'other_config').default_template ?? '').toLowerCase()),
    isDomainZero: bool(vm, 'is_control_domain') && num(vm, 'domid') === 0,
    isControl: bool(vm, 'is_control_domain'),
    inAppliance: !['', 'OpaqueRef:NULL'].includes(str(vm, 'appliance')),
  };
}

/** The same check as `[code, ...params]`: cheap (no Error and stack trace) for allowed_operations sweeps. */
function operationProblem(ref: string, f: VmFacts, op: string): string[] | undefined {
  const reason = f.blocked[op];
  if (reason !== undefined) return ['OPERATION_BLOCKED', ref, reason];
  const allowed = allowedPowerStates(op, f.vm);
  if (!allowed.includes(f.power)) {
    // Record_util.power_state_to_lowercase_string, joined with ", " (report_power_state_error)
    return ['VM_BAD_POWER_STATE', ref, allowed.map((p) => p.toLowerCase()).join(', '), f.power.toLowerCase()];
  }
  const current = f.current;
  if (
    current.length > 0 &&
    !allowedConcurrently(
      op,
      current.map(([, o]) => o),
    )
  ) {
    // report_concurrent_operations_error: one op → its name and task; several → "{a,b}" and "t1,t2".
    const [first] = current;
    const opStr = current.length === 1 && first ? first[1] : `{${current.map(([, o]) => o).join(',')}}`;
    const taskStr = current.length === 1 && first ? first[0] : `{${current.map(([t]) => t).join(',')}}`;
    return ['OTHER_OPERATION_IN_PROGRESS', 'VM', ref, opStr, taskStr];
  }
  if (
    f.isTemplate &&
    !f.isSnapshot &&
    !(TEMPLATE_OPS.has(op) || ((op === 'destroy' || op === 'migrate_send') && !f.isDefault))
  ) {
    return ['VM_IS_TEMPLATE', ref, op];
  }
  if (f.isSnapshot && !SNAPSHOT_OPS.has(op)) return ['VM_IS_SNAPSHOT', ref, op];
  if (op === 'provision' && !f.isTemplate) return ['PROVISION_ONLY_ALLOWED_ON_TEMPLATE'];
  if (op === 'revert' && !f.isSnapshot) return ['REVERT_ONLY_ALLOWED_ON_SNAPSHOT'];
  if ((op === 'changing_VCPUs' || op === 'destroy') && f.isDomainZero) {
    return ['OPERATION_NOT_ALLOWED', 'This operation is not allowed on dom0'];
  }
  if (f.isControl && !CONTROL_DOMAIN_OPS.has(op)) {
    return ['OPERATION_NOT_ALLOWED', 'This operation is not allowed on a control domain'];
  }
  // check_appliance: a vApp's VM does not become a template.
  if (op === 'make_into_template' && f.inAppliance)
    return ['VM_IS_PART_OF_AN_APPLIANCE', ref, str(f.vm, 'appliance')];
  // VSS support has been removed from xapi: quiesced snapshots always fail.
  if (op === 'snapshot_with_quiesce') return ['VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED', ref];
  return undefined;
}

/** Throws the error `op` would raise (XAPI `assert_operation_valid`). */
export function assertVmOperation(store: SimStore, ref: string, op: string): Readonly<SimRecord> {
  const vm = store.get('VM', ref);
  const err = vmOperationError(ref, vm, op);
  if (err) throw err;
  return vm;
}

/** The operations `update_allowed_operations` evaluates, in its order. */
const LISTED_OPS = [
  'snapshot',
  'copy',
  'clone',
  'revert',
  'checkpoint',
  'snapshot_with_quiesce',
  'start',
  'start_on',
  'pause',
  'unpause',
  'clean_shutdown',
  'clean_reboot',
  'hard_shutdown',
  'hard_reboot',
  'suspend',
  'resume',
  'resume_on',
  'export',
  'destroy',
  'provision',
  'changing_VCPUs_live',
  'pool_migrate',
  'migrate_send',
  'make_into_template',
  'changing_static_range',
  'changing_shadow_memory',
  'changing_dynamic_range',
  'changing_memory_limits',
  'changing_VCPUs',
];

/** The VM's `allowed_operations` as XAPI would compute it now. */
export function vmAllowedOperations(ref: string, vm: Readonly<SimRecord>): string[] {
  const facts = digest(vm);
  // The answer depends only on these facts (not on the ref or task refs), and most VMs share them: memoise.
  const key = [
    facts.power,
    facts.isTemplate ? 'T' : '',
    facts.isSnapshot ? 'S' : '',
    facts.isDefault ? 'D' : '',
    facts.isControl ? 'C' : '',
    facts.isDomainZero ? 'Z' : '',
    facts.inAppliance ? 'A' : '',
    Object.keys(facts.blocked).sort().join(','),
    facts.current
      .map(([, o]) => o)
      .sort()
      .join(','),
  ].join('|');
  const hit = allowedCache.get(key);
  if (hit) return [...hit];
  const ok = LISTED_OPS.filter((op) => operationProblem(ref, facts, op) === undefined);
  const out = ok;
  if (allowedCache.size > 1000) allowedCache.clear();
  allowedCache.set(key, out);
  return [...out];
}

const allowedCache = new Map<string, readonly string[]>();

/** Recomputes `allowed_operations` of a VM when it changed (one `mod` event only when different). */
export function refreshVm(store: SimStore, ref: string): void {
  const vm = store.find('VM', ref);
  if (!vm) return;
  const next = vmAllowedOperations(ref, vm);
  const prev = Array.isArray(vm.allowed_operations) ? (vm.allowed_operations as unknown[]) : [];
  if (prev.length !== next.length || next.some((o, i) => prev[i] !== o)) {
    store.update('VM', ref, { allowed_operations: next });
  }
}

/**
 * Runs `body` as operation `op` on an object: it is listed in `current_operations` under the task ref for its
 * duration (XAPI's Helpers.with_vm_operation / `*_lifecycle` bracket), and allowed operations are refreshed around it.
 */
export async function withOperation<T>(
  ctx: SimContext,
  cls: string,
  ref: string,
  op: string,
  refresh: (store: SimStore, ref: string) => void,
  body: () => Promise<T> | T,
): Promise<T> {
  const id = operationId(ctx);
  const before = map(ctx.store.get(cls, ref), 'current_operations');
  ctx.store.update(cls, ref, { current_operations: { ...before, [id]: op } });
  refresh(ctx.store, ref);
  try {
    return await body();
  } finally {
    const rec = ctx.store.find(cls, ref);
    if (rec) {
      const ops = map(rec, 'current_operations');
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- keyed by task ref, as XAPI stores it
      delete ops[id];
      ctx.store.update(cls, ref, { current_operations: ops });
      refresh(ctx.store, ref);
    }
  }
}

/** Raises the operation error if any (used after re-reading a record inside an operation). */
export function check(err: XapiFailure | undefined): void {
  if (err) fail(err.code, ...err.params);
}
