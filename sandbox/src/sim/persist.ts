/**
 * Durable state: the store is written to a JSON file after changes (debounced, atomic write-then-rename) and read
 * back on start, so a restarted simulator gives the learner their pool back.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Store, StoreDump } from './store.js';

/** What the state file holds. */
export interface StateFile {
  readonly format: 'xenlab-sim-state';
  readonly savedAt: string;
  readonly store: StoreDump;
}

/** Reads a state file; undefined when absent. Throws with the path in the message when it is unreadable. */
export function readStateFile(path: string): StoreDump | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`SIM_ERR_STATE_UNREADABLE: cannot read ${path}: ${(e as Error).message}`);
  }
  const data = JSON.parse(text) as Partial<StateFile>;
  if (data.format !== 'xenlab-sim-state' || data.store?.version !== 1)
    throw new Error(`SIM_ERR_STATE_UNREADABLE: ${path} is not a xenlab simulator state file`);
  return data.store;
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
  readonly #path: string;
  readonly #delay: number;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #dirty = false;
  readonly #unsubscribe: () => void;

  constructor(store: Store, path: string, delayMs = 250) {
    this.#store = store;
    this.#path = path;
    this.#delay = delayMs;
    mkdirSync(dirname(path), { recursive: true });
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
      .then(() => atomicWrite(this.#path, text))
      .catch((e: unknown) => {
        process.emitWarning(`xenlab sim: could not save state to ${this.#path}: ${(e as Error).message}`);
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

/** Synchronous save (used on process exit paths). */
export function saveStateSync(store: Store, path: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, serialise(store), { mode: 0o600 });
  renameSync(tmp, path);
}
