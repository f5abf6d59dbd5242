/**
 * Wire codecs: XML-RPC and JSON-RPC values to and from typed store values, driven by the datamodel types.
 * Byte layout follows ocaml-rpc, which xapi uses (src/lib/xmlrpc.ml `add_value`, jsonrpc.ml via Yojson): strings and
 * 64-bit ints as untyped `<value>…</value>`, floats as `<double>%.16g</double>`, `<boolean>1</boolean>`, datetimes as
 * `<dateTime.iso8601>YYYYMMDDThh:mm:ssZ</dateTime.iso8601>`, sets as arrays, maps and records as structs.
 */
import { XapiFailure } from './contract.js';
import { XmlParseError, escapeXml, parseXml } from './xml.js';
import type { XmlElement } from './xml.js';
import {
  enumValues,
  fieldDefault,
  formatDateTime,
  liveFields,
  parseDateTime,
  zeroValue,
} from './wire-types.js';
import type { WireType } from './wire-types.js';

/** A dateTime.iso8601 value as received, kept apart from strings until a type says what it is. */
export class WireDate {
  constructor(readonly text: string) {}
}

/** A value as decoded from the wire before typing: XML-RPC and JSON-RPC both land here. */
export type Loose =
  string | number | boolean | null | WireDate | readonly Loose[] | ReadonlyMap<string, Loose>;

/** A decoded XML-RPC call. */
export interface WireCall {
  readonly method: string;
  readonly params: readonly Loose[];
}

/** Parses an XML-RPC `<methodCall>` (ocaml-rpc xmlrpc.ml `call_of_string` semantics). */
export function parseXmlRpcCall(body: string): WireCall {
  const root = parseXml(body);
  if (root.name !== 'methodCall')
    throw new XmlParseError(`got open_tag(${root.name}) while open_tag(methodCall) was expected`);
  const nameEl = root.kids.find((k) => k.name === 'methodName');
  if (!nameEl) throw new XmlParseError('missing methodName');
  const paramsEl = root.kids.find((k) => k.name === 'params');
  const params: Loose[] = [];
  for (const p of paramsEl?.kids ?? []) {
    if (p.name !== 'param')
      throw new XmlParseError(`got open_tag(${p.name}) while open_tag(param) was expected`);
    const v = p.kids[0];
    if (!v) throw new XmlParseError('empty param');
    params.push(xmlToLoose(v));
  }
  return { method: nameEl.text.trim(), params };
}

/** One parsed `<value>` as a loose value (structs become Maps); ova.xml's values are read the same way. */
export function xmlToLoose(el: XmlElement): Loose {
  if (el.name !== 'value')
    throw new XmlParseError(`got open_tag(${el.name}) while open_tag(value) was expected`);
  const inner = el.kids[0];
  if (!inner) return el.text; // untyped value: a string (XML-RPC spec; xapi sends ints like this too)
  const text = inner.text;
  switch (inner.name) {
    case 'string':
      return text;
    case 'int':
    case 'i4':
    case 'i8': {
      const t = text.trim();
      if (!/^[+-]?\d+$/.test(t)) throw new XmlParseError(`bad integer ${t}`);
      return Number(t);
    }
    case 'double': {
      const d = Number(text.trim());
      if (text.trim() === '' || Number.isNaN(d)) {
        if (/^[+-]?nan$/i.test(text.trim())) return NaN;
        throw new XmlParseError(`bad double ${text}`);
      }
      return d;
    }
    case 'boolean':
      return text.trim() === '1'; // ocaml-rpc: "1" is true, anything else false
    case 'dateTime.iso8601':
      return new WireDate(text.trim());
    case 'base64':
      return Buffer.from(text.trim(), 'base64').toString('utf8');
    case 'nil':
      return null;
    case 'array': {
      const data = inner.kids[0];
      if (data && data.name !== 'data') throw new XmlParseError('array without data');
      return (data?.kids ?? []).map(xmlToLoose);
    }
    case 'struct': {
      // A Map, never a plain object: member names like "__proto__" stay data (no prototype pollution).
      const m = new Map<string, Loose>();
      for (const member of inner.kids) {
        const name = member.kids.find((k) => k.name === 'name');
        const value = member.kids.find((k) => k.name === 'value');
        if (member.name !== 'member' || !name || !value) throw new XmlParseError('malformed struct member');
        m.set(name.text, xmlToLoose(value));
      }
      return m;
    }
    default:
      throw new XmlParseError(
        `got open_tag(${inner.name}) while open_tag(int/i8/i4/boolean/double/string/dateTime.iso8601/array/struct/nil) was expected`,
      );
  }
}

