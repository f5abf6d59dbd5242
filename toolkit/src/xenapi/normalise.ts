/**
 * Datamodel-driven value normalisation. The same record must look the same whatever the transport: over XML-RPC
 * XAPI sends ints as untyped strings (ocaml-rpc xmlrpc.ml `add_value`), over JSON-RPC as numbers, and datetimes
 * as `dateTime.iso8601` or plain strings. {@link decodeValue} turns a wire value into the JS value of its datamodel
 * type; {@link encodeValue} turns an argument into a wire-neutral value (floats wrapped in {@link XapiDouble}).
 */
import type { MessageSpec } from './datamodel-types.js';
import { CLASSES } from './generated/datamodel.js';
import { XapiDouble, parseXapiDate } from './wire-values.js';

/** A parsed datamodel type string (`int`, `VM ref set`, `(string -> string) map`, `VM record`, …). */
export type TypeNode =
  | { readonly k: 'string' | 'int' | 'float' | 'bool' | 'datetime' | 'void' | 'any' | 'event_batch' }
  | { readonly k: 'ref'; readonly cls: string }
  | { readonly k: 'enum'; readonly name: string }
  | { readonly k: 'record'; readonly cls: string | undefined }
  | { readonly k: 'set'; readonly of: TypeNode }
  | { readonly k: 'option'; readonly of: TypeNode }
  | { readonly k: 'map'; readonly key: TypeNode; readonly value: TypeNode };

const typeCache = new Map<string, TypeNode>();

/** Splits `A -> B` at the top-level arrow (A and B may hold parenthesised maps). */
function splitArrow(inner: string): [string, string] | undefined {
  let depth = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (depth === 0 && inner.startsWith(' -> ', i)) return [inner.slice(0, i), inner.slice(i + 4)];
  }
  return undefined;
}

/**
 * Parses a datamodel type string (as in xenapi.json). Unknown shapes parse as `any` (passed through untouched).
 * @example
 * parseType('(VM ref -> VM record) map'); // { k: 'map', key: { k: 'ref', cls: 'VM' }, value: { k: 'record', cls: 'VM' } }
 */
export function parseType(type: string): TypeNode {
  const cached = typeCache.get(type);
  if (cached) return cached;
  const node = parseUncached(type.trim());
  typeCache.set(type, node);
  return node;
}

function parseUncached(t: string): TypeNode {
  switch (t) {
    case 'string':
    case 'int':
    case 'float':
    case 'bool':
    case 'datetime':
    case 'void':
      return { k: t };
    case 'an event batch':
      return { k: 'event_batch' };
    case '<class> record':
      return { k: 'record', cls: undefined };
  }
  if (t.endsWith(' set')) return { k: 'set', of: parseType(t.slice(0, -4)) };
  if (t.endsWith(' option')) return { k: 'option', of: parseType(t.slice(0, -7)) };
  if (t.endsWith(' map') && t.startsWith('(')) {
    const body = t.slice(0, -4).trim();
    if (body.endsWith(')')) {
      const parts = splitArrow(body.slice(1, -1));
      if (parts) return { k: 'map', key: parseType(parts[0]), value: parseType(parts[1]) };
    }
  }
  if (t.endsWith(' ref')) return { k: 'ref', cls: t.slice(0, -4) };
  if (t.endsWith(' record')) return { k: 'record', cls: t.slice(0, -7) };
  if (t.startsWith('enum ')) return { k: 'enum', name: t.slice(5) };
  return { k: 'any' };
}

/** Classes by lowercase name: event snapshots name their class in lowercase (`vm`, `vm_metrics`). */
const classByLowerName = new Map(Object.keys(CLASSES).map((name) => [name.toLowerCase(), name]));

/** The datamodel spelling of a class name given in any case (`vm` → `VM`), or undefined. */
export function className(name: string): string | undefined {
  return CLASSES[name] ? name : classByLowerName.get(name.toLowerCase());
}

const fieldTypes = new Map<string, Map<string, TypeNode>>();
function fieldsOf(cls: string): Map<string, TypeNode> | undefined {
  let fields = fieldTypes.get(cls);
  if (!fields) {
    const spec = CLASSES[cls];
    if (!spec) return undefined;
    fields = new Map(spec.f.map((f) => [f.n, parseType(f.t)]));
    fieldTypes.set(cls, fields);
  }
  return fields;
}

const messages = new Map<string, MessageSpec>();
for (const [cls, spec] of Object.entries(CLASSES)) {
  for (const m of spec.m) messages.set(`${cls}.${m.n}`, m);
}

/**
 * The datamodel message for a wire method name (`VM.start`; also the `VM_start` alternative wire name and a
 * class spelled in any case), or undefined for methods outside the datamodel (`system.listMethods`).
 * @example
 * findMessage('VM.clone')?.r; // 'VM ref'
 * findMessage('VM_clone')?.p; // [['session_id', 'session ref'], ['vm', 'VM ref'], ['new_name', 'string']]
 */
