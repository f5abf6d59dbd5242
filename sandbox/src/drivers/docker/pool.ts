/**
 * A warm pool: containers created and started ahead of learners, so a start costs a rename instead of the
 * engine's create+start (0.6-0.7 s on these 2-core hosts; docker-engine.md). Like z2jh's user placeholders and
 * Daytona's pools (perf-security.md §B), it refills in the background after each claim, one container at a time
 * so refills never compete with learners' own starts for the two cores.
 * @module
 */
import { XenlabError } from '../../errors/index.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/docker');

/** One pooled item: whatever the maker returns, plus how to throw it away. */
export interface PoolItem {
  dispose(): Promise<void>;
}

export interface WarmPoolStats {
  /** Items ready now. */
  readonly ready: number;
  readonly target: number;
  /** Claims served from the pool / that found it empty. */
  readonly hits: number;
  readonly misses: number;
  /** Last error while filling (the pool keeps trying, with a pause). */
  readonly lastError: string | undefined;
}

/** A fixed-size pool of ready items, refilled in the background. */
export class WarmPool<T extends PoolItem> {
  readonly #make: () => Promise<T>;
  readonly #target: number;
  readonly #ready: T[] = [];
  #filling: Promise<void> | undefined;
  #closed = false;
  #hits = 0;
  #misses = 0;
  #lastError: string | undefined;
  #waiters: (() => void)[] = [];

  constructor(make: () => Promise<T>, target: number) {
    if (!Number.isInteger(target) || target < 0 || target > 100) {
      throw new XenlabError('SANDBOX_ERR_BAD_OPTION', `pool size must be an integer 0-100 (got ${target})`);
    }
    this.#make = make;
    this.#target = target;
    this.fill();
  }

  /** Whether {@link close} was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  get stats(): WarmPoolStats {
    return {
      ready: this.#ready.length,
      target: this.#target,
      hits: this.#hits,
      misses: this.#misses,
      lastError: this.#lastError,
    };
  }

  /** Takes a ready item, or undefined when the pool is empty (the caller starts one cold). */
  take(): T | undefined {
    const item = this.#ready.shift();
    if (item) this.#hits++;
    else if (this.#target > 0) this.#misses++;
    this.fill();
    return item;
  }

  /** Starts filling up to the target (no-op when already filling or full). */
  fill(): void {
    if (this.#filling || this.#closed || this.#ready.length >= this.#target) return;
    this.#filling = (async () => {
      let failures = 0;
      while (!this.#closed && this.#ready.length < this.#target) {
        try {
          const item = await this.#make();
          if (this.isClosed) {
            await item.dispose().catch((err: unknown) => {
              log.debug('throwing away a warm item after close failed', { err });
            });
            break;
          }
          this.#ready.push(item);
          failures = 0;
          this.#wake();
        } catch (err) {
          this.#lastError = (err as Error).message;
          // Back off (engine restarting, image missing): 1 s, 2 s, … up to 30 s, so a broken engine isn't hammered.
          failures++;
          await new Promise((r) => setTimeout(r, Math.min(30_000, 1000 * 2 ** Math.min(failures - 1, 5))));
        }
      }
    })().finally(() => {
      this.#filling = undefined;
      this.#wake();
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves once the pool is full (or closed), or rejects after `ms`. */
  async ready(ms = 60_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.#closed && this.#ready.length < this.#target) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new XenlabError(
          'SANDBOX_ERR_POOL',
          `warm pool not full after ${ms} ms (${this.#ready.length}/${this.#target}; ${this.#lastError ?? 'no error'})`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 500));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Stops refilling and disposes of every unclaimed item. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#filling;
    const items = this.#ready.splice(0);
    await Promise.all(
      items.map((i) =>
        i.dispose().catch((err: unknown) => {
          log.debug('throwing away a warm item failed', { err });
        }),
      ),
    );
  }
}
