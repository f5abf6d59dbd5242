/**
 * Datamodel types for the simulator's codecs and store. The type-string parser is the toolkit's
 * (`toolkit/src/xenapi/normalise.ts` `parseType`, following xapi's datamodel_types.ml `string_of_ty`), so the client
 * and the simulator read `"VM ref set"`, `"(string -> string) map"`, `"string option"` and `"<class> record"` alike.
 */
import { CLASSES, ENUMS, parseType } from '@xenlab/toolkit/xenapi';
import type { ClassSpec, FieldSpec, MessageSpec, TypeNode } from '@xenlab/toolkit/xenapi';

/** A parsed datamodel type (the toolkit's tree; `record` without `cls` is a legacy event's `<class> record`). */
export type WireType = TypeNode;

/** Parses (and caches) one datamodel type string. Unknown shapes become `any` (encoded structurally). */
export { parseType };

/**
 * The classes the simulator serves (toolkit/src/xenapi/NOTES.md §2 subset); `system.listMethods` and events cover
 * these.
 */
export const SIM_CLASSES = [
  'session',
  'pool',
  'host',
  'host_metrics',
  'host_cpu',
  'VM',
  'VM_metrics',
  'VM_guest_metrics',
  'SR',
  'PBD',
  'VDI',
  'VBD',
  'network',
  'PIF',
  'PIF_metrics',
  'VIF',
  'Bond',
  'VLAN',
  'task',
  'event',
  'message',
  'console',
] as const;

/** Classes that are stored as objects (event is not a table). */
export const STORED_CLASSES: readonly string[] = SIM_CLASSES.filter((c) => c !== 'event');

const classByLower = new Map<string, string>(Object.keys(CLASSES).map((c) => [c.toLowerCase(), c]));

/** The datamodel spelling of a class name given in any case (`vm` → `VM`), or undefined. */
export function canonicalClass(name: string): string | undefined {
  return classByLower.get(name.toLowerCase());
}

/** The class spec, throwing for a class outside the datamodel. */
export function classSpec(cls: string): ClassSpec {
  const spec = CLASSES[cls];
  if (!spec) throw new Error(`unknown XenAPI class ${cls}`);
  return spec;
}

const liveFieldsCache = new Map<string, readonly (FieldSpec & { readonly type: WireType })[]>();

/**
 * The fields a record of the class carries, in datamodel order, with parsed types. Fields the datamodel marks
 * Removed are included: xapi's generated record types (gen_api.ml) and database schema (datamodel_schema.ml) keep
 * every field, so `get_record` still sends them, with their defaults or whatever xapi still writes there
 * (`host_metrics.memory_free` from rrdd). Only their accessor messages are gone (MESSAGE_REMOVED).
 */
export function liveFields(cls: string): readonly (FieldSpec & { readonly type: WireType })[] {
  let hit = liveFieldsCache.get(cls);
  if (!hit) {
    hit = classSpec(cls).f.map((f) => ({ ...f, type: parseType(f.t) }));
    liveFieldsCache.set(cls, hit);
  }
  return hit;
}

const fieldIndexCache = new Map<string, ReadonlyMap<string, FieldSpec & { readonly type: WireType }>>();

/** One field's spec, or undefined (indexed: the store looks fields up on every update). */
export function fieldSpec(cls: string, name: string): (FieldSpec & { readonly type: WireType }) | undefined {
  let idx = fieldIndexCache.get(cls);
  if (!idx) {
    idx = new Map(CLASSES[cls] ? liveFields(cls).map((f) => [f.n, f] as const) : []);
    fieldIndexCache.set(cls, idx);
  }
  return idx.get(name);
}

const defaultsCache = new Map<string, readonly (readonly [string, unknown, boolean])[]>();

/** Every live field's default value, computed once per class: `[name, value, isMutable]` (objects need a copy). */
export function classDefaults(cls: string): readonly (readonly [string, unknown, boolean])[] {
  let hit = defaultsCache.get(cls);
  if (!hit) {
    hit = liveFields(cls).map((f) => {
      const d = fieldDefault(f);
      return [f.n, d, d !== null && typeof d === 'object'] as const;
    });
    defaultsCache.set(cls, hit);
  }
  return hit;
}

/** One message's spec, or undefined. */
export function messageSpec(cls: string, name: string): MessageSpec | undefined {
  return CLASSES[cls]?.m.find((m) => m.n === name && !m.removed);
}

/** The values of an enum, or undefined when unknown. */
export function enumValues(name: string): readonly string[] | undefined {
  return ENUMS[name];
}

/** The null reference. */
export const NULL_REF = 'OpaqueRef:NULL';

/** The zero value of a type (what xapi stores for a field without a default). */
export function zeroValue(t: WireType): unknown {
  switch (t.k) {
    case 'string':
    case 'any':
    case 'void':
    case 'option': // an absent option: nothing typed to send (as before options were parsed, as `any`)
      return '';
    case 'int':
    case 'float':
      return 0;
    case 'bool':
      return false;
    case 'datetime':
      return new Date(0);
    case 'enum':
      return enumValues(t.name)?.[0] ?? '';
    case 'ref':
      return NULL_REF;
    case 'set':
      return [];
    case 'map':
    case 'record':
    case 'event_batch':
      return Object.create(null) as Record<string, unknown>;
  }
}

/** The default of a field as the datamodel spells it (`"{}"`, `"\"\""`, `"OpaqueRef:NULL"`, `"0."`), typed. */
export function fieldDefault(f: FieldSpec & { readonly type: WireType }): unknown {
  const d = f.d;
  if (d === undefined) return zeroValue(f.type);
  const t = f.type;
  switch (t.k) {
    case 'int':
    case 'float': {
      const n = Number(d);
      return Number.isFinite(n) ? n : 0;
    }
    case 'bool':
      return d === 'true';
    case 'datetime':
      return parseDateTime(d) ?? new Date(0);
    case 'string':
      return d.startsWith('"') ? d.slice(1, -1) : d;
    case 'enum':
    case 'ref':
      return d === 'Null' || d === 'None' ? zeroValue(t) : d;
    default:
      return zeroValue(t);
  }
}

/**
 * Parses a XenAPI datetime as xapi accepts it: `20250319T04:16:24Z`, RFC 3339 (`2025-03-19T04:16:24Z`, with offset
 * or fraction), or zone-less (assumed UTC) — ocaml/libs/clock/date.ml `of_iso8601`.
 */
export function parseDateTime(s: string): Date | undefined {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(
    s.trim(),
  );
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se, frac, zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
  if (frac) ms += Math.round(Number(frac) * 1000);
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Formats a datetime as xapi sends it: `YYYYMMDDThh:mm:ssZ`, seconds precision, UTC (ocaml/libs/clock/date.ml). */
export function formatDateTime(d: Date): string {
  const ms = d.getTime();
  if (!Number.isFinite(ms)) return '19700101T00:00:00Z';
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString(); // 2025-03-19T04:16:24.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 19)}Z`;
}
