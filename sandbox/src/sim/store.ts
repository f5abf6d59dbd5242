/**
 * The simulator's object store: one table per class, a uuid index, inverse relations kept automatically, and a
 * change log that `event.from` reads. Every mutation bumps the generation (xapi's db generation, which tokens carry).
 */
import { XapiFailure } from './contract.js';
import type { SimRecord, SimStore } from './contract.js';
import { newMap } from './codec.js';
import {
  NULL_REF,
  STORED_CLASSES,
  classDefaults,
  fieldDefault,
  fieldSpec,
  liveFields,
} from './wire-types.js';

/**
 * One-to-many relations whose "many" side xapi maintains itself (ocaml/idl/datamodel.ml `all_relations`):
 * [class with the ref field, ref field, class with the set field, set field].
 */
const RELATIONS: readonly (readonly [string, string, string, string])[] = [
  ['VBD', 'VM', 'VM', 'VBDs'],
  ['VIF', 'VM', 'VM', 'VIFs'],
  ['console', 'VM', 'VM', 'consoles'],
  ['VM', 'snapshot_of', 'VM', 'snapshots'],
  ['VM', 'parent', 'VM', 'children'],
  ['VM', 'resident_on', 'host', 'resident_VMs'],
  ['PIF', 'host', 'host', 'PIFs'],
  ['PBD', 'host', 'host', 'PBDs'],
  ['host_cpu', 'host', 'host', 'host_CPUs'],
  ['VDI', 'SR', 'SR', 'VDIs'],
  ['PBD', 'SR', 'SR', 'PBDs'],
  ['VBD', 'VDI', 'VDI', 'VBDs'],
  ['VDI', 'snapshot_of', 'VDI', 'snapshots'],
  ['PIF', 'network', 'network', 'PIFs'],
  ['VIF', 'network', 'network', 'VIFs'],
  ['Bond', 'master', 'PIF', 'bond_master_of'],
  ['PIF', 'bond_slave_of', 'Bond', 'slaves'],
  ['VLAN', 'tagged_PIF', 'PIF', 'VLAN_slave_of'],
  ['task', 'subtask_of', 'task', 'subtasks'],
  ['VM', 'appliance', 'VM_appliance', 'VMs'],
  ['SR', 'introduced_by', 'DR_task', 'introduced_SRs'],
];

const forwardByClass = new Map<string, { field: string; target: string; inverse: string }[]>();
for (const [cls, field, target, inverse] of RELATIONS) {
  if (!fieldSpec(cls, field) || !fieldSpec(target, inverse)) continue;
  const list = forwardByClass.get(cls) ?? [];
  list.push({ field, target, inverse });
  forwardByClass.set(cls, list);
}

/** What the change log knows about one object. */
interface ObjectMeta {
  readonly cls: string;
  readonly ref: string;
  created: number;
  modified: number;
  deleted: boolean;
}

/** One change as `event.from` reports it. */
export interface Change {
  readonly cls: string;
  readonly ref: string;
  readonly gen: number;
  /** Generation at which the object was created (0 for objects loaded from saved state). */
  readonly created: number;
  readonly operation: 'add' | 'mod' | 'del';
}

/** The whole state as JSON-able data (persistence and snapshots). */
export interface StoreDump {
  readonly version: 1;
  readonly generation: number;
  readonly tables: Readonly<Record<string, readonly (readonly [string, SimRecord])[]>>;
}

/** Creates uuids and refs (deterministic under a seed). */
export type UuidSource = () => string;

/**
 * The most objects a simulated pool holds by default (sessions, tasks and messages not counted: xapi bounds those
 * itself). Generous: a lab that makes 1000 VMs with their disks and VIFs stays far below it.
 */
export const DEFAULT_MAX_OBJECTS = 50_000;

/** Classes the object cap does not count: bounded elsewhere, and needed to clean up a full pool (login, tasks). */
const UNCAPPED = new Set(['session', 'task', 'message']);

/** The in-memory store. */
export class Store implements SimStore {
  readonly #tables = new Map<string, Map<string, SimRecord>>();
  readonly #byUuid = new Map<string, Map<string, string>>();
  readonly #meta = new Map<string, ObjectMeta>();
  readonly #entries = new Map<string, [string, SimRecord][]>();
  #log: { gen: number; key: string }[] = [];
  #deletedCount = 0;
  #generation = 0;
  #messageGeneration = 0;
  readonly #listeners = new Set<(cls: string, ref: string) => void>();
  readonly #uuid: UuidSource;
  #capped = 0;
  /** Most objects (of counted classes) the pool may hold; `create` fails beyond it. */
  maxObjects = DEFAULT_MAX_OBJECTS;

