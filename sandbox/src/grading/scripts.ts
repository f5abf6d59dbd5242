/**
 * Script checks in flight (issue #12: one slow check never holds up the others). Each run is a process in the
 * sandbox, started in the background: its result is recorded and published when it arrives, a run longer than
 * `pendingAfterMs` shows as pending meanwhile, and a check still running is never started a second time (a pass
 * that would run it joins the run in progress).
 * @module
 */
import type { Sandbox } from '../drivers/types.js';
import type { Check, Task } from '../labs/schema.js';
import type { Trigger } from '../protocol/lab.js';
import type { Backoff } from './backoff.js';
import { scriptOutcome, type CheckOutcome } from './checks.js';
import type { Progress } from './progress.js';

/** Default delay before a running script check shows as pending. */
const PENDING_AFTER_MS = 1000;

type ScriptCheck = Extract<Check, { kind: 'script' }>;

/** A script check running now: its result, when it began, and whether the view shows it as pending yet. */
interface Inflight {
  /** Set as the run starts. */
  promise: Promise<CheckOutcome> | undefined;
  readonly since: number;
  shown: boolean;
  /** Someone asked for a fresh run (Check, a page attaching) while this one ran: its result may be stale. */
  joined: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** What the runner tells the rest of the grader. */
export interface ScriptHooks {
  /** Whether the grader is closed (results arriving then are dropped). */
  closed(): boolean;
  /** A result was recorded: mark passed tasks and publish. */
  settle(trigger: Trigger, at: number): void;
  /** Publish the view if it changed (a run began to show as pending, or an error ended one). */
  publish(trigger: Trigger, at: number): void;
  /** A run errored (the sandbox gone): the message, for diagnostics. */
  errored(message: string): void;
}

/** The script checks of one grader running now, by check id (at most one run each). */
export class ScriptRunner {
  /** Runs started so far (each a process in the sandbox). */
  runs = 0;
  readonly #inflight = new Map<string, Inflight>();
  readonly #sandbox: Sandbox;
  readonly #progress: Progress;
  readonly #backoff: Backoff;
  readonly #pendingAfterMs: number;
  readonly #hooks: ScriptHooks;

  constructor(
    sandbox: Sandbox,
    progress: Progress,
    backoff: Backoff,
    pendingAfterMs: number | undefined,
    hooks: ScriptHooks,
  ) {
    this.#sandbox = sandbox;
    this.#progress = progress;
    this.#backoff = backoff;
    this.#pendingAfterMs = pendingAfterMs ?? PENDING_AFTER_MS;
    this.#hooks = hooks;
  }

  /** Script checks running now. */
  get size(): number {
    return this.#inflight.size;
  }

  /** Whether check `id` is running now. */
  running(id: string): boolean {
    return this.#inflight.has(id);
  }

  /** A pass wanting a fresh run of `id` joins the run in progress: a failure it brings is retried on the next poll. */
  join(id: string): void {
    const entry = this.#inflight.get(id);
    if (entry) entry.joined = true;
  }

  /** When check `id`'s run began, if the view shows it as pending now. */
  pendingSince(id: string): number | undefined {
    const run = this.#inflight.get(id);
    return run?.shown === true ? run.since : undefined;
  }

  async #run(c: ScriptCheck): Promise<CheckOutcome> {
    this.runs++;
    const r = await this.#sandbox.exec(['bash', '-c', c.run], {
      timeoutMs: c.timeoutMs,
      root: c.root,
      ...(c.node === undefined ? {} : { node: c.node }),
    });
    return scriptOutcome(c, r);
  }

  /**
   * Starts one run of a script check in the background: its result is recorded and published when it arrives; a
   * run longer than `pendingAfterMs` shows as pending meanwhile. A run that fails to start or errors (the sandbox
   * gone) leaves the last result, counts as a failure for the backoff, and rejects for those who wait on it.
   */
  start(t: Task, c: ScriptCheck, trigger: Trigger): void {
    const entry: Inflight = {
      promise: undefined,
      since: Date.now(),
      shown: false,
      joined: false,
      timer: undefined,
    };
    const finish = () => {
      clearTimeout(entry.timer);
      this.#inflight.delete(c.id);
    };
    const run = this.#run(c).then(
      (o) => {
        finish();
        if (!this.#hooks.closed()) this.#arrived(t, c, o, entry, trigger);
        return o;
      },
      (e: unknown) => {
        finish();
        if (!this.#hooks.closed()) {
          this.#hooks.errored(e instanceof Error ? e.message : String(e));
          this.#backoff.scriptErrored(c.id);
          if (entry.shown) this.#hooks.publish(trigger, Date.now());
        }
        throw e;
      },
    );
    // Nobody need be waiting: a failed run must not become an unhandled rejection.
    run.catch(() => undefined);
    entry.promise = run;
    entry.timer = setTimeout(() => {
      if (this.#hooks.closed() || this.#inflight.get(c.id) !== entry) return;
      entry.shown = true;
      this.#hooks.publish(trigger, Date.now());
    }, this.#pendingAfterMs);
    entry.timer.unref();
    this.#inflight.set(c.id, entry);
  }

  /** A run's result arrived (the grader still open): backoff, record, settle. */
  #arrived(t: Task, c: ScriptCheck, o: CheckOutcome, entry: Inflight, trigger: Trigger): void {
    // The backoff counts from the result (a slow check is not re-run the moment it ends).
    this.#backoff.noteScript(c.id, o, Date.now());
    // A pass that wanted a fresh run joined this one: its result may predate what the learner changed, so a
    // failure is retried on the next poll rather than backing off.
    if (!o.pass && entry.joined) this.#backoff.retrySoon(c.id);
    const now = Date.now();
    this.#progress.record(t, c, o, trigger, now);
    this.#hooks.settle(trigger, now);
  }

  /**
   * Waits for the script checks running now (of `task` only, when given): rejects if one of them errored. Runs
   * started meanwhile (the poll) are not waited for.
   */
  async done(task?: string): Promise<void> {
    const waits: Promise<CheckOutcome>[] = [];
    for (const [id, r] of this.#inflight)
      if (r.promise && (task === undefined || this.#progress.taskOfCheck.get(id)?.id === task))
        waits.push(r.promise);
    await Promise.all(waits);
  }

  /** The grader closes: runs still going end with the sandbox; their results are dropped. */
  stopTimers(): void {
    for (const r of this.#inflight.values()) clearTimeout(r.timer);
  }
}
