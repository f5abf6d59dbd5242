/**
 * When the grader evaluates: one evaluation at a time (requests arriving meanwhile coalesce into one more), in the
 * background on events and on the short poll, and the poll only while a page watches. Nobody watching, nothing
 * spawned: script checks (each a process in the sandbox) run from the poll or when asked for, never on an event.
 * @module
 */
import type { Check } from '../labs/schema.js';
import type { Trigger } from '../protocol/lab.js';
import type { Backoff } from './backoff.js';
import type { CheckOutcome } from './checks.js';
import type { PoolMirror } from './pool.js';

/**
 * Which script checks an evaluation runs (ordered: a queued evaluation keeps the most asked for). FAILING and ALL
 * come from the poll and respect the backoff of checks that keep failing; FORCE (Check, a page attaching, `lab
 * test`) runs every script now.
 */
export const ScriptRuns = { NONE: 0, FAILING: 1, ALL: 2, FORCE: 3 } as const;
export type ScriptRuns = (typeof ScriptRuns)[keyof typeof ScriptRuns];

/** Every how many polls everything is re-run and refetched. */
const FULL_EVERY = 5;

/** Whether an evaluation asking for `scripts` runs script check `c` (last outcome `prev`) at `at`. */
export function runsScript(
  c: Check,
  prev: CheckOutcome | undefined,
  scripts: ScriptRuns,
  backoff: Backoff,
  at: number,
): boolean {
  if (scripts === ScriptRuns.FORCE) return true;
  if (scripts === ScriptRuns.NONE) return false;
  if (prev?.pass === true) return scripts === ScriptRuns.ALL;
  return backoff.due(c.id, at);
}

/** The grader's lifecycle flags and counters, shared by its parts. */
export interface GraderStatus {
  closed: boolean;
  /** The first evaluation is done and events are followed. */
  started: boolean;
  /** Pages watching now. */
  watchers: number;
  /** Evaluations run (of any trigger). */
  evaluations: number;
  /** The last background failure, for diagnostics. */
  lastError: string | undefined;
}

/** One evaluation pass. */
export type Evaluate = (trigger: Trigger, scripts: ScriptRuns) => Promise<void>;

/** The queue of evaluations, the poll, and the watchers that keep it going. */
export class Scheduler {
  readonly #status: GraderStatus;
  readonly #backoff: Backoff;
  readonly #pool: PoolMirror;
  readonly #evaluate: Evaluate;
  // Evaluations run one at a time; requests arriving meanwhile coalesce into one more run.
  #running: Promise<void> = Promise.resolve();
  #queued: { trigger: Trigger; scripts: ScriptRuns } | undefined;
  #queuedPromise: Promise<void> | undefined;
  #poll: NodeJS.Timeout | undefined;
  #polls = 0;

  constructor(status: GraderStatus, backoff: Backoff, pool: PoolMirror, evaluate: Evaluate) {
    this.#status = status;
    this.#backoff = backoff;
    this.#pool = pool;
    this.#evaluate = evaluate;
  }

  /** The evaluation running now, or one settled (never rejects). */
  get idle(): Promise<void> {
    return this.#running;
  }

  /** Runs an evaluation after the one running now; one queued already takes this request in (the most scripts). */
  schedule(trigger: Trigger, scripts: ScriptRuns): Promise<void> {
    if (this.#queued) {
      this.#queued.scripts = Math.max(this.#queued.scripts, scripts) as ScriptRuns;
      return this.#queuedPromise ?? this.#running;
    }
    this.#queued = { trigger, scripts };
    const next = this.#running.then(async () => {
      const q = this.#queued ?? { trigger, scripts };
      this.#queued = undefined;
      this.#queuedPromise = undefined;
      if (this.#status.closed) return;
      await this.#evaluate(q.trigger, q.scripts);
    });
    this.#queuedPromise = next;
    this.#running = next.catch(() => undefined);
    return next;
  }

  /**
   * Evaluates in the background (events, polls). A failure (the pool unreachable for a moment) must never become
   * an unhandled rejection in the gateway: the last good view stays, and the next event or poll tries again.
   */
  kick(trigger: Trigger, scripts: ScriptRuns): void {
    this.schedule(trigger, scripts).then(
      () => {
        this.#backoff.evaluationSucceeded();
      },
      (e: unknown) => {
        this.#status.lastError = e instanceof Error ? e.message : String(e);
        // The pool or the sandbox is unreachable: the poll waits longer each time (events still try at once).
        this.#backoff.evaluationFailed();
      },
    );
  }

  /**
   * The short poll runs the failing script checks (a learner fixing a file sees it turn green within a poll);
   * every FULL_EVERY-th poll re-runs every script and refetches every class, in case an event was missed.
   * Passing scripts are not re-run on every poll: with a room of learners, each run is a process. It runs only
   * while a page watches.
   */
  startPolling(): void {
    const status = this.#status;
    if (this.#poll || status.closed || !status.started || status.watchers === 0) return;
    this.#poll = setInterval(() => {
      if (!this.#backoff.pollDue(Date.now())) return;
      const full = ++this.#polls % FULL_EVERY === 0;
      if (full) this.#pool.markAllDirty();
      this.kick('poll', full ? ScriptRuns.ALL : ScriptRuns.FAILING);
    }, this.#backoff.pollMs);
    this.#poll.unref();
  }

  stopPolling(): void {
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = undefined;
  }

  /**
   * A page watches: the first watcher resumes the poll and re-evaluates everything at once (the page gets the result
   * pushed). Returns the release function; the last release stops the poll.
   */
  watch(): () => void {
    const status = this.#status;
    status.watchers++;
    if (status.watchers === 1 && status.started && !status.closed) {
      this.#backoff.retryNow();
      this.#pool.markAllDirty();
      this.kick('initial', ScriptRuns.FORCE);
      this.startPolling();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      status.watchers--;
      if (status.watchers === 0) this.stopPolling();
    };
  }
}
