/**
 * Declarative XenAPI queries: select the records of a class whose fields (and the records they reference) match,
 * then count and compare. Pure functions over a snapshot of the pool's records, so they run the same against the
 * simulator and a real pool.
 * @module
 */
import { CLASSES } from '@xenlab/toolkit/xenapi';
import type { FieldMatch, NumberMatch, Query, Where } from '../labs/schema.js';

/** Records by class, then by ref (as `get_all_records` returns them, normalised by the toolkit client). */
export type PoolSnapshot = ReadonlyMap<string, ReadonlyMap<string, Readonly<Record<string, unknown>>>>;

const NULL_REF = 'OpaqueRef:NULL';

function fieldType(cls: string, field: string): string | undefined {
  return CLASSES[cls]?.f.find((f) => f.n === field)?.t;
}
const refTarget = (type: string | undefined): string | undefined =>
  type === undefined ? undefined : /^(\w+) ref( set)?$/.exec(type)?.[1];

/** Every class a query reads (its own and those its `is`/`any`/`all`/`none` conditions follow). */
export function classesOf(q: { select: string; where: Where }): Set<string> {
  const out = new Set<string>([q.select]);
  const walk = (cls: string, where: Where) => {
    for (const [field, m] of Object.entries(where)) {
      if (m === null || typeof m !== 'object') continue;
      const target = refTarget(fieldType(cls, field));
      for (const sub of [m.is, m.any, m.all, m.none]) {
        if (sub === undefined || target === undefined) continue;
        out.add(target);
        walk(target, sub);
      }
    }
  };
  walk(q.select, q.where);
  return out;
}

/** Compares a number against a NumberMatch (a bare number means equal). */
export function numberMatches(n: number, m: NumberMatch): boolean {
  if (typeof m === 'number') return n === m;
  return (
    (m.eq === undefined || n === m.eq) &&
    (m.ne === undefined || n !== m.ne) &&
    (m.gt === undefined || n > m.gt) &&
    (m.gte === undefined || n >= m.gte) &&
    (m.lt === undefined || n < m.lt) &&
    (m.lte === undefined || n <= m.lte)
  );
}

/** Words for a NumberMatch: "at least 3", "exactly 2". */
export function describeNumber(m: NumberMatch): string {
  if (typeof m === 'number') return `exactly ${String(m)}`;
  const parts: string[] = [];
  if (m.eq !== undefined) parts.push(`exactly ${String(m.eq)}`);
  if (m.gte !== undefined) parts.push(`at least ${String(m.gte)}`);
  if (m.gt !== undefined) parts.push(`more than ${String(m.gt)}`);
  if (m.lte !== undefined) parts.push(`at most ${String(m.lte)}`);
  if (m.lt !== undefined) parts.push(`fewer than ${String(m.lt)}`);
  if (m.ne !== undefined) parts.push(`not ${String(m.ne)}`);
  return parts.join(' and ') || 'any number of';
}

