/**
 * VDI.pool_migrate(vdi, sr, options): live storage migration of one disk, which xapi implements as storage motion of
 * the VM using it to its own host (ocaml/xapi/message_forwarding.ml `VDI.pool_migrate`, ocaml/xapi/xapi_vm_migrate.ml
 * `vdi_pool_migrate`, ocaml/xapi/xapi_vdi.ml `check_operation_error` for `mirror`):
 *
 * - the VM is the one of the first VBD using the disk, else `VDI_NEEDS_VM_FOR_MIGRATE [vdi]`;
 * - that VM must allow `migrate_send` (xapi holds it as the VM's operation: `VM_BAD_POWER_STATE` when paused,
 *   `OTHER_OPERATION_IN_PROGRESS`, `VM_IS_SNAPSHOT`, …); a halted or suspended VM's disk is copied, not mirrored;
 * - the host doing it: a live VM's `resident_on`, else its `scheduled_to_be_resident_on`, else a host that could boot
 *   it and sees the destination SR (`NO_HOSTS_AVAILABLE`);
 * - the disk is marked `mirror` in `current_operations` for the whole move (checks: another operation on it but
 *   `copy` or on one of its VBDs → `OTHER_OPERATION_IN_PROGRESS`; no VDI_MIRROR in its SR's driver →
 *   `SR_OPERATION_NOT_SUPPORTED [sr]`; `cbt_metadata` → `VDI_INCOMPATIBLE_TYPE`; CBT on → `VDI_CBT_ENABLED`);
 * - then `VM.migrate_send` (live) to that host when it sees every SR the VM's disks need, else to one that does
 *   (`NO_HOSTS_AVAILABLE`), with a VDI map holding this disk → `sr` and every other disk → its own SR, so only this
 *   disk (and its snapshots' disks, `extra_vdi_map`) moves; called directly, so no VM_MIGRATED message;
 * - the answer is the VDI the VM's VBD points at afterwards: the new disk (the old one is gone), or the same disk when
 *   `sr` is already its SR.
 */
import type { SimBehaviour, SimContext, SimStore } from '../contract.js';
import { migrateWithinPool } from './migrate-cross-pool.js';
import { bootHereError, hostSeesSr } from './placement.js';
import { refreshVdi } from './storage.js';
import { arg, bool, fail, hostLive, isNull, map, ref, str, vbdsOf, vbdsOfVdi } from './util.js';
import { assertVmOperation, withOperation } from './vm-lifecycle.js';

/** The first host (in the pool's order) passing `ok`, else NO_HOSTS_AVAILABLE (Xapi_vm_helpers.choose_host). */
function firstHost(store: SimStore, ok: (host: string) => boolean): string {
  const host = store
    .all('host')
    .map(([h]) => h)
    .find((h) => hostLive(store, h) && ok(h));
  return host ?? fail('NO_HOSTS_AVAILABLE');
}

/** Where message_forwarding.ml runs the call: the VM's host, or where it is scheduled or could boot. */
function operationHost(store: SimStore, vm: string, sr: string): string {
  const rec = store.get('VM', vm);
  const power = str(rec, 'power_state');
  if (power === 'Running' || power === 'Paused') return ref(rec, 'resident_on');
  const scheduled = ref(rec, 'scheduled_to_be_resident_on');
  if (!isNull(scheduled) && store.find('host', scheduled)) return scheduled;
  return firstHost(store, (h) => bootHereError(store, vm, h) === undefined && hostSeesSr(store, h, sr));
}

/** xapi_vdi.ml `check_operation_error` for `mirror`, in its order. */
function assertCanMirror(store: SimStore, vdi: string): void {
  const rec = store.get('VDI', vdi);
  const other = Object.entries(map(rec, 'current_operations')).find(([, op]) => op !== 'copy');
  if (other) fail('OTHER_OPERATION_IN_PROGRESS', 'VDI', vdi, other[1], other[0]);
  for (const vbd of vbdsOfVdi(store, vdi)) {
    const busy = Object.entries(map(store.find('VBD', vbd), 'current_operations'))[0];
    if (busy) fail('OTHER_OPERATION_IN_PROGRESS', 'VDI', vdi, busy[1], busy[0]);
  }
  // check_sm_feature_error: VDI_MIRROR is in the VHD-based drivers' features (nfs, ext, lvm*, smb), not in the ISO
  // or udev drivers' [est from the SM drivers' CAPABILITIES].
  const sr = ref(rec, 'SR');
  const srRec = store.find('SR', sr);
  if (str(srRec, 'content_type') === 'iso' || str(srRec, 'type') === 'udev')
    fail('SR_OPERATION_NOT_SUPPORTED', sr);
  if (str(rec, 'type') === 'cbt_metadata') fail('VDI_INCOMPATIBLE_TYPE', vdi, 'cbt_metadata');
  if (bool(rec, 'cbt_enabled')) fail('VDI_CBT_ENABLED', vdi);
}

/** vdi_pool_migrate's VDI map: this disk to `sr`, every other disk of the VM (empty drives aside) stays. */
function vdiMapOf(store: SimStore, vm: string, vdi: string, sr: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const vbd of vbdsOf(store, vm)) {
    const r = store.find('VBD', vbd);
    if (!r || bool(r, 'empty')) continue;
    const other = ref(r, 'VDI');
    const rec = store.find('VDI', other);
    if (rec && other !== vdi) out[other] = ref(rec, 'SR');
  }
  return { ...out, [vdi]: sr };
}

async function poolMigrate(ctx: SimContext, args: readonly unknown[]): Promise<string> {
  const { store } = ctx;
  const vdi = arg.str(args, 0);
  const sr = arg.str(args, 1);
  // message_forwarding.ml looks the VDI's VBDs up by a query: an unknown VDI has none either.
  const vbds = store.find('VDI', vdi) ? vbdsOfVdi(store, vdi).filter((b) => store.find('VBD', b)) : [];
  const vbd = vbds[0];
  if (vbd === undefined) return fail('VDI_NEEDS_VM_FOR_MIGRATE', vdi);
  const vm = ref(store.get('VBD', vbd), 'VM');
  assertVmOperation(store, vm, 'migrate_send');
  store.get('SR', sr);
  const host = operationHost(store, vm, sr);
  assertCanMirror(store, vdi);
  return withOperation(ctx, 'VDI', vdi, 'mirror', refreshVdi, async () => {
    const vdiMap = vdiMapOf(store, vm, vdi, sr);
    const needed = [...new Set(Object.values(vdiMap))];
    const sees = (h: string) => needed.every((s) => hostSeesSr(store, h, s));
    const dest = sees(host) ? host : firstHost(store, sees);
    await migrateWithinPool(ctx, vm, dest, vdiMap, {}, {}, false, false);
    return ref(store.get('VBD', vbd), 'VDI');
  });
}

export const vdiPoolMigrateBehaviour: SimBehaviour = {
  handlers: {
    'VDI.pool_migrate': (ctx, args) => poolMigrate(ctx, args),
  },
};