export function findMessage(method: string): MessageSpec | undefined {
  const direct = messages.get(method);
  if (direct) return direct;
  const dot = method.indexOf('.');
  if (dot > 0) {
    const cls = className(method.slice(0, dot));
    return cls ? messages.get(`${cls}.${method.slice(dot + 1)}`) : undefined;
  }
  // Alternative wire name Class_message (ocaml/idl/datamodel_utils.ml alternative_wire_name): try every split.
  for (let i = method.indexOf('_'); i > 0; i = method.indexOf('_', i + 1)) {
    const cls = className(method.slice(0, i));
    const m = cls ? messages.get(`${cls}.${method.slice(i + 1)}`) : undefined;
    if (m) return m;
  }
  return undefined;
}

function toNumber(value: unknown): unknown {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    const s = value.trim().toLowerCase();
    // OCaml's %.16g writes nan/inf; ocaml-rpc xmlrpc.ml sends "NaN" for non-finite floats.
    if (s === 'nan') return Number.NaN;
    if (s === 'inf' || s === 'infinity' || s === '+inf') return Number.POSITIVE_INFINITY;
    if (s === '-inf' || s === '-infinity') return Number.NEGATIVE_INFINITY;
    if (s !== '') {
      const n = Number(s);
      if (!Number.isNaN(n)) return n;
    }
  }
  return value;
}

function decodeRecord(cls: string | undefined, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const fields = cls ? fieldsOf(cls) : undefined;
  if (!fields) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const t = fields.get(k);
    out[k] = t ? decodeNode(t, v) : v;
  }
  return out;
}

function decodeEventBatch(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const batch = value as { events?: unknown; valid_ref_counts?: unknown; token?: unknown };
  const events = Array.isArray(batch.events)
    ? batch.events.map((ev: unknown) => {
        if (ev === null || typeof ev !== 'object') return ev;
        const e = ev as Record<string, unknown>;
        const out: Record<string, unknown> = { ...e };
        // id and timestamp stay strings: XAPI sends a generation string and "0.0" (ocaml/xapi/xapi_event.ml).
        if (typeof e.id === 'number') out.id = String(e.id);
        if (typeof e.timestamp === 'number') out.timestamp = String(e.timestamp);
        const cls = typeof e.class === 'string' ? className(e.class) : undefined;
        if ('snapshot' in e) out.snapshot = decodeRecord(cls, e.snapshot);
        return out;
      })
    : batch.events;
  const counts: Record<string, unknown> = {};
  if (batch.valid_ref_counts !== null && typeof batch.valid_ref_counts === 'object') {
    for (const [k, v] of Object.entries(batch.valid_ref_counts)) counts[k] = toNumber(v);
  }
  return { ...batch, events, valid_ref_counts: counts };
}

function decodeNode(t: TypeNode, value: unknown): unknown {
  if (value === undefined || value === null) return value;
  switch (t.k) {
    case 'int':
    case 'float':
      return toNumber(value);
    case 'bool':
      if (typeof value === 'string') return value === '1' || value.toLowerCase() === 'true';
      return value;
    case 'datetime':
      if (typeof value === 'string') return parseXapiDate(value) ?? value;
      return value;
    case 'void':
      return undefined;
    case 'set':
      return Array.isArray(value) ? value.map((v: unknown) => decodeNode(t.of, v)) : value;
    case 'option':
      return decodeNode(t.of, value);
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value)) return value;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = decodeNode(t.value, v);
      return out;
    }
    case 'record':
      return decodeRecord(t.cls, value);
    case 'event_batch':
      return decodeEventBatch(value);
    default:
      return value;
  }
}

/**
 * Normalises a wire value by its datamodel type: ints and floats → number, datetimes → Date, bools → boolean, sets,
 * maps and records recursively (records by their class's field types), `void` → undefined. Values that do not fit
 * their type are passed through unchanged rather than guessed at.
 * @example
 * decodeValue('VM record', { memory_static_max: '4294967296', power_state: 'Halted' }).memory_static_max; // 4294967296
 */
export function decodeValue(type: string, value: unknown): unknown {
  return decodeNode(parseType(type), value);
}

function encodeRecord(cls: string | undefined, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const fields = cls ? fieldsOf(cls) : undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const t = fields?.get(k);
    out[k] = t ? encodeNode(t, v) : v;
  }
  return out;
}

function encodeNode(t: TypeNode, value: unknown): unknown {
  if (value === undefined || value === null) return value;
  switch (t.k) {
    case 'float':
      if (typeof value === 'number') return new XapiDouble(value);
      if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) {
        return new XapiDouble(Number(value));
      }
      return value;
    case 'int':
      // A whole number within 2^53 goes as a number (XML codec: <int> when it fits i4, else a digit string).
      return value;
    case 'set':
      return Array.isArray(value) ? value.map((v: unknown) => encodeNode(t.of, v)) : value;
    case 'option':
      return encodeNode(t.of, value);
    case 'map': {
      if (typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return value;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = encodeNode(t.value, v);
      return out;
    }
    case 'record':
      return encodeRecord(t.cls, value);
    default:
      return value;
  }
}

/**
 * Encodes an argument by its datamodel parameter type into a wire-neutral value: a float becomes
 * {@link XapiDouble} (so XML-RPC writes `<double>`), records and maps are walked by their field / value types.
 * @example
 * encodeValue('float', 30); // XapiDouble { value: 30 } → <double>30.0</double>
 */
export function encodeValue(type: string, value: unknown): unknown {
  return encodeNode(parseType(type), value);
}
