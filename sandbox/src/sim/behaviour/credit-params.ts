/**
 * A running domain's credit-scheduler parameters, with xapi's semantics (checked against xapi-project/xen-api at
 * e2ee48d6, August 2026):
 *
 * - `VM.VCPUs_params` is an ordinary read-write map field: `VM.set_VCPUs_params`, `add_to_VCPUs_params`,
 *   `remove_from_VCPUs_params` and `xe vm-param-set VCPUs-params:cap=…` (ocaml/xapi-cli-server/records.ml:2101-2119,
 *   keys weight, cap, mask → VM.add_to_VCPUs_params) change the record and nothing else.
 * - The record is read only when a domain is built: `MD.of_vm` (ocaml/xapi/xapi_xenops.ml:1181-1251) turns `weight`
 *   (default 256) and `cap` (default 0) into the VM's `scheduler_params`, falling back to the default when a value
 *   does not parse; xenopsd writes them as `platform/vcpu/weight` and `platform/vcpu/cap` when it creates the domain
 *   (ocaml/xenopsd/xc/xenops_server_xen.ml:1672-1694, used by VM_create at :1897), and the domain builder applies
 *   them with `xc_sched_credit_domain_set`, leaving Xen's own value for 0 (`configure_vcpus` in
 *   ocaml/xenguest/xenguest_stubs.c before d39879f5e5 moved it out of the repo).
 * - A domain is created by start, reboot (xenops_server.ml:1415-1441: VM_shutdown then VM_start), resume (VM_create,
 *   :1491) and migration (the receiver creates it): that is when a change takes effect. Nothing pushes a new value
 *   to a running domain.
 * - `VM.add_to_VCPUs_params_live`, the call that would, is not implemented: after the `changing_VCPUs_live` operation
 *   checks (ocaml/xapi/message_forwarding.ml:2823-2830) it raises `NOT_IMPLEMENTED ["add_to_VCPUs_params_live"]`
 *   (ocaml/xapi/xapi_vm.ml:924-928).
 *
 * So every running domain keeps the parameters it was built with, here per store (world) in memory, taken in
 * `bootDomain` (vm.ts: start, reboot, resume, migration, HA restart, revert to a checkpoint). A domain this module has
 * not seen built (a dom0, or a pool loaded from a save after a restart) takes its record's values when first asked:
 * a change made before a simulator restart and not yet applied by a reboot applies from the restart [simplification].
 */
import type { SimHandler, SimRecord, SimStore } from '../contract.js';
import { forgetMemo } from './metrics-memo.js';
import { assertVmOperation } from './vm-lifecycle.js';
import { arg, fail, map, num, ref } from './util.js';

/** Credit parameters of a domain: weight 1..65535, cap in percent of one pCPU (0 = none). */
export interface SchedParams {
  readonly weight: number;
  readonly cap: number;
}

/** Xen's credit defaults, which xapi also uses when VCPUs_params says nothing (xapi_xenops.ml:1223, :1238). */
export const DEFAULT_SCHED: SchedParams = { weight: 256, cap: 0 };

/** OCaml's int_of_string: optional sign, decimal or 0x/0o/0b, underscores allowed after the first digit. */
function ocamlInt(s: string): number | undefined {
  const m = /^([-+]?)(0[xX][0-9a-fA-F][0-9a-fA-F_]*|0[oO][0-7][0-7_]*|0[bB][01][01_]*|[0-9][0-9_]*)$/.exec(s);
  if (!m) return undefined;
  const body = (m[2] ?? '').replace(/_/g, '');
  const radix = /^0[xX]/.test(body) ? 16 : /^0[oO]/.test(body) ? 8 : /^0[bB]/.test(body) ? 2 : 10;
  const v = parseInt(radix === 10 ? body : body.slice(2), radix);
  return m[1] === '-' ? -v : v;
}

/**
 * The parameters a domain built from this record gets (xapi_xenops.ml MD.of_vm). Out of range values are bounded
 * the way Xen's 16-bit fields and its "0 = leave as is" rule would leave them [est: Xen truncates, we clamp].
 */
export function schedParamsOf(vm: Readonly<SimRecord>): SchedParams {
  const p = map(vm, 'VCPUs_params');
  const weight = p.weight === undefined ? undefined : ocamlInt(p.weight);
  const cap = p.cap === undefined ? undefined : ocamlInt(p.cap);
  return {
    weight: weight === undefined || weight <= 0 ? DEFAULT_SCHED.weight : Math.min(65535, weight),
    cap: cap === undefined || cap <= 0 ? DEFAULT_SCHED.cap : Math.min(65535, cap),
  };
}

interface Built {
  readonly host: string;
  readonly domid: number;
  readonly params: SchedParams;
}

const built = new WeakMap<SimStore, Map<string, Built>>();

function builtOf(store: SimStore): Map<string, Built> {
  let m = built.get(store);
  if (!m) {
    m = new Map();
    built.set(store, m);
  }
  return m;
}

/** A domain was just built for `vm` (its resident_on and domid already set): it takes the record's parameters now. */
export function domainBuilt(store: SimStore, vm: string): void {
  const rec = store.get('VM', vm);
  builtOf(store).set(vm, {
    host: ref(rec, 'resident_on'),
    domid: num(rec, 'domid'),
    params: schedParamsOf(rec),
  });
  forgetMemo(store);
}

/** The parameters the running domain of `vm` has: those it was built with, whatever its record says now. */
export function domainSchedParams(store: SimStore, vm: string, rec: Readonly<SimRecord>): SchedParams {
  const mine = builtOf(store);
  const b = mine.get(vm);
  // Same host and domid: the same domain. Otherwise a domain this module did not see built (see the header).
  if (b?.host === ref(rec, 'resident_on') && b.domid === num(rec, 'domid')) return b.params;
  const params = schedParamsOf(rec);
  mine.set(vm, { host: ref(rec, 'resident_on'), domid: num(rec, 'domid'), params });
  return params;
}

/** XenAPI handlers of this module. */
export const creditHandlers: Readonly<Record<string, SimHandler>> = {
  // message_forwarding.ml:2823-2830 runs the changing_VCPUs_live checks (a running VM with vCPU hotplug), then
  // xapi_vm.ml:924-928 refuses: the record is not changed either.
  'VM.add_to_VCPUs_params_live': (ctx, args) => {
    assertVmOperation(ctx.store, arg.str(args, 0), 'changing_VCPUs_live');
    fail('NOT_IMPLEMENTED', 'add_to_VCPUs_params_live');
  },
};