/** Converts parsed JSON (objects become Maps, so `__proto__` keys stay plain data). */
export function jsonToLoose(v: unknown, depth = 0): Loose {
  if (depth > 64) throw new SyntaxError('JSON nested too deeply');
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map((x) => jsonToLoose(x, depth + 1));
  if (typeof v === 'object') {
    const m = new Map<string, Loose>();
    for (const k of Object.keys(v)) m.set(k, jsonToLoose((v as Record<string, unknown>)[k], depth + 1));
    return m;
  }
  throw new SyntaxError('unsupported JSON value');
}

/** A record or map as stored: a null-prototype object, so any key (even `__proto__`) is an own data property. */
export function newMap(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

function typeError(name: string): XapiFailure {
  return new XapiFailure('FIELD_TYPE_ERROR', [name]);
}

/**
 * Decodes a wire value to the typed store value for `t`. Accepts what xapi accepts: ints as numbers or digit strings,
 * floats as numbers or numeric strings, datetimes as dateTime or string, enums case-insensitively. `name` names the
 * parameter in `FIELD_TYPE_ERROR`.
 */
export function decodeValue(t: WireType, v: Loose, name: string): unknown {
  switch (t.k) {
    case 'string':
    case 'ref':
      if (typeof v === 'string') return v;
      if (v instanceof WireDate) return v.text;
      if (v === null && t.k === 'ref') return 'OpaqueRef:NULL';
      throw typeError(name);
    case 'enum': {
      if (typeof v !== 'string') throw typeError(name);
      const values = enumValues(t.name);
      if (!values) return v;
      const hit = values.find((e) => e.toLowerCase() === v.toLowerCase());
      if (hit === undefined) throw new XapiFailure('INVALID_VALUE', [name, v]);
      return hit;
    }
    case 'int': {
      const n =
        typeof v === 'number' ? v : typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number(v) : NaN;
      if (!Number.isFinite(n) || !Number.isInteger(n)) throw typeError(name);
      return n;
    }
    case 'float': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      if (typeof v !== 'number' && Number.isNaN(n)) throw typeError(name);
      return n;
    }
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === '1') return true;
      if (v === 'false' || v === '0') return false;
      throw typeError(name);
    case 'datetime': {
      const text = v instanceof WireDate ? v.text : typeof v === 'string' ? v : undefined;
      const d = text === undefined ? undefined : parseDateTime(text);
      if (!d) throw typeError(name);
      return d;
    }
    case 'set':
      if (!Array.isArray(v)) throw typeError(name);
      return (v as readonly Loose[]).map((x) => decodeValue(t.of, x, name));
    case 'map': {
      if (!(v instanceof Map)) throw typeError(name);
      const out = newMap();
      for (const [k, x] of v as ReadonlyMap<string, Loose>) out[k] = decodeValue(t.value, x, name);
      return out;
    }
    case 'record': {
      if (t.cls === undefined) return looseToPlain(v); // `<class> record`: no class to type it by
      if (!(v instanceof Map)) throw typeError(name);
      const m = v as ReadonlyMap<string, Loose>;
      const out = newMap();
      // Fields left out take their default (gen_server.ml `from_ctor_record`); unknown members are ignored.
      for (const f of liveFields(t.cls)) {
        const x = m.get(f.n);
        out[f.n] = x === undefined ? fieldDefault(f) : decodeValue(f.type, x, f.n);
      }
      return out;
    }
    case 'option':
      // ocaml-rpc sends `Some x` as x; an absent one stays as it came.
      return v === null ? null : decodeValue(t.of, v, name);
    case 'void':
    case 'event_batch':
    case 'any':
      return looseToPlain(v);
  }
}

function looseToPlain(v: Loose): unknown {
  if (v instanceof WireDate) return v.text;
  if (Array.isArray(v)) return (v as readonly Loose[]).map(looseToPlain);
  if (v instanceof Map) {
    const out = newMap();
    for (const [k, x] of v as ReadonlyMap<string, Loose>) out[k] = looseToPlain(x);
    return out;
  }
  return v;
}

/** C's `%.16g`, which ocaml-rpc uses for doubles (xmlrpc.ml `Printf.sprintf "%.16g"`). */
export function formatG16(x: number): string {
  return formatG(x, 16);
}

