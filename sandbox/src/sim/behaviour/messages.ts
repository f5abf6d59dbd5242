/**
 * The alerts xapi raises when a VM operation through the API succeeds: ocaml/xapi/message_forwarding.ml calls
 * `create_vm_message` (class VM, the VM's uuid) after start, pause, shutdown, reboot, suspend, resume, migrate,
 * snapshot, checkpoint and revert, with the bodies below; names and priorities are ocaml/xapi-consts/api_messages.ml.
 * VM.clone raises none (VM_CLONED belongs to VM.csvm), nor do power_state_reset, copy, provision or destroy.
 */
import type { SimContext } from '../contract.js';
import { NULL_REF, str } from './util.js';

/** [name, priority] of the VM alerts (api_messages.ml). */
export const VM_MESSAGES = {
  started: ['VM_STARTED', 5],
  shutdown: ['VM_SHUTDOWN', 5],
  rebooted: ['VM_REBOOTED', 5],
  migrated: ['VM_MIGRATED', 5],
  snapshotted: ['VM_SNAPSHOTTED', 5],
  snapshotReverted: ['VM_SNAPSHOT_REVERTED', 5],
  checkpointed: ['VM_CHECKPOINTED', 5],
  suspended: ['VM_SUSPENDED', 5],
  resumed: ['VM_RESUMED', 5],
  paused: ['VM_PAUSED', 5],
  unpaused: ['VM_UNPAUSED', 5],
} as const satisfies Record<string, readonly [string, number]>;

/** `VM '<name>' (uuid: <uuid>)`, the start of every body. */
function vmText(ctx: SimContext, vm: string): string {
  const rec = ctx.store.find('VM', vm);
  return `VM '${str(rec, 'name_label')}' (uuid: ${str(rec, 'uuid')})`;
}

function hostText(ctx: SimContext, host: string): [string, string] {
  const rec = ctx.store.find('host', host);
  return [str(rec, 'name_label'), str(rec, 'uuid')];
}

/**
 * Raises one VM alert once an API operation succeeded; `rest` follows `VM '<name>' (uuid: <uuid>)` in the body. Not
 * for the simulator's own calls (scenario set-up runs without a session): a freshly built pool has no history.
 */
export function vmMessage(
  ctx: SimContext,
  vm: string,
  message: readonly [string, number],
  rest: string,
): void {
  if (ctx.session.ref === NULL_REF) return;
  const uuid = str(ctx.store.find('VM', vm), 'uuid');
  if (uuid === '') return; // create_vm_message swallows any failure
  ctx.message(message[0], message[1], 'VM', uuid, `${vmText(ctx, vm)} ${rest}`);
}

/** `… started on host: <name> (uuid: <uuid>)` / `… resumed on host: …`. */
export function onHost(ctx: SimContext, verb: string, host: string): string {
  const [name, uuid] = hostText(ctx, host);
  return `${verb} on host: ${name} (uuid: ${uuid})`;
}

/** `… migrated from host '<a>' (uuid: <ua>) to host '<b>' (uuid: <ub>)`. */
export function migrated(ctx: SimContext, from: string, to: string): string {
  const [a, ua] = hostText(ctx, from);
  const [b, ub] = hostText(ctx, to);
  return `migrated from host '${a}' (uuid: ${ua}) to host '${b}' (uuid: ${ub})`;
}
