/**
 * Durable state: the store is written after changes to a {@link StateSink} and read back on start, so a restarted
 * simulator gives the learner their pool back. Sinks: a JSON file (the whole pool, debounced, atomic
 * write-then-rename; `xenlab sim --state`), or the gateway's SQLite database (sandbox/src/store/pool-states.ts),
 * which keeps a pool object by object ({@link ObjectSink}): only the objects that changed are written, in one
 * transaction, before the answer to the call that changed them is sent ({@link StateSaver.commit}).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SimRecord } from './contract.js';
import type { Store, StoreDump } from './store.js';

/** What the state file holds. */
export interface StateFile {
  readonly format: 'xenlab-sim-state';
  readonly savedAt: string;
  readonly store: StoreDump;
}

/** Where a simulator keeps its state: the text of a {@link StateFile}. */
export interface StateSink {
  /** For messages: the file, or the database row. */
  readonly name: string;
  /** The saved text (an older, whole-pool save); undefined when there is none. */
  read(): string | undefined;
  write(text: string): Promise<void>;
  /** When set, the pool is kept object by object there, and `read` is only the older save it started from. */
  readonly objects?: ObjectSink;
  /** The same place as data a worker thread can open itself (see `startIsolatedSimulator`). */
  readonly location?: PoolLocation;
}

/** Changed objects, as one save writes them. */
export interface PoolChanges {
  /** The store's generation after these changes. */
  readonly generation: number;
  /** Objects created or changed: class, ref, the record as plain data (as in a {@link StoreDump}). */
  readonly put: readonly (readonly [cls: string, ref: string, record: SimRecord])[];
  /** Objects destroyed. */
  readonly del: readonly (readonly [cls: string, ref: string])[];
}

/** A place that keeps a pool object by object: a save writes only what changed. */
export interface ObjectSink {
  /** The saved pool; undefined when nothing was saved object by object yet. */
  load(): StoreDump | undefined;
  /** Writes changes at once, atomically and durably (one transaction); drops any older whole-pool save. */
  apply(changes: PoolChanges): void;
  /** Lets go of the place (a database connection the sink opened itself). */
  close?(): void;
}

/** Where a pool is kept, as plain data (a worker thread receives it and opens the place itself). */
export type PoolLocation =
  | { readonly kind: 'file'; readonly path: string }
  | {
      readonly kind: 'sqlite';
      /** The gateway's database file (WAL mode, so a second connection may write while it reads). */
      readonly path: string;
      readonly envId: string;
      /** A pool an older version saved as a file, read until the first save. */
      readonly legacyFile?: string;
    };