/** C's `%.<precision>g`. */
export function formatG(x: number, precision: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mant = '0', expText = '0'] = x.toExponential(precision - 1).split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= precision) {
    const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    const e = Math.abs(exp);
    return `${m}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  const fixed = x.toFixed(Math.max(0, precision - 1 - exp));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

/** Yojson's float printing (what xapi's JSON-RPC sends): shortest of %.16g/%.17g that round-trips, with ".0" for integers. */
export function formatJsonFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  let s = formatG16(x);
  if (Number(s) !== x)
    s = x
      .toPrecision(17)
      .replace(/(\.\d*?)0+(e|$)/, '$1$2')
      .replace(/\.(e|$)/, '$1');
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}

function scalarText(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return formatDateTime(v);
  return '';
}

function intText(v: unknown): string {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) return '0';
  const i = Math.trunc(n);
  return Math.abs(i) < 1e21 ? String(i) : BigInt(i).toString();
}

function asDate(v: unknown): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'string') return parseDateTime(v) ?? new Date(0);
  if (typeof v === 'number') return new Date(v);
  return new Date(0);
}

/** Where {@link encodeXml} and {@link encodeJson} append their text (a string array will do). */
export interface Sink {
  push(...parts: string[]): unknown;
}

/** An `event.from` result before encoding. */
export interface EventBatchValue {
  readonly events: readonly {
    readonly id: string;
    readonly timestamp: string;
    readonly class: string;
    readonly operation: string;
    readonly ref: string;
    readonly snapshot?: { readonly cls: string; readonly record: Readonly<Record<string, unknown>> };
  }[];
  readonly valid_ref_counts: Readonly<Record<string, number>>;
  readonly token: string;
}

/** Appends the XML-RPC encoding of `v` (typed by `t`) to `out`. */
export function encodeXml(t: WireType, v: unknown, out: Sink): void {
  out.push(xmlOf(t, v));
}

/**
 * The XML-RPC encoding of `v` (typed by `t`). Built by string concatenation, which V8 turns into cheap ropes:
 * measurably faster than collecting pieces for a record of a hundred fields.
 */
export function xmlOf(t: WireType, v: unknown): string {
  switch (t.k) {
    case 'string':
    case 'ref':
    case 'enum':
      return `<value>${escapeXml(typeof v === 'string' ? v : v === undefined || v === null ? '' : scalarText(v))}</value>`;
    case 'int':
      return `<value>${intText(v)}</value>`;
    case 'float':
      return `<value><double>${formatG16(typeof v === 'number' ? v : Number(v))}</double></value>`;
    case 'bool':
      return v === true ? '<value><boolean>1</boolean></value>' : '<value><boolean>0</boolean></value>';
    case 'datetime':
      return `<value><dateTime.iso8601>${formatDateTime(asDate(v))}</dateTime.iso8601></value>`;
    case 'void':
      return '<value></value>';
    case 'set': {
      let s = '<value><array><data>';
      if (Array.isArray(v)) for (const x of v) s += xmlOf(t.of, x);
      return `${s}</data></array></value>`;
    }
    case 'map': {
      let s = '<value><struct>';
      if (v && typeof v === 'object') {
        const m = v as Record<string, unknown>;
        for (const k of Object.keys(m))
          s += `<member><name>${escapeXml(k)}</name>${xmlOf(t.value, m[k])}</member>`;
      }
      return `${s}</struct></value>`;
    }
    case 'record':
      if (t.cls === undefined) return snapshotXml(v);
      return recordXml(t.cls, (v ?? {}) as Readonly<Record<string, unknown>>);
    case 'event_batch':
      return batchXml(v as EventBatchValue);
    case 'option':
      return v === undefined || v === null ? xmlOf(guessType(v), v) : xmlOf(t.of, v);
    case 'any':
      return xmlOf(guessType(v), v);
  }
}

function recordXml(cls: string, rec: Readonly<Record<string, unknown>>): string {
  let s = '<value><struct>';
  for (const f of liveFields(cls)) {
    const x = rec[f.n];
    s += `<member><name>${f.n}</name>${xmlOf(f.type, x === undefined ? fieldDefault(f) : x)}</member>`;
  }
  return `${s}</struct></value>`;
}

const STR: WireType = { k: 'string' };

/** A legacy event's `snapshot` (`<class> record`): `{ cls, record }`, or an empty struct when there is none. */
function snapshotXml(v: unknown): string {
  const snap = v as { cls?: unknown; record?: Readonly<Record<string, unknown>> } | undefined;
  return typeof snap?.cls === 'string' && snap.record
    ? recordXml(snap.cls, snap.record)
    : '<value><struct></struct></value>';
}

function batchXml(b: EventBatchValue): string {
  let s = '<value><struct><member><name>events</name><value><array><data>';
  for (const e of b.events) {
    s += '<value><struct>';
    for (const key of ['id', 'timestamp', 'class', 'operation', 'ref'] as const)
      s += `<member><name>${key}</name>${xmlOf(STR, e[key])}</member>`;
    if (e.snapshot)
      s += `<member><name>snapshot</name>${recordXml(e.snapshot.cls, e.snapshot.record)}</member>`;
    s += '</struct></value>';
  }
  s += '</data></array></value></member><member><name>valid_ref_counts</name><value><struct>';
  // Int32 on purpose: event_types.ml `rpc_of_event_from` wraps counts in Rpc.Int32, which ocaml-rpc sends as <i4>.
  for (const [k, n] of Object.entries(b.valid_ref_counts))
    s += `<member><name>${k}</name><value><i4>${n}</i4></value></member>`;
  return `${s}</struct></value></member><member><name>token</name>${xmlOf(STR, b.token)}</member></struct></value>`;
}

function guessType(v: unknown): WireType {
  if (typeof v === 'number') return Number.isInteger(v) ? { k: 'int' } : { k: 'float' };
  if (typeof v === 'boolean') return { k: 'bool' };
  if (v instanceof Date) return { k: 'datetime' };
  if (Array.isArray(v)) return { k: 'set', of: { k: 'any' } };
  if (v && typeof v === 'object') return { k: 'map', key: STR, value: { k: 'any' } };
  return STR;
}

/** Appends the JSON-RPC encoding of `v` (typed by `t`) to `out`. */
export function encodeJson(t: WireType, v: unknown, out: Sink): void {
  out.push(jsonOf(t, v));
}

/** The JSON-RPC encoding of `v` (typed by `t`) as JSON text, Yojson's compact layout (string concatenation, as xmlOf). */
export function jsonOf(t: WireType, v: unknown): string {
  switch (t.k) {
    case 'string':
    case 'ref':
    case 'enum':
      return JSON.stringify(typeof v === 'string' ? v : v === undefined || v === null ? '' : scalarText(v));
    case 'int':
      return intText(v);
    case 'float':
      return formatJsonFloat(typeof v === 'number' ? v : Number(v));
    case 'bool':
      return v === true ? 'true' : 'false';
    case 'datetime':
      return `"${formatDateTime(asDate(v))}"`;
    case 'void':
      return '""';
    case 'set': {
      if (!Array.isArray(v) || v.length === 0) return '[]';
      let s = '[';
      for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + jsonOf(t.of, v[i]);
      return `${s}]`;
    }
    case 'map': {
      let s = '{';
      if (v && typeof v === 'object') {
        const m = v as Record<string, unknown>;
        let first = true;
        for (const k of Object.keys(m)) {
          s += `${first ? '' : ','}${JSON.stringify(k)}:${jsonOf(t.value, m[k])}`;
          first = false;
        }
      }
      return `${s}}`;
    }
    case 'record': {
      if (t.cls === undefined) {
        const snap = v as { cls?: unknown; record?: Readonly<Record<string, unknown>> } | undefined;
        return typeof snap?.cls === 'string' && snap.record ? recordJson(snap.cls, snap.record) : '{}';
      }
      return recordJson(t.cls, (v ?? {}) as Readonly<Record<string, unknown>>);
    }
    case 'event_batch': {
      const b = v as EventBatchValue;
      let s = '{"events":[';
      b.events.forEach((e, i) => {
        s += `${i ? ',' : ''}{"id":${JSON.stringify(e.id)},"timestamp":${JSON.stringify(e.timestamp)},"class":${JSON.stringify(e.class)},"operation":${JSON.stringify(e.operation)},"ref":${JSON.stringify(e.ref)}`;
        if (e.snapshot) s += `,"snapshot":${recordJson(e.snapshot.cls, e.snapshot.record)}`;
        s += '}';
      });
      const counts = Object.entries(b.valid_ref_counts)
        .map(([k, n]) => `${JSON.stringify(k)}:${n}`)
        .join(',');
      return `${s}],"valid_ref_counts":{${counts}},"token":${JSON.stringify(b.token)}}`;
    }
    case 'option':
      return v === undefined || v === null ? jsonOf(guessType(v), v) : jsonOf(t.of, v);
    case 'any':
      return jsonOf(guessType(v), v);
  }
}

function recordJson(cls: string, rec: Readonly<Record<string, unknown>>): string {
  let s = '{';
  let first = true;
  for (const f of liveFields(cls)) {
    const x = rec[f.n];
    s += `${first ? '' : ','}"${f.n}":${jsonOf(f.type, x === undefined ? fieldDefault(f) : x)}`;
    first = false;
  }
  return `${s}}`;
}

/** The XML-RPC value text of `v` (e.g. for `task.result`, which is an XML-RPC value even over JSON-RPC). */
export function xmlValueString(t: WireType, v: unknown): string {
  return xmlOf(t, v);
}

/** A typed value as a zero of its type when missing. */
export function orZero(t: WireType, v: unknown): unknown {
  return v === undefined ? zeroValue(t) : v;
}
