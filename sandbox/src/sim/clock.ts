/**
 * Simulated time. Operations take configurable durations (toolkit/src/xenapi/NOTES.md §4: VM.start ~2–10 s, fast
 * clone 1–5 s, full copy minutes), report progress on their task in a few steps, and honour `task.cancel`. Fast mode
 * makes every wait zero.
 */
import { XapiFailure } from './contract.js';
import type { SimClock, SimTask } from './contract.js';

/** Default operation durations in milliseconds ([est] figures from xenapi/NOTES.md §4, shortened for a classroom). */
export const DEFAULT_DURATIONS: Readonly<Record<string, number>> = {
  'VM.start': 3000,
  'VM.start_on': 3000,
  'VM.resume': 2000,
  'VM.clean_shutdown': 2000,
  'VM.hard_shutdown': 500,
  'VM.clean_reboot': 3000,
  'VM.hard_reboot': 2000,
  'VM.suspend': 2000,
  'VM.clone': 1000,
  'VM.snapshot': 1000,
  'VM.copy': 20000,
  'VM.provision': 1000,
  'VM.pool_migrate': 5000,
  // Cross-pool: per millisecond of WAN time (bytes over the link's bandwidth plus its latency), see migrate-cross-pool.ts.
  'VM.migrate_send': 1,
  'VDI.copy': 10000,
  'VDI.clone': 500,
  'host.evacuate': 5000,
  'pool.join': 5000,
};

/** The clock given to handlers. */
export class Clock implements SimClock {
  readonly #fast: boolean;
  readonly #durations: Record<string, number>;
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;
  #instant = 0;

  constructor(options: { fast?: boolean; durations?: Readonly<Record<string, number>> } = {}) {
    this.#fast = options.fast ?? false;
    this.#durations = { ...DEFAULT_DURATIONS, ...options.durations };
  }

  /** True in fast mode. */
  get fast(): boolean {
    return this.#fast;
  }

  now(): Date {
    return new Date();
  }

  /** The configured duration of an operation in ms (0 in fast mode and while building a scenario). */
  duration(operation: string): number {
    return this.#fast || this.#instant > 0 ? 0 : (this.#durations[operation] ?? 0);
  }

  /** Runs `fn` with every wait at zero (scenario set-up should not take simulated minutes). */
  async instantly<T>(fn: () => Promise<T>): Promise<T> {
    this.#instant++;
    try {
      return await fn();
    } finally {
      this.#instant--;
    }
  }

  async work(operation: string, task: SimTask | undefined, scale = 1): Promise<void> {
    const total = this.duration(operation) * Math.max(0, scale);
    if (total <= 0 || this.#closed) {
      if (task?.cancelled) throw new XapiFailure('TASK_CANCELLED', [task.ref]);
      return;
    }
    const steps = 4;
    for (let i = 1; i <= steps; i++) {
      await this.sleep(total / steps);
      if (task?.cancelled) throw new XapiFailure('TASK_CANCELLED', [task.ref]);
      if (i < steps) task?.setProgress(i / steps);
    }
  }

  /** A timer that `close()` releases. */
  sleep(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        resolve();
      }, ms);
      this.#timers.add(t);
    });
  }

  /** Releases every pending wait at once. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}