/** A state file, written atomically (write, fsync, rename). */
export function fileSink(path: string): StateSink {
  return {
    name: path,
    read() {
      try {
        return readFileSync(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new Error(`SIM_ERR_STATE_UNREADABLE: cannot read ${path}: ${(e as Error).message}`);
      }
    },
    async write(text) {
      mkdirSync(dirname(path), { recursive: true });
      await atomicWrite(path, text);
    },
    location: { kind: 'file', path },
  };
}

/**
 * Reads saved state: the object-by-object save when there is one, else the older whole-pool text (then `complete`
 * is false: the saver writes every object once). Undefined when nothing was saved. Throws, naming the sink, when
 * the save is unreadable.
 */
export function loadState(sink: StateSink): { dump: StoreDump; complete: boolean } | undefined {
  const saved = sink.objects?.load();
  if (saved) return { dump: saved, complete: true };
  const dump = readState(sink);
  return dump && { dump, complete: sink.objects === undefined };
}

/** Reads saved whole-pool state; undefined when there is none. Throws, naming the sink, when it is unreadable. */
export function readState(sink: StateSink): StoreDump | undefined {
  const text = sink.read();
  if (text === undefined) return undefined;
  let data: Partial<StateFile>;
  try {
    data = JSON.parse(text) as Partial<StateFile>;
  } catch {
    data = {};
  }
  if (data.format !== 'xenlab-sim-state' || data.store?.version !== 1)
    throw new Error(`SIM_ERR_STATE_UNREADABLE: ${sink.name} is not a xenlab simulator state file`);
  return data.store;
}

/** Reads a state file; undefined when absent. Throws with the path in the message when it is unreadable. */
export function readStateFile(path: string): StoreDump | undefined {
  return readState(fileSink(path));
}

function serialise(store: Store): string {
  const file: StateFile = {
    format: 'xenlab-sim-state',
    savedAt: new Date().toISOString(),
    store: store.dump(),
  };
  return JSON.stringify(file);
}

/**
 * Saves the store after changes. To a whole-pool sink: shortly after each burst of changes (at most every
 * `delayMs`, default 250 ms). To an {@link ObjectSink}: only the objects that changed, at once on
 * {@link StateSaver.commit} (the server calls it before answering a call) and otherwise after `delayMs` (changes
 * no call made: tasks finishing on the simulated clock).
 */
export class StateSaver {
  readonly #store: Store;
  readonly #sink: StateSink;
  readonly #delay: number;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #dirty = false;
  /** Changed objects not yet written (object sinks), by `cls/ref`. */
  readonly #changed = new Map<string, readonly [string, string]>();
  readonly #unsubscribe: () => void;

  constructor(store: Store, sink: StateSink, delayMs = 250) {
    this.#store = store;
    this.#sink = sink;
    this.#delay = delayMs;
    this.#unsubscribe = store.subscribe((cls, ref) => {
      this.#dirty = true;
      if (sink.objects) this.#changed.set(`${cls}/${ref}`, [cls, ref]);
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, this.#delay);
    });
  }

  /** Marks every object changed: the next save writes the whole pool (first save of an older whole-pool save). */
  markAll(): void {
    this.#dirty = true;
    if (this.#sink.objects)
      for (const [cls, ref] of this.#store.keys()) this.#changed.set(`${cls}/${ref}`, [cls, ref]);
  }

  /**
   * Writes the changed objects now, synchronously (object sinks; whole-pool sinks keep their debounce). Throws
   * when the write fails: the change is not durable, and the caller must not say it is.
   */
  commit(): void {
    const objects = this.#sink.objects;
    if (!objects || !this.#dirty) return;
    this.#dirty = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const put: [string, string, SimRecord][] = [];
    const del: [string, string][] = [];
    for (const [cls, ref] of this.#changed.values()) {
      const rec = this.#store.dumpObject(cls, ref);
      if (rec) put.push([cls, ref, rec]);
      else del.push([cls, ref]);
    }
    this.#changed.clear();
    try {
      objects.apply({ generation: this.#store.generation, put, del });
    } catch (e) {
      // Kept for the next attempt.
      this.#dirty = true;
      for (const [cls, ref] of [...put, ...del]) this.#changed.set(`${cls}/${ref}`, [cls, ref]);
      throw e;
    }
  }

  /** Writes now if anything changed since the last write. */
  flush(): Promise<void> {
    if (!this.#dirty) return this.#writing;
    if (this.#sink.objects) {
      try {
        this.commit();
      } catch (e) {
        warn(this.#sink, e);
      }
      return this.#writing;
    }
    this.#dirty = false;
    const text = serialise(this.#store);
    this.#writing = this.#writing
      .then(() => this.#sink.write(text))
      .catch((e: unknown) => {
        warn(this.#sink, e);
      });
    return this.#writing;
  }

  /** Stops watching without writing (a simulator that failed to start). */
  abandon(): void {
    this.#unsubscribe();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Stops watching and writes any pending change. */
  async close(): Promise<void> {
    this.#unsubscribe();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}

function warn(sink: StateSink, e: unknown): void {
  process.emitWarning(`xenlab sim: could not save state to ${sink.name}: ${(e as Error).message}`);
}

async function atomicWrite(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
