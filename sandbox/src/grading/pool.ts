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

/** The XenAPI classes the checks of `tasks` read (XenAPI, temporal, and counted answers). */
function classesOfTasks(tasks: readonly Task[]): Set<string> {
  const classes = new Set<string>();
  for (const t of tasks)
    for (const c of t.checks) {
      if (c.kind === 'xapi') for (const k of classesOf(c)) classes.add(k);
      if (c.kind === 'temporal')
        for (const k of [...classesOf(c.while), ...classesOf(c.always)]) classes.add(k);
      if (c.kind === 'answer' && 'count' in c.expect)
        for (const k of classesOf(c.expect.count)) classes.add(k);
    }
  return classes;
}

/** The records the checks read, and which classes are stale. */
export class PoolMirror {
  readonly #xapi: XapiClient;
  readonly #classes: Set<string>;
  readonly #byLower: Map<string, string>;
  readonly #records: PoolRecords = new Map();
  /** Classes to refetch before the next evaluation (all of them at first). */
  readonly #dirty: Set<string>;

  constructor(xapi: XapiClient, tasks: readonly Task[]) {
    this.#xapi = xapi;
    this.#classes = classesOfTasks(tasks);
    this.#byLower = new Map([...this.#classes].map((c) => [c.toLowerCase(), c]));
    this.#dirty = new Set(this.#classes);
  }

  /** Every class is refetched before the next evaluation. */
  markAllDirty(): void {
    for (const c of this.#classes) this.#dirty.add(c);
  }

  /** An event of class `eventClass` (any case): marks it stale; false when no check reads it. */
  markChanged(eventClass: string): boolean {
    const cls = this.#byLower.get(eventClass.toLowerCase());
    if (cls === undefined) return false;
    this.#dirty.add(cls);
    return true;
  }

  /** Refetches the stale classes. */
  async refresh(): Promise<void> {
    const todo = [...this.#dirty];
    this.#dirty.clear();
    const fetched = await Promise.all(
      todo.map(async (cls) => [cls, await fetchClass(this.#xapi, cls)] as const),
    );
    for (const [cls, recs] of fetched) this.#records.set(cls, recs);
  }

  /** The records as last fetched (the live map, not a copy). */
  snapshot(): PoolSnapshot {
    return this.#records;
  }
}