/** Equality that lets authors write `VLAN: "{{vlan}}"` (a string after substitution) for an int field. */
function looseEqual(value: unknown, want: string | number | boolean): boolean {
  if (value === want) return true;
  if (typeof value === 'number' && typeof want === 'string')
    return want.trim() !== '' && Number(want) === value;
  if (typeof value === 'string' && typeof want === 'number')
    return value.trim() !== '' && Number(value) === want;
  if (typeof value === 'boolean' && typeof want === 'string') return String(value) === want.toLowerCase();
  if (value instanceof Date && typeof want === 'string') return value.toISOString() === want;
  return false;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

const asNumber = (v: unknown): number | undefined =>
  typeof v === 'number'
    ? v
    : typeof v === 'string' && v.trim() !== '' && !isNaN(Number(v))
      ? Number(v)
      : undefined;

function sizeOf(v: unknown): number {
  if (Array.isArray(v)) return v.length;
  if (v !== null && typeof v === 'object') return Object.keys(v).length;
  return 0;
}

function fieldMatches(
  snap: PoolSnapshot,
  cls: string,
  field: string,
  value: unknown,
  m: FieldMatch,
): boolean {
  if (m === null) return value === null || value === undefined || value === NULL_REF || value === '';
  if (typeof m !== 'object') return looseEqual(value, m);
  const target = refTarget(fieldType(cls, field));
  const deref = (r: unknown) => (typeof r === 'string' && target ? snap.get(target)?.get(r) : undefined);
  if (m.eq !== undefined && !looseEqual(value, m.eq)) return false;
  if (m.ne !== undefined && looseEqual(value, m.ne)) return false;
  for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
    const want = m[op];
    if (want === undefined) continue;
    const n = asNumber(value);
    if (n === undefined || !numberMatches(n, { [op]: want })) return false;
  }
  if (m.glob !== undefined && !(typeof value === 'string' && globToRegExp(m.glob).test(value))) return false;
  if (m.regex !== undefined && !(typeof value === 'string' && new RegExp(m.regex).test(value))) return false;
  if (m.in !== undefined && !m.in.some((w) => looseEqual(value, w))) return false;
  if (m.key !== undefined && Array.isArray(value)) {
    // A string set (`tags`, `allowed_operations`): `key` asks for a member.
    if (!value.includes(m.key)) return false;
  } else if (m.key !== undefined) {
    const map = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
    if (!(m.key in map)) return false;
    if (m.value !== undefined && !fieldMatches(snap, cls, '', map[m.key], m.value)) return false;
  }
  if (m.size !== undefined && !numberMatches(sizeOf(value), m.size)) return false;
  if (m.exists !== undefined) {
    const set = typeof value === 'string' ? value !== '' && value !== NULL_REF : sizeOf(value) > 0;
    if (set !== m.exists) return false;
  }
  if (m.is !== undefined) {
    const rec = deref(value);
    if (!rec || !target || !recordMatches(snap, target, rec, m.is)) return false;
  }
  const members = Array.isArray(value) ? value : [];
  const memberMatches = (w: Where) => (r: unknown) => {
    const rec = deref(r);
    return rec !== undefined && target !== undefined && recordMatches(snap, target, rec, w);
  };
  if (m.any !== undefined && !members.some(memberMatches(m.any))) return false;
  if (m.all !== undefined && !members.every(memberMatches(m.all))) return false;
  if (m.none !== undefined && members.some(memberMatches(m.none))) return false;
  return true;
}

/** True when a record satisfies every condition of `where`. */
export function recordMatches(
  snap: PoolSnapshot,
  cls: string,
  rec: Readonly<Record<string, unknown>>,
  where: Where,
): boolean {
  for (const [field, m] of Object.entries(where)) {
    if (!fieldMatches(snap, cls, field, rec[field], m)) return false;
  }
  return true;
}

/** Refs of the records a query selects. */
export function selectRefs(snap: PoolSnapshot, q: { select: string; where: Where }): string[] {
  const out: string[] = [];
  for (const [ref, rec] of snap.get(q.select) ?? new Map<string, Readonly<Record<string, unknown>>>()) {
    if (recordMatches(snap, q.select, rec, q.where)) out.push(ref);
  }
  return out;
}

/** Outcome of a query: whether its expectation holds, and a sentence saying what was found. */
export interface QueryOutcome {
  readonly pass: boolean;
  readonly count: number;
  readonly found: string;
}

/**
 * Evaluates a query with its expectation.
 * @example
 * evaluateQuery(snap, { select: 'VM', where: { power_state: 'Running' }, expect: { count: { gte: 3 } } })
 * // { pass: false, count: 1, found: 'found 1 matching VM, expected at least 3' }
 */
export function evaluateQuery(snap: PoolSnapshot, q: Query): QueryOutcome {
  const refs = selectRefs(snap, q);
  const countRule = q.expect.count ?? { gte: 1 };
  let pass = numberMatches(refs.length, countRule);
  let found = `found ${String(refs.length)} matching ${q.select}${refs.length === 1 ? '' : ' records'}, expected ${describeNumber(countRule)}`;
  const d = q.expect.distinct;
  if (pass && d) {
    const records = snap.get(q.select);
    const values = new Set(refs.map((r) => JSON.stringify(records?.get(r)?.[d.field] ?? null)));
    const rule = {
      ...(d.eq === undefined ? {} : { eq: d.eq }),
      ...(d.gte === undefined ? {} : { gte: d.gte }),
      ...(d.lte === undefined ? {} : { lte: d.lte }),
    };
    if (!numberMatches(values.size, rule)) {
      pass = false;
      found = `the matching ${q.select} records have ${String(values.size)} distinct ${d.field}, expected ${describeNumber(rule)}`;
    }
  }
  return { pass, count: refs.length, found };
}
