/**
 * Durable state: the store is written after changes (debounced) to a {@link StateSink} and read back on start, so
 * a restarted simulator gives the learner their pool back. Sinks: a JSON file (atomic write-then-rename; `xenlab
 * sim --state`), or the gateway's SQLite database (sandbox/src/store/pool-states.ts).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
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
  /** The saved text; undefined when nothing was saved yet. */
  read(): string | undefined;
  write(text: string): Promise<void>;
}

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
  };
}

/** Reads saved state; undefined when there is none. Throws, naming the sink, when it is unreadable. */
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

/** Saves the store to `path` shortly after each burst of changes (at most every `delayMs`, default 250 ms). */
export class StateSaver {
  readonly #store: Store;
  readonly #sink: StateSink;
  readonly #delay: number;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #dirty = false;
  readonly #unsubscribe: () => void;

  constructor(store: Store, sink: StateSink, delayMs = 250) {
    this.#store = store;
    this.#sink = sink;
    this.#delay = delayMs;
    this.#unsubscribe = store.subscribe(() => {
      this.#dirty = true;
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, this.#delay);
    });
  }

  /** Writes now if anything changed since the last write. */
  flush(): Promise<void> {
    if (!this.#dirty) return this.#writing;
    this.#dirty = false;
    const text = serialise(this.#store);
    this.#writing = this.#writing
      .then(() => this.#sink.write(text))
      .catch((e: unknown) => {
        process.emitWarning(
          `xenlab sim: could not save state to ${this.#sink.name}: ${(e as Error).message}`,
        );
      });
    return this.#writing;
  }

  /** Stops watching and writes any pending change. */
  async close(): Promise<void> {
    this.#unsubscribe();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
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
