/**
 * Backoff: a script check that keeps failing the same way, and a background evaluation that errors, are retried
 * after one poll, then 2, 4, … polls, up to a cap. The learner doing something (a XenAPI event, Check, a page
 * attaching) retries everything at once.
 * @module
 */
import type { CheckOutcome } from './checks.js';

/** Default cap of the retry backoff. */
const RETRY_CAP_MS = 30_000;

/** Backoff of a script check that keeps failing: how often in a row, with what message, and when to run it next. */
interface Retry {
  failures: number;
  message: string | undefined;
  notBefore: number;
}

/** The backoff of one grader's script checks and of its poll. */
export class Backoff {
  readonly pollMs: number;
  readonly #capMs: number;
  readonly #retries = new Map<string, Retry>();
  /** Background evaluations that failed in a row, and when the poll may try again. */
  #errorsInRow = 0;
  #pollNotBefore = 0;

  constructor(pollMs: number, retryCapMs: number | undefined) {
    this.pollMs = pollMs;
    this.#capMs = Math.max(pollMs, retryCapMs ?? RETRY_CAP_MS);
  }

  /** Delay before retry number `n` (1 = the next poll), doubling up to the cap. */
  delay(n: number): number {
    return Math.min(this.pollMs * 2 ** Math.max(0, n - 1), this.#capMs);
  }

  /** Whether script check `id` may run again at `at`. */
  due(id: string, at: number): boolean {
    return at >= (this.#retries.get(id)?.notBefore ?? 0);
  }

  /** Remembers a script check's result: the same failure again waits twice as long; a pass forgets. */
  noteScript(id: string, o: CheckOutcome, at: number): void {
    if (o.pass) {
      this.#retries.delete(id);
      return;
    }
    const r = this.#retries.get(id);
    const failures = r !== undefined && r.message === o.message ? r.failures + 1 : 1;
    // Due half a poll early, so a retry falls on the poll it is meant for, not the one after.
    this.#retries.set(id, {
      failures,
      message: o.message,
      notBefore: at + this.delay(failures) - this.pollMs / 2,
    });
  }

  /** A run of script check `id` errored (the sandbox gone): one more failure, its last message kept. */
  scriptErrored(id: string): void {
    const r = this.#retries.get(id);
    const failures = (r?.failures ?? 0) + 1;
    this.#retries.set(id, {
      failures,
      message: r?.message,
      notBefore: Date.now() + this.delay(failures) - this.pollMs / 2,
    });
  }

  /** Script check `id` may run on the next poll, however often it failed. */
  retrySoon(id: string): void {
    const r = this.#retries.get(id);
    if (r) r.notBefore = 0;
  }

  /** Retries every backing-off check and the poll at once (the learner did something, or a page attached). */
  retryNow(): void {
    for (const r of this.#retries.values()) r.notBefore = 0;
    this.#pollNotBefore = 0;
  }

  /** Whether the poll runs at `now` (not while it backs off after failed evaluations). */
  pollDue(now: number): boolean {
    return now >= this.#pollNotBefore;
  }

  /** A background evaluation succeeded: the poll runs on time again. */
  evaluationSucceeded(): void {
    this.#errorsInRow = 0;
    this.#pollNotBefore = 0;
  }

  /** A background evaluation failed (the pool or the sandbox unreachable): the poll waits longer each time. */
  evaluationFailed(): void {
    this.#errorsInRow++;
    this.#pollNotBefore = Date.now() + this.delay(this.#errorsInRow + 1) - this.pollMs / 2;
  }
}
