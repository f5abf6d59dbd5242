/**
 * The grader's copy of the learner's pool: the records of the XenAPI classes the lab's checks read, refetched per
 * class when an event says it changed (or when everything is to be re-read).
 * @module
 */
import type { Ref, XapiClient } from '@xenlab/toolkit/xenapi';
import type { Task } from '../labs/schema.js';
import { classesOf, type PoolSnapshot } from './query.js';

type PoolRecords = Map<string, Map<string, Record<string, unknown>>>;

async function fetchClass(xapi: XapiClient, cls: string): Promise<Map<string, Record<string, unknown>>> {
  // The class comes from a validated manifest; the typed `call` only knows literal method names.
  const call = xapi.call.bind(xapi) as unknown as (
    m: string,
  ) => Promise<Record<Ref<string>, Record<string, unknown>>>;
  const all = await call(`${cls}.get_all_records`);
  return new Map(Object.entries(all));
}

/** The check's pool name (undefined: the first pool). */
function poolOf(c: Task['checks'][number]): string | undefined {
  return 'pool' in c ? c.pool : undefined;
}

/** The XenAPI classes the checks of `tasks` read (XenAPI, temporal, and counted answers), per pool (`''`: the first). */
function classesOfTasks(tasks: readonly Task[]): Map<string, Set<string>> {
  const byPool = new Map<string, Set<string>>();
  for (const t of tasks)
    for (const c of t.checks) {
      const name = poolOf(c) ?? '';
      const classes = byPool.get(name) ?? new Set<string>();
      byPool.set(name, classes);
      if (c.kind === 'xapi') for (const k of classesOf(c)) classes.add(k);
      if (c.kind === 'temporal')
        for (const k of [...classesOf(c.while), ...classesOf(c.always)]) classes.add(k);
      if (c.kind === 'answer' && 'count' in c.expect)
        for (const k of classesOf(c.expect.count)) classes.add(k);
    }
  return byPool;
}

/** The records one pool's checks read, and which classes are stale. */
class OnePool {
  readonly #xapi: XapiClient;
  readonly #classes: Set<string>;
  readonly #byLower: Map<string, string>;
  readonly #records: PoolRecords = new Map();
  /** Classes to refetch before the next evaluation (all of them at first). */
  readonly #dirty: Set<string>;

  constructor(xapi: XapiClient, classes: Set<string>) {
    this.#xapi = xapi;
    this.#classes = classes;
    this.#byLower = new Map([...this.#classes].map((c) => [c.toLowerCase(), c]));
    this.#dirty = new Set(this.#classes);
  }

  markAllDirty(): void {
    for (const c of this.#classes) this.#dirty.add(c);
  }

  markChanged(eventClass: string): boolean {
    const cls = this.#byLower.get(eventClass.toLowerCase());
    if (cls === undefined) return false;
    this.#dirty.add(cls);
    return true;
  }

  async refresh(): Promise<void> {
    const todo = [...this.#dirty];
    this.#dirty.clear();
    const fetched = await Promise.all(
      todo.map(async (cls) => [cls, await fetchClass(this.#xapi, cls)] as const),
    );
    for (const [cls, recs] of fetched) this.#records.set(cls, recs);
  }

  snapshot(): PoolSnapshot {
    return this.#records;
  }
}

/**
 * The records the checks read, and which classes are stale: of the learner's pool, and in a multi-pool lab of each
 * other pool a check names (`pool:` on the check).
 */
export class PoolMirror {
  /** By pool name; `''` is the first pool. */
  readonly #pools = new Map<string, OnePool>();

  /** `others`: clients of the lab's other pools by name (a check naming the first pool reads `xapi`). */
  constructor(
    xapi: XapiClient,
    tasks: readonly Task[],
    others: ReadonlyMap<string, XapiClient> = new Map(),
    firstName?: string,
  ) {
    const byPool = classesOfTasks(tasks);
    const first = new Set<string>([...(byPool.get('') ?? []), ...(byPool.get(firstName ?? '') ?? [])]);
    this.#pools.set('', new OnePool(xapi, first));
    for (const [name, classes] of byPool) {
      if (name === '' || name === firstName) continue;
      const client = others.get(name);
      // validate refuses a check naming no pool of the lab; a client missing here reads nothing.
      if (client) this.#pools.set(name, new OnePool(client, classes));
    }
    if (firstName !== undefined) {
      const one = this.#pools.get('');
      if (one) this.#pools.set(firstName, one);
    }
  }

  /** The other pools' clients whose events matter (by name). */
  watchedPools(): string[] {
    return [...this.#pools.keys()].filter((k) => this.#pools.get(k) !== this.#pools.get(''));
  }

  /** Every class is refetched before the next evaluation. */
  markAllDirty(): void {
    for (const p of new Set(this.#pools.values())) p.markAllDirty();
  }

  /** An event of class `eventClass` (any case) in a pool (the first by default): marks it stale; false when no check reads it. */
  markChanged(eventClass: string, pool = ''): boolean {
    return this.#pools.get(pool)?.markChanged(eventClass) ?? false;
  }

  /** Refetches the stale classes. */
  async refresh(): Promise<void> {
    await Promise.all([...new Set(this.#pools.values())].map((p) => p.refresh()));
  }

  /** The records as last fetched (the live map, not a copy) of a pool (the first by default). */
  snapshot(pool?: string): PoolSnapshot {
    return (this.#pools.get(pool ?? '') ?? this.#pools.get(''))?.snapshot() ?? new Map();
  }
}