  constructor(uuid: UuidSource) {
    this.#uuid = uuid;
    for (const cls of STORED_CLASSES) this.#table(cls);
  }

  /** The current generation (bumped by every change). */
  get generation(): number {
    return this.#generation;
  }

  /** How many `message` changes happened (second half of an event token). */
  get messageGeneration(): number {
    return this.#messageGeneration;
  }

  /** Objects the cap counts (every class but sessions, tasks and messages). */
  get objectCount(): number {
    return this.#capped;
  }

  /** Calls `fn(cls, ref)` after every change of an object; returns an unsubscribe function. */
  subscribe(fn: (cls: string, ref: string) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #table(cls: string): Map<string, SimRecord> {
    let t = this.#tables.get(cls);
    if (!t) {
      t = new Map();
      this.#tables.set(cls, t);
      this.#byUuid.set(cls, new Map());
    }
    return t;
  }

  /** True when the class has a table here. */
  hasClass(cls: string): boolean {
    return this.#tables.has(cls);
  }

  /** A fresh `OpaqueRef:<uuid>`. */
  newRef(): string {
    return `OpaqueRef:${this.#uuid()}`;
  }

  #freshUuid(cls: string): string {
    const idx = this.#byUuid.get(cls);
    for (;;) {
      const u = this.#uuid();
      if (!idx?.has(u)) return u;
    }
  }

  create(cls: string, fields: SimRecord, ref?: string): string {
    const counted = !UNCAPPED.has(cls);
    if (counted && this.#capped >= this.maxObjects)
      throw new XapiFailure('INTERNAL_ERROR', [
        `xenlab: this simulated pool already holds ${String(this.#capped)} objects, the most it may hold ` +
          `(${String(this.maxObjects)}); destroy some (VMs, disks, networks…) before creating more ${cls} objects`,
      ]);
    const table = this.#table(cls);
    let r = ref ?? this.newRef();
    while (table.has(r)) r = this.newRef();
    const rec: SimRecord = {};
    for (const [name, d, mutable] of classDefaults(cls)) {
      const given = fields[name];
      rec[name] = given !== undefined ? cloneValue(given) : mutable ? cloneValue(d) : d;
    }
    if (typeof rec.uuid !== 'string' || rec.uuid === '') rec.uuid = this.#freshUuid(cls);
    table.set(r, rec);
    if (counted) this.#capped++;
    this.#entries.delete(cls);
    this.#byUuid.get(cls)?.set(rec.uuid as string, r);
    this.#touch(cls, r, 'add');
    for (const rel of forwardByClass.get(cls) ?? []) this.#link(rel.target, rel.inverse, rec[rel.field], r);
    return r;
  }

  get(cls: string, ref: string): Readonly<SimRecord> {
    const rec = this.#tables.get(cls)?.get(ref);
    if (!rec) throw new XapiFailure('HANDLE_INVALID', [cls, ref]);
    return rec;
  }

  find(cls: string, ref: string): Readonly<SimRecord> | undefined {
    return this.#tables.get(cls)?.get(ref);
  }

  update(cls: string, ref: string, patch: SimRecord): void {
    const rec = this.#tables.get(cls)?.get(ref);
    if (!rec) throw new XapiFailure('HANDLE_INVALID', [cls, ref]);
    const rels = forwardByClass.get(cls);
    for (const k of Object.keys(patch)) {
      if (!fieldSpec(cls, k)) continue;
      const old = rec[k];
      const next = cloneValue(patch[k]);
      rec[k] = next;
      if (k === 'uuid' && typeof next === 'string' && typeof old === 'string') {
        const idx = this.#byUuid.get(cls);
        idx?.delete(old);
        idx?.set(next, ref);
      }
      const rel = rels?.find((x) => x.field === k);
      if (rel && old !== next) {
        this.#unlink(rel.target, rel.inverse, old, ref);
        this.#link(rel.target, rel.inverse, next, ref);
      }
    }
    this.#touch(cls, ref, 'mod');
  }

  destroy(cls: string, ref: string): void {
    const table = this.#tables.get(cls);
    const rec = table?.get(ref);
    if (!table || !rec) throw new XapiFailure('HANDLE_INVALID', [cls, ref]);
    table.delete(ref);
    if (!UNCAPPED.has(cls)) this.#capped--;
    this.#entries.delete(cls);
    this.#byUuid.get(cls)?.delete(rec.uuid as string);
    for (const rel of forwardByClass.get(cls) ?? [])
      this.#unlink(rel.target, rel.inverse, rec[rel.field], ref);
    this.#touch(cls, ref, 'del');
  }

  all(cls: string): [string, Readonly<SimRecord>][] {
    // Records are updated in place, so the [ref, record] pairs stay valid until an object is created or destroyed:
    // cache them per class and hand out copies of the array (behaviours call this on every placement decision).
    let entries = this.#entries.get(cls);
    if (!entries) {
      entries = [...(this.#tables.get(cls) ?? [])];
      this.#entries.set(cls, entries);
    }
    return entries.slice();
  }

  /** The number of objects of a class. */
  count(cls: string): number {
    return this.#tables.get(cls)?.size ?? 0;
  }

  /** The ref of the object of `cls` with this uuid, if there is one (the uuid index, no scan). */
  findByUuid(cls: string, uuid: string): string | undefined {
    return this.#byUuid.get(cls)?.get(uuid);
  }

  byUuid(cls: string, uuid: string): string {
    const ref = this.#byUuid.get(cls)?.get(uuid);
    if (ref === undefined) throw new XapiFailure('UUID_INVALID', [cls, uuid]);
    return ref;
  }

  /** The generation at which an object was created (0 when loaded from saved state or unknown). */
  createdAt(cls: string, ref: string): number {
    return this.#meta.get(`${cls}/${ref}`)?.created ?? 0;
  }

  /** Emits a `mod` on an object without changing it (`event.inject`). */
  touch(cls: string, ref: string): void {
    this.get(cls, ref);
    this.#touch(cls, ref, 'mod');
  }

  #link(target: string, inverse: string, to: unknown, ref: string): void {
    if (typeof to !== 'string' || to === NULL_REF) return;
    const rec = this.#tables.get(target)?.get(to);
    if (!rec) return;
    const set = Array.isArray(rec[inverse]) ? (rec[inverse] as string[]) : [];
    if (set.includes(ref)) return;
    rec[inverse] = [...set, ref];
    this.#touch(target, to, 'mod');
  }

  #unlink(target: string, inverse: string, from: unknown, ref: string): void {
    if (typeof from !== 'string' || from === NULL_REF) return;
    const rec = this.#tables.get(target)?.get(from);
    if (!rec || !Array.isArray(rec[inverse])) return;
    const set = rec[inverse] as string[];
    if (!set.includes(ref)) return;
    rec[inverse] = set.filter((x) => x !== ref);
    this.#touch(target, from, 'mod');
  }

  #touch(cls: string, ref: string, op: 'add' | 'mod' | 'del'): void {
    const gen = ++this.#generation;
    if (cls === 'message') this.#messageGeneration++;
    const key = `${cls}/${ref}`;
    let meta = this.#meta.get(key);
    if (!meta || op === 'add') {
      meta = { cls, ref, created: gen, modified: gen, deleted: false };
      this.#meta.set(key, meta);
    }
    meta.modified = gen;
    if (op === 'del') {
      meta.deleted = true;
      this.#deletedCount++;
    }
    this.#log.push({ gen, key });
    if (this.#log.length > 2 * this.#meta.size + 4096) this.#compact();
    for (const fn of this.#listeners) fn(cls, ref);
  }

  #compact(): void {
    // Keep only the newest entry per object; forget the oldest deletions once there are many.
    if (this.#deletedCount > 20_000) {
      const dead = [...this.#meta.values()].filter((m) => m.deleted).sort((a, b) => a.modified - b.modified);
      for (const m of dead.slice(0, dead.length - 10_000)) this.#meta.delete(`${m.cls}/${m.ref}`);
      this.#deletedCount = 10_000;
    }
    this.#log = this.#log.filter((e) => this.#meta.get(e.key)?.modified === e.gen);
  }

  /** Changes after generation `since`, one per object (coalesced), oldest first. */
  changesSince(since: number, wants: (cls: string, ref: string) => boolean): Change[] {
    const log = this.#log;
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((log[mid]?.gen ?? 0) <= since) lo = mid + 1;
      else hi = mid;
    }
    const out: Change[] = [];
    for (let i = lo; i < log.length; i++) {
      const e = log[i];
      if (!e) continue;
      const m = this.#meta.get(e.key);
      if (m?.modified !== e.gen || !wants(m.cls, m.ref)) continue;
      // Created and destroyed since the token: nothing to report (xapi_event.ml `fold_over_deleted`).
      if (m.deleted && m.created > since) continue;
      out.push({
        cls: m.cls,
        ref: m.ref,
        gen: e.gen,
        created: m.created,
        operation: m.deleted ? 'del' : m.created > since ? 'add' : 'mod',
      });
    }
    return out;
  }

  /** One object as plain data (as in {@link dump}); undefined when it does not exist (any more). */
  dumpObject(cls: string, ref: string): SimRecord | undefined {
    const rec = this.#tables.get(cls)?.get(ref);
    return rec ? (toPlain(rec) as SimRecord) : undefined;
  }

  /** Every object as `[cls, ref]` (persisting a pool loaded from an older save in full). */
  *keys(): Generator<readonly [string, string]> {
    for (const [cls, t] of this.#tables) for (const ref of t.keys()) yield [cls, ref];
  }

  /** The whole state as plain data (Dates as `{ $date }`), for persistence and control-API snapshots. */
  dump(): StoreDump {
    const tables: Record<string, (readonly [string, SimRecord])[]> = {};
    for (const [cls, t] of this.#tables)
      tables[cls] = [...t].map(([r, rec]) => [r, toPlain(rec) as SimRecord] as const);
    return { version: 1, generation: this.#generation, tables };
  }

  /**
   * Replaces the whole state with a dump. Objects that changed, appeared or vanished get `mod`/`add`/`del` events
   * so that clients following `event.from` see the restored pool.
   */
  load(dump: StoreDump, options: { quiet?: boolean } = {}): void {
    const before = new Set<string>();
    for (const [cls, t] of this.#tables) for (const ref of t.keys()) before.add(`${cls}/${ref}`);
    this.#generation = Math.max(this.#generation, dump.generation);
    for (const [cls, t] of this.#tables) {
      t.clear();
      this.#entries.delete(cls);
      this.#byUuid.get(cls)?.clear();
    }
    for (const [cls, rows] of Object.entries(dump.tables)) {
      if (!fieldSpec(cls, 'uuid')) continue;
      const t = this.#table(cls);
      for (const [ref, raw] of rows) {
        const plain = fromPlain(raw) as SimRecord;
        const rec: SimRecord = {};
        for (const f of liveFields(cls)) rec[f.n] = plain[f.n] === undefined ? fieldDefault(f) : plain[f.n];
        t.set(ref, rec);
        this.#entries.delete(cls);
        this.#byUuid.get(cls)?.set(rec.uuid as string, ref);
      }
    }
    this.#capped = 0;
    for (const [cls, t] of this.#tables) if (!UNCAPPED.has(cls)) this.#capped += t.size;
    if (options.quiet) {
      this.#meta.clear();
      this.#log = [];
      for (const [cls, t] of this.#tables)
        for (const ref of t.keys())
          this.#meta.set(`${cls}/${ref}`, { cls, ref, created: 0, modified: 0, deleted: false });
      return;
    }
    for (const [cls, t] of this.#tables) {
      for (const ref of t.keys()) this.#touch(cls, ref, before.delete(`${cls}/${ref}`) ? 'mod' : 'add');
    }
    for (const key of before) {
      const slash = key.indexOf('/');
      this.#touch(key.slice(0, slash), key.slice(slash + 1), 'del');
    }
  }
}

/** Deep copy of a store value, keeping Dates and null-prototype maps. */
export function cloneValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Date) return new Date(v.getTime());
  if (Array.isArray(v)) return v.map(cloneValue);
  const out = Object.getPrototypeOf(v) === null ? newMap() : ({} as Record<string, unknown>);
  for (const k of Object.keys(v)) out[k] = cloneValue((v as Record<string, unknown>)[k]);
  return out;
}

function toPlain(v: unknown): unknown {
  if (v instanceof Date) return { $date: v.getTime() };
  if (Array.isArray(v)) return v.map(toPlain);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      const value = toPlain((v as Record<string, unknown>)[k]);
      // A map key `__proto__` (learner data) must stay a key, not set the prototype; every other key is assigned
      // (defineProperty for all of them made each save of a 1000-VM pool seconds slower).
      if (k === '__proto__')
        Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
      else out[k] = value;
    }
    return out;
  }
  return v;
}

function fromPlain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromPlain);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === '$date' && typeof o.$date === 'number') return new Date(o.$date);
    const out = newMap();
    for (const k of keys) out[k] = fromPlain(o[k]);
    return out;
  }
  return v;
}
