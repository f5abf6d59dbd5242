/**
 * Small typed accessors shared by the behaviour modules. Store records hold `unknown` values keyed by wire field
 * names (see contract.ts); these helpers read them with the type the datamodel gives the field and fall back to the
 * field's zero value, so a handler never crashes on a sparse seed record.
 */
import { XapiFailure, type SimContext, type SimRecord, type SimStore } from '../contract.js';

/** The null reference (ocaml/xapi-types/ref.ml `null`). */
export const NULL_REF = 'OpaqueRef:NULL';

/** Throws the API error `code` with its parameters, in the datamodel's order. */
export function fail(code: string, ...params: readonly (string | number)[]): never {
  throw new XapiFailure(
    code,
    params.map((p) => String(p)),
  );
}

export function str(rec: Readonly<SimRecord> | undefined, field: string): string {
  const v = rec?.[field];
  return typeof v === 'string' ? v : '';
}

export function num(rec: Readonly<SimRecord> | undefined, field: string): number {
  const v = rec?.[field];
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v !== '' && !Number.isNaN(Number(v))) return Number(v);
  return 0;
}

export function bool(rec: Readonly<SimRecord> | undefined, field: string): boolean {
  return rec?.[field] === true;
}

/** A ref field; `OpaqueRef:NULL` when absent. */
export function ref(rec: Readonly<SimRecord> | undefined, field: string): string {
  const v = rec?.[field];
  return typeof v === 'string' && v !== '' ? v : NULL_REF;
}

export function isNull(r: string): boolean {
  return r === NULL_REF || r === '' || !r.startsWith('OpaqueRef:');
}

export function strings(rec: Readonly<SimRecord> | undefined, field: string): string[] {
  const v = rec?.[field];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function map(rec: Readonly<SimRecord> | undefined, field: string): Record<string, string> {
  const v = rec?.[field];
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Date) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>))
    out[k] = typeof x === 'string' ? x : JSON.stringify(x);
  return out;
}

/** Decoded handler arguments, read by position with the type the datamodel declares. */
export const arg = {
  str(args: readonly unknown[], i: number): string {
    const v = args[i];
    if (typeof v === 'string') return v;
    return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : '';
  },
  num(args: readonly unknown[], i: number): number {
    const v = args[i];
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
    return Number.NaN;
  },
  bool(args: readonly unknown[], i: number): boolean {
    return args[i] === true;
  },
  strings(args: readonly unknown[], i: number): string[] {
    const v = args[i];
    return Array.isArray(v) ? v.map((x) => String(x)) : [];
  },
  map(args: readonly unknown[], i: number): Record<string, string> {
    const v = args[i];
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return {};
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
  },
};

/**
 * Objects of `cls` whose `field` points at `target`. Reads the inverse set the store keeps (e.g. `VM.VBDs`) when
 * one is named, so hot paths (1000 clones) stay linear; otherwise scans the class.
 */
export function children(
  store: SimStore,
  cls: string,
  field: string,
  target: string,
  inverse?: { cls: string; field: string },
): string[] {
  if (inverse) {
    const rec = store.find(inverse.cls, target);
    const v = rec?.[inverse.field];
    if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  }
  return store
    .all(cls)
    .filter(([, r]) => r[field] === target)
    .map(([r]) => r);
}

/** VBDs of a VM (store inverse `VM.VBDs`). */
export const vbdsOf = (s: SimStore, vm: string): string[] =>
  children(s, 'VBD', 'VM', vm, { cls: 'VM', field: 'VBDs' });
/** VIFs of a VM (store inverse `VM.VIFs`). */
export const vifsOf = (s: SimStore, vm: string): string[] =>
  children(s, 'VIF', 'VM', vm, { cls: 'VM', field: 'VIFs' });
/**
 * Removes what belongs to a VM record alone (VM.destroy's part that is not the record): its VBDs, VIFs, metrics and
 * guest metrics; never its disks. `rec` is the VM's record, read before.
 */
export function destroyVmDevices(s: SimStore, vm: string, rec: SimRecord): void {
  for (const vbd of vbdsOf(s, vm)) s.destroy('VBD', vbd);
  for (const vif of vifsOf(s, vm)) s.destroy('VIF', vif);
  for (const [cls, f] of [
    ['VM_metrics', 'metrics'],
    ['VM_guest_metrics', 'guest_metrics'],
  ] as const) {
    const r = ref(rec, f);
    if (!isNull(r) && s.find(cls, r)) s.destroy(cls, r);
  }
}
/** VBDs using a VDI (store inverse `VDI.VBDs`). */
export const vbdsOfVdi = (s: SimStore, vdi: string): string[] =>
  children(s, 'VBD', 'VDI', vdi, { cls: 'VDI', field: 'VBDs' });
/** VDIs on an SR (store inverse `SR.VDIs`). */
export const vdisOf = (s: SimStore, sr: string): string[] =>
  children(s, 'VDI', 'SR', sr, { cls: 'SR', field: 'VDIs' });
/** PBDs of an SR (store inverse `SR.PBDs`). */
export const pbdsOf = (s: SimStore, sr: string): string[] =>
  children(s, 'PBD', 'SR', sr, { cls: 'SR', field: 'PBDs' });
/** PIFs of a host (store inverse `host.PIFs`). */
export const pifsOfHost = (s: SimStore, host: string): string[] =>
  children(s, 'PIF', 'host', host, { cls: 'host', field: 'PIFs' });
/** PIFs on a network (store inverse `network.PIFs`). */
export const pifsOfNetwork = (s: SimStore, net: string): string[] =>
  children(s, 'PIF', 'network', net, { cls: 'network', field: 'PIFs' });
/** VIFs on a network (store inverse `network.VIFs`). */
export const vifsOfNetwork = (s: SimStore, net: string): string[] =>
  children(s, 'VIF', 'network', net, { cls: 'network', field: 'VIFs' });
/** VMs with a domain on a host (store inverse `host.resident_VMs`). */
export const residentVms = (s: SimStore, host: string): string[] =>
  children(s, 'VM', 'resident_on', host, { cls: 'host', field: 'resident_VMs' });

/** The one pool record (a world has one pool per coordinator; behaviour uses the first). */
export function thePool(store: SimStore): [string, Readonly<SimRecord>] {
  const p = store.all('pool')[0];
  if (!p) fail('INTERNAL_ERROR', 'the simulated world has no pool object');
  return p;
}

/** The ref that names the running operation in `current_operations`: the caller's task, or a fresh hidden one. */
export function operationId(ctx: SimContext): string {
  return ctx.task?.ref ?? `OpaqueRef:${ctx.uuid()}`;
}

/** Lowercase power state as XAPI prints it in errors (Record_util.power_state_to_lowercase_string). */
export function lowerPower(state: string): string {
  return state.toLowerCase();
}

/** Hosts whose `host_metrics.live` is true (a host without metrics counts as live: seeds may omit them). */
export function hostLive(store: SimStore, host: string): boolean {
  const h = store.find('host', host);
  if (!h) return false;
  const m = store.find('host_metrics', ref(h, 'metrics'));
  return m ? bool(m, 'live') : true;
}

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;
