/**
 * The grading engine: evaluates a lab's checks for one learner, continuously and on demand. XenAPI and temporal
 * checks re-run on every XenAPI event (the pool's records refetched for the classes that changed); script checks
 * run on a short poll and when the learner presses Check. Every change is pushed to listeners (the lab channel)
 * and recorded in the grading store.
 *
 * Nobody watching, nothing spawned: the poll (and with it every script check, each a process in the sandbox) runs
 * only while a page watches ({@link Grader.watch}, which the lab channel calls on hello); events keep the XenAPI
 * checks current in-process. A page attaching resumes the poll and re-evaluates everything at once. Script checks
 * that keep failing the same way, and background evaluations that error, are retried with exponential backoff
 * (one poll, 2, 4, … up to `retryCapMs`); a XenAPI event, Check, or a page attaching retries at once.
 *
 * One slow check never holds up the others (issue #12: a PXE lab's check boots a host for minutes): an evaluation
 * pass starts the script checks it runs and publishes what it knows without waiting for them; each script check's
 * result is recorded and published when it arrives. A check running longer than `pendingAfterMs` shows as pending
 * (`CheckView.pending`, "checking…" in the panel). A check still running is never started a second time: a pass
 * that would run it joins the run in progress. Callers that need the results ({@link Grader.evaluate}, Check, `lab
 * test`) wait for the runs in progress.
 * @module
 */
import type { Ref, XapiClient, XapiEvent } from '@xenlab/toolkit/xenapi';
import type { Sandbox } from '../drivers/types.js';
import type { Lab } from '../labs/loader.js';
import type { Check, Task } from '../labs/schema.js';
import type { CheckView, LabView, TaskView, Trigger } from '../protocol/lab.js';
import {
  answerIsCorrect,
  evaluateXapiCheck,
  hashAnswer,
  newTemporalState,
  scriptOutcome,
  stepTemporal,
} from './checks.js';
import type { CheckOutcome, TemporalState } from './checks.js';
import { render, renderDeep } from '../labs/params.js';
import type { Params } from '../labs/params.js';
import { classesOf } from './query.js';
import type { PoolSnapshot } from './query.js';
import { GradingStore } from './store.js';
import type Database from 'better-sqlite3';

/** Stable error codes of the grader. */
export const GraderError = {
  UNKNOWN_TASK: 'LAB_ERR_UNKNOWN_TASK',
  UNKNOWN_CHECK: 'LAB_ERR_UNKNOWN_CHECK',
  SOLUTION_LOCKED: 'LAB_ERR_SOLUTION_LOCKED',
  NO_MORE_HINTS: 'LAB_ERR_NO_MORE_HINTS',
  /** Too many answers to a task's questions in a short time (guessing): the message says when to retry. */
  TOO_MANY_ANSWERS: 'LAB_ERR_TOO_MANY_ANSWERS',
} as const;

/** An error a learner's request caused (unknown task, locked solution); `code` is stable. */
export class GradingRequestError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'GradingRequestError';
    this.code = code;
  }
}

/** Options of {@link createGrader}. */
export interface GraderOptions {
  readonly lab: Lab;
  readonly params: Params;
  /** A client logged in to the learner's pool (the grader's own session). */
  readonly xapi: XapiClient;
  /** Where script checks run. */
  readonly sandbox: Sandbox;
  /** Who is graded (the key of the stored progress). */
  readonly learnerId: string;
  /** The gateway's database; progress is kept in memory only without one. */
  readonly db?: Database.Database;
  /** Interval of the short poll (script checks, and a full refetch in case an event was missed); default 2000 ms. */
  readonly pollMs?: number;
  /** Longest wait between retries of a script check that keeps failing, or of an erroring evaluation; default 30 s. */
  readonly retryCapMs?: number;
  /**
   * A script check running longer than this shows as pending ("checking…") until its result arrives; default
   * 1000 ms (quick checks never flicker through a pending state).
   */
  readonly pendingAfterMs?: number;
  /**
   * The rate limit of answers, per task (issue #11: short answers can be guessed by enumerating): `attempts` per
   * `windowMs`; the learner who runs out waits `windowMs`, twice as long each time again (at most `maxWaitMs`),
   * until a right answer. Default 5 a minute, at most 16 minutes' wait.
   */
  readonly answerLimit?: {
    readonly attempts: number;
    readonly windowMs: number;
    readonly maxWaitMs?: number;
  };
}

/** Default rate limit of answers (per task). */
const ANSWER_LIMIT = { attempts: 5, windowMs: 60_000, maxWaitMs: 16 * 60_000 } as const;

/** A task's recent answers: when each was evaluated, how often the limit was hit, and the end of the wait. */
interface AnswerWindow {
  times: number[];
  strikes: number;
  until: number;
}

/** What the grader did since it started (diagnostics, the idle benchmark, tests). */
export interface GraderStats {
  /** Evaluations run (of any trigger). */
  readonly evaluations: number;
  /** Script checks run (each a process in the sandbox). */
  readonly scriptRuns: number;
  /** Pages watching now. */
  readonly watchers: number;
  /** Script checks running now. */
  readonly pending: number;
}

/** Called with the new view after each evaluation that changed something. */
export type ViewListener = (view: LabView, trigger: Trigger, at: number) => void;

/** A running grader for one learner × lab. */
export interface Grader {
  /** Starts following events and polling; resolves after the first evaluation. */
  start(): Promise<void>;
  /** The learner's view now. */
  view(): LabView;
  /** Re-evaluates everything (Check pressed): counts an attempt on each failing task (or `task` only). */
  check(task?: string): Promise<LabView>;
  /** Reveals the next hint of a task, chosen by the cause of its failure. */
  hint(task: string): LabView;
  /** Reveals a task's solution once unlocked. */
  solution(task: string): LabView;
  /** Submits an answer to an answer check. */
  answer(check: string, text: string): Promise<{ correct: boolean; message: string }>;
  /**
   * Re-evaluates once (used by `lab test`); `scripts` runs the script checks too. With `wait` (the default) it
   * resolves once every script check it started or joined has its result (a PXE boot: minutes); with `wait: false`
   * as soon as the pass published what it knows, slow checks still pending.
   */
  evaluate(trigger: Trigger, scripts?: boolean, options?: { readonly wait?: boolean }): Promise<LabView>;
  /** Outcome of every check now, by id. */
  outcomes(): ReadonlyMap<string, CheckOutcome>;
  /** Why the last background evaluation failed, if it did (the view then shows the last good state). */
  lastError(): string | undefined;
  onChange(listener: ViewListener): () => void;
  /**
   * A page watches (the lab channel calls it on hello): the poll and the script checks run while at least one
   * does. The first watcher resumes them and re-evaluates everything at once. Returns the release function.
   */
  watch(): () => void;
  /** What the grader did so far. */
  stats(): GraderStats;
  /** Stops events and polls. */
  close(): Promise<void>;
}

interface TaskState {
  attempts: number;
  hints: number[];
  solutionShown: boolean;
  firstPassedAt: number | null;
}

type PoolRecords = Map<string, Map<string, Record<string, unknown>>>;

/**
 * Which script checks an evaluation runs (ordered: a queued evaluation keeps the most asked for). FAILING and ALL
 * come from the poll and respect the backoff of checks that keep failing; FORCE (Check, a page attaching, `lab
 * test`) runs every script now.
 */
const ScriptRuns = { NONE: 0, FAILING: 1, ALL: 2, FORCE: 3 } as const;
type ScriptRuns = (typeof ScriptRuns)[keyof typeof ScriptRuns];

/** Every how many polls everything is re-run and refetched. */
const FULL_EVERY = 5;

/** Default cap of the retry backoff. */
const RETRY_CAP_MS = 30_000;

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

/** Default delay before a running script check shows as pending. */
const PENDING_AFTER_MS = 1000;

/** Backoff of a script check that keeps failing: how often in a row, with what message, and when to run it next. */
interface Retry {
  failures: number;
  message: string | undefined;
  notBefore: number;
}

async function fetchClass(xapi: XapiClient, cls: string): Promise<Map<string, Record<string, unknown>>> {
  // The class comes from a validated manifest; the typed `call` only knows literal method names.
  const call = xapi.call.bind(xapi) as unknown as (
    m: string,
  ) => Promise<Record<Ref<string>, Record<string, unknown>>>;
  const all = await call(`${cls}.get_all_records`);
  return new Map(Object.entries(all));
}

/**
 * Creates the grader of one learner's lab.
 * @example
 * const grader = createGrader({ lab, params, xapi, sandbox, learnerId: 'l-1', db });
 * grader.onChange((view) => ws.send(JSON.stringify(view)));
 * await grader.start();
 */
export function createGrader(options: GraderOptions): Grader {
  const { lab, params, xapi, sandbox } = options;
  const m = lab.manifest;
  const store = new GradingStore(options.db, options.learnerId, lab.id);
  const saved = store.load();
  const tasks: Task[] = m.tasks.map((t) => ({
    ...t,
    checks: t.checks.map((c) => renderDeep<Check>(c, params)),
  }));
  const taskOfCheck = new Map<string, Task>();
  for (const t of tasks) for (const c of t.checks) taskOfCheck.set(c.id, t);

  const classes = new Set<string>();
  for (const t of tasks)
    for (const c of t.checks) {
      if (c.kind === 'xapi') for (const k of classesOf(c)) classes.add(k);
      if (c.kind === 'temporal')
        for (const k of [...classesOf(c.while), ...classesOf(c.always)]) classes.add(k);
      if (c.kind === 'answer' && 'count' in c.expect)
        for (const k of classesOf(c.expect.count)) classes.add(k);
    }
  const byLower = new Map([...classes].map((c) => [c.toLowerCase(), c]));

  const records: PoolRecords = new Map();
  const dirty = new Set<string>(classes);
  const outcomes = new Map<string, CheckOutcome>();
  const temporal = new Map<string, TemporalState>();
  const answers = new Map<string, boolean>(saved.answers);
  const taskState = new Map<string, TaskState>();
  for (const t of tasks) {
    const s = saved.tasks.get(t.id);
    taskState.set(t.id, {
      attempts: s?.attempts ?? 0,
      hints: s?.hints ?? [],
      solutionShown: s?.solutionShown ?? false,
      firstPassedAt: s?.firstPassedAt ?? null,
    });
    for (const c of t.checks) {
      if (c.kind === 'temporal') {
        const st = newTemporalState();
        // A temporal check proven once stays proven: the evidence window is in the past.
        if (saved.checks.get(c.id)?.firstPassedAt != null) st.passed = true;
        temporal.set(c.id, st);
      }
      const prev = saved.checks.get(c.id);
      if (prev) outcomes.set(c.id, { pass: prev.pass });
    }
  }

  const listeners = new Set<ViewListener>();
  const pollMs = options.pollMs ?? 2000;
  const retryCapMs = Math.max(pollMs, options.retryCapMs ?? RETRY_CAP_MS);
  /** Delay before retry number `n` (1 = the next poll), doubling up to the cap. */
  const backoff = (n: number): number => Math.min(pollMs * 2 ** Math.max(0, n - 1), retryCapMs);
  const retries = new Map<string, Retry>();
  const pendingAfterMs = options.pendingAfterMs ?? PENDING_AFTER_MS;
  /** Script checks running now, by id (at most one run each). */
  const inflight = new Map<string, Inflight>();
  const answerLimit = { ...ANSWER_LIMIT, ...options.answerLimit };
  const answerWindows = new Map<string, AnswerWindow>();
  /** Admits an answer to a task now, or says how many ms to wait. */
  const admitAnswer = (task: string, now: number): number => {
    const w = answerWindows.get(task) ?? { times: [], strikes: 0, until: 0 };
    answerWindows.set(task, w);
    if (now < w.until) return w.until - now;
    w.times = w.times.filter((t) => now - t < answerLimit.windowMs);
    if (w.times.length >= answerLimit.attempts) {
      w.strikes++;
      const wait = Math.min(answerLimit.windowMs * 2 ** (w.strikes - 1), answerLimit.maxWaitMs);
      w.until = now + wait;
      w.times = [];
      return wait;
    }
    w.times.push(now);
    return 0;
  };
  let watchers = 0;
  let started = false;
  let evaluations = 0;
  let scriptRuns = 0;
  /** Background evaluations that failed in a row, and when the poll may try again. */
  let errorsInRow = 0;
  let pollNotBefore = 0;
  let lastViewJson = '';
  let closed = false;
  let watcher: ReturnType<XapiClient['watchEvents']> | undefined;
  let poll: NodeJS.Timeout | undefined;
  // Evaluations run one at a time; requests arriving meanwhile coalesce into one more run.
  let running: Promise<void> = Promise.resolve();
  let queued: { trigger: Trigger; scripts: ScriptRuns } | undefined;
  let polls = 0;
  /** The last background evaluation's failure, for diagnostics. */
  let lastError: string | undefined;
  let queuedPromise: Promise<void> | undefined;

  const snapshot = (): PoolSnapshot => records;

  async function refresh(): Promise<void> {
    const todo = [...dirty];
    dirty.clear();
    const fetched = await Promise.all(todo.map(async (cls) => [cls, await fetchClass(xapi, cls)] as const));
    for (const [cls, recs] of fetched) records.set(cls, recs);
  }

  async function runScript(c: Extract<Check, { kind: 'script' }>): Promise<CheckOutcome> {
    scriptRuns++;
    const r = await sandbox.exec(['bash', '-c', c.run], {
      timeoutMs: c.timeoutMs,
      root: c.root,
      ...(c.node === undefined ? {} : { node: c.node }),
    });
    return scriptOutcome(c, r);
  }

  function evaluateCheck(c: Check): CheckOutcome | undefined {
    const snap = snapshot();
    switch (c.kind) {
      case 'xapi':
        return evaluateXapiCheck(snap, c);
      case 'temporal': {
        const st = temporal.get(c.id) ?? newTemporalState();
        temporal.set(c.id, st);
        return stepTemporal(c, st, snap);
      }
      case 'answer': {
        const a = answers.get(c.id);
        if (a === true) return { pass: true };
        return {
          pass: false,
          message: a === false ? (c.fail ?? 'That answer is not right. Try again.') : 'Not answered yet.',
          cause: c.id,
        };
      }
      case 'script':
        return undefined; // run separately (slow)
    }
  }

  /** Whether an evaluation asking for `scripts` runs script check `c` now. */
  function runsScript(c: Check, scripts: ScriptRuns, at: number): boolean {
    if (scripts === ScriptRuns.FORCE) return true;
    if (scripts === ScriptRuns.NONE) return false;
    const prev = outcomes.get(c.id);
    if (prev?.pass === true) return scripts === ScriptRuns.ALL;
    return at >= (retries.get(c.id)?.notBefore ?? 0);
  }

  /** Remembers a script check's result for the backoff: the same failure again waits twice as long. */
  function noteScript(c: Check, o: CheckOutcome, at: number): void {
    if (o.pass) {
      retries.delete(c.id);
      return;
    }
    const r = retries.get(c.id);
    const failures = r !== undefined && r.message === o.message ? r.failures + 1 : 1;
    // Due half a poll early, so a retry falls on the poll it is meant for, not the one after.
    retries.set(c.id, { failures, message: o.message, notBefore: at + backoff(failures) - pollMs / 2 });
  }

  /**
   * One evaluation pass: the pool-only and answer checks now, the script checks it runs started (or joined, when
   * already running) but not awaited; publishes at once. Each script check publishes its own result on arrival.
   */
  async function evaluateOnce(trigger: Trigger, scripts: ScriptRuns): Promise<void> {
    evaluations++;
    await refresh();
    const at = Date.now();
    for (const t of tasks) {
      for (const c of t.checks) {
        if (c.kind === 'script') {
          const running = inflight.get(c.id);
          if (running) {
            // Coalesce: never a second copy of a check still running; a forced pass joins it.
            if (scripts === ScriptRuns.FORCE) running.joined = true;
          } else if (runsScript(c, scripts, at)) startScript(t, c, trigger);
          continue;
        }
        const o = evaluateCheck(c);
        if (o) record(t, c, o, trigger, at);
      }
    }
    settle(trigger, at);
  }

  /** Marks tasks whose checks all pass as passed (first time only), then publishes the view if it changed. */
  function settle(trigger: Trigger, at: number): void {
    for (const t of tasks) {
      const st = taskState.get(t.id);
      if (st?.firstPassedAt === null && t.checks.every((c) => outcomes.get(c.id)?.pass === true)) {
        st.firstPassedAt = at;
        saveTask(t);
      }
    }
    publish(trigger, at);
  }

  /**
   * Starts one run of a script check in the background: its result is recorded and published when it arrives; a
   * run longer than `pendingAfterMs` shows as pending meanwhile. A run that fails to start or errors (the sandbox
   * gone) leaves the last result, counts as a failure for the backoff, and rejects for those who wait on it.
   */
  function startScript(t: Task, c: Extract<Check, { kind: 'script' }>, trigger: Trigger): void {
    const entry: Inflight = {
      promise: undefined,
      since: Date.now(),
      shown: false,
      joined: false,
      timer: undefined,
    };
    const finish = () => {
      clearTimeout(entry.timer);
      inflight.delete(c.id);
    };
    const run = runScript(c).then(
      (o) => {
        finish();
        if (closed) return o;
        // The backoff counts from the result (a slow check is not re-run the moment it ends).
        noteScript(c, o, Date.now());
        // A pass that wanted a fresh run joined this one: its result may predate what the learner changed, so a
        // failure is retried on the next poll rather than backing off.
        if (!o.pass && entry.joined) {
          const r = retries.get(c.id);
          if (r) r.notBefore = 0;
        }
        const now = Date.now();
        record(t, c, o, trigger, now);
        settle(trigger, now);
        return o;
      },
      (e: unknown) => {
        finish();
        if (!closed) {
          lastError = e instanceof Error ? e.message : String(e);
          const r = retries.get(c.id);
          const failures = (r?.failures ?? 0) + 1;
          retries.set(c.id, {
            failures,
            message: r?.message,
            notBefore: Date.now() + backoff(failures) - pollMs / 2,
          });
          if (entry.shown) publish(trigger, Date.now());
        }
        throw e;
      },
    );
    // Nobody need be waiting: a failed run must not become an unhandled rejection.
    run.catch(() => undefined);
    entry.promise = run;
    entry.timer = setTimeout(() => {
      if (closed || inflight.get(c.id) !== entry) return;
      entry.shown = true;
      publish(trigger, Date.now());
    }, pendingAfterMs);
    entry.timer.unref();
    inflight.set(c.id, entry);
  }

  /**
   * Waits for the script checks running now (of `task` only, when given): rejects if one of them errored. Runs
   * started meanwhile (the poll) are not waited for.
   */
  async function runsDone(task?: string): Promise<void> {
    const waits: Promise<CheckOutcome>[] = [];
    for (const [id, r] of inflight)
      if (r.promise && (task === undefined || taskOfCheck.get(id)?.id === task)) waits.push(r.promise);
    await Promise.all(waits);
  }

  function record(t: Task, c: Check, o: CheckOutcome, trigger: Trigger, at: number): void {
    const prev = outcomes.get(c.id);
    outcomes.set(c.id, o);
    if (prev?.pass !== o.pass || prev.message !== o.message)
      store.checkChanged(t.id, c.id, o.pass, o.message, trigger, at);
  }

  function saveTask(t: Task): void {
    const st = taskState.get(t.id);
    if (!st) return;
    store.saveTask(t.id, { ...st, points: st.firstPassedAt === null ? 0 : t.points });
  }

  function schedule(trigger: Trigger, scripts: ScriptRuns): Promise<void> {
    if (queued) {
      queued.scripts = Math.max(queued.scripts, scripts) as ScriptRuns;
      return queuedPromise ?? running;
    }
    queued = { trigger, scripts };
    const next = running.then(async () => {
      const q = queued ?? { trigger, scripts };
      queued = undefined;
      queuedPromise = undefined;
      if (closed) return;
      await evaluateOnce(q.trigger, q.scripts);
    });
    queuedPromise = next;
    running = next.catch(() => undefined);
    return next;
  }

  /**
   * Evaluates in the background (events, polls). A failure (the pool unreachable for a moment) must never become
   * an unhandled rejection in the gateway: the last good view stays, and the next event or poll tries again.
   */
  function kick(trigger: Trigger, scripts: ScriptRuns): void {
    schedule(trigger, scripts).then(
      () => {
        errorsInRow = 0;
        pollNotBefore = 0;
      },
      (e: unknown) => {
        lastError = e instanceof Error ? e.message : String(e);
        // The pool or the sandbox is unreachable: the poll waits longer each time (events still try at once).
        errorsInRow++;
        pollNotBefore = Date.now() + backoff(errorsInRow + 1) - pollMs / 2;
      },
    );
  }

  /** Retries every backing-off check and the poll at once (the learner did something, or a page attached). */
  function retryNow(): void {
    for (const r of retries.values()) r.notBefore = 0;
    pollNotBefore = 0;
  }

  /**
   * The short poll runs the failing script checks (a learner fixing a file sees it turn green within a poll);
   * every FULL_EVERY-th poll re-runs every script and refetches every class, in case an event was missed.
   * Passing scripts are not re-run on every poll: with a room of learners, each run is a process. It runs only
   * while a page watches.
   */
  function startPolling(): void {
    if (poll || closed || !started || watchers === 0) return;
    poll = setInterval(() => {
      if (Date.now() < pollNotBefore) return;
      const full = ++polls % FULL_EVERY === 0;
      if (full) for (const c of classes) dirty.add(c);
      kick('poll', full ? ScriptRuns.ALL : ScriptRuns.FAILING);
    }, pollMs);
    poll.unref();
  }

  function stopPolling(): void {
    if (poll) clearInterval(poll);
    poll = undefined;
  }

  function taskView(t: Task): TaskView {
    const st = taskState.get(t.id) ?? { attempts: 0, hints: [], solutionShown: false, firstPassedAt: null };
    const checks: CheckView[] = t.checks.map((c) => {
      const o = outcomes.get(c.id);
      const run = inflight.get(c.id);
      return {
        id: c.id,
        kind: c.kind,
        pass: o?.pass ?? false,
        ...(run?.shown === true ? { pending: true, pendingSince: run.since } : {}),
        ...(o && !o.pass && o.message !== undefined ? { message: render(o.message, params) } : {}),
        ...(o === undefined ? { message: 'Not checked yet.' } : {}),
        ...(c.kind === 'answer' ? { question: render(c.question, params) } : {}),
      };
    });
    const pass = checks.every((c) => c.pass);
    const cause = pass ? undefined : t.checks.map((c) => outcomes.get(c.id)).find((o) => o && !o.pass)?.cause;
    const hints = st.hints.map((i) => hintText(t, i));
    const solutionAvailable = t.solution !== undefined && (pass || st.attempts >= m.solutionAfter);
    return {
      id: t.id,
      title: render(t.title, params),
      text: render(t.text, params),
      points: t.points,
      pass,
      checks,
      ...(cause === undefined ? {} : { cause }),
      hints,
      moreHints: nextHint(t, cause) !== undefined,
      attempts: st.attempts,
      solutionAvailable,
      attemptsUntilSolution: Math.max(0, m.solutionAfter - st.attempts),
      ...(st.solutionShown && t.solution !== undefined ? { solution: render(t.solution, params) } : {}),
      ...(st.firstPassedAt === null ? {} : { firstPassedAt: new Date(st.firstPassedAt).toISOString() }),
    };
  }

  function hintText(t: Task, i: number): string {
    const h = t.hints[i];
    return render(typeof h === 'string' ? h : (h?.text ?? ''), params);
  }

  /** The next hint: first an unseen one about the current cause, then an unseen general one. */
  function nextHint(t: Task, cause: string | undefined): number | undefined {
    const seen = new Set(taskState.get(t.id)?.hints ?? []);
    const whenOf = (i: number) => {
      const h = t.hints[i];
      return typeof h === 'string' || h === undefined ? [] : h.when;
    };
    const idx = t.hints.map((_, i) => i).filter((i) => !seen.has(i));
    return (
      idx.find((i) => cause !== undefined && whenOf(i).includes(cause)) ??
      idx.find((i) => whenOf(i).length === 0)
    );
  }

  function view(): LabView {
    const ts = tasks.map(taskView);
    return {
      lab: lab.id,
      title: m.title,
      score: tasks.reduce((n, t) => n + (taskState.get(t.id)?.firstPassedAt != null ? t.points : 0), 0),
      maxScore: tasks.reduce((n, t) => n + t.points, 0),
      tasks: ts,
    };
  }

  function publish(trigger: Trigger, at: number, force = false): void {
    const v = view();
    const json = JSON.stringify(v);
    if (!force && json === lastViewJson) return;
    lastViewJson = json;
    for (const l of listeners) l(v, trigger, at);
  }

  const findTask = (id: string): Task => {
    const t = tasks.find((x) => x.id === id);
    if (!t) throw new GradingRequestError(GraderError.UNKNOWN_TASK, `this lab has no task "${id}"`);
    return t;
  };

  const onEvent = (ev: XapiEvent): void => {
    const cls = byLower.get(ev.class.toLowerCase());
    if (cls === undefined) return;
    dirty.add(cls);
    // The learner changed the pool: a script check backing off may pass now.
    retryNow();
    kick('event', ScriptRuns.NONE);
  };

  return {
    async start() {
      // Script checks wait for a page (the first watcher runs them); without one this spawns nothing.
      const watchedAtStart = watchers > 0;
      await schedule('initial', watchedAtStart ? ScriptRuns.FORCE : ScriptRuns.NONE);
      if (closed) return;
      watcher = xapi.watchEvents(['*'], onEvent, { timeoutS: 30, onError: () => undefined });
      await watcher.ready;
      // Anything that changed between the first evaluation and the watch taking hold (and the scripts, when a page
      // began watching meanwhile).
      for (const c of classes) dirty.add(c);
      kick('event', watchers > 0 && !watchedAtStart ? ScriptRuns.FORCE : ScriptRuns.NONE);
      started = true;
      startPolling();
    },
    view,
    async check(task) {
      if (task !== undefined) findTask(task);
      for (const c of classes) dirty.add(c);
      retryNow();
      await schedule('check', ScriptRuns.FORCE);
      // The pass published what it knew at once; attempts count on the results of the checks still running.
      await runsDone(task);
      for (const t of tasks) {
        if (task !== undefined && t.id !== task) continue;
        const st = taskState.get(t.id);
        if (!st || t.checks.every((c) => outcomes.get(c.id)?.pass === true)) continue;
        st.attempts++;
        saveTask(t);
      }
      publish('check', Date.now(), true);
      return view();
    },
    hint(task) {
      const t = findTask(task);
      const cause = taskView(t).cause;
      const i = nextHint(t, cause);
      if (i === undefined)
        throw new GradingRequestError(GraderError.NO_MORE_HINTS, 'no more hints for this task');
      taskState.get(t.id)?.hints.push(i);
      saveTask(t);
      publish('hint', Date.now(), true);
      return view();
    },
    solution(task) {
      const t = findTask(task);
      const tv = taskView(t);
      if (!tv.solutionAvailable)
        throw new GradingRequestError(
          GraderError.SOLUTION_LOCKED,
          t.solution === undefined
            ? 'this task has no written solution'
            : `the solution unlocks after ${String(tv.attemptsUntilSolution)} more Check attempt(s)`,
        );
      const st = taskState.get(t.id);
      if (st) st.solutionShown = true;
      saveTask(t);
      publish('solution', Date.now(), true);
      return view();
    },
    async answer(checkId, text) {
      const t = taskOfCheck.get(checkId);
      const c = t?.checks.find((x) => x.id === checkId);
      if (!t || c?.kind !== 'answer')
        throw new GradingRequestError(GraderError.UNKNOWN_CHECK, `this lab has no question "${checkId}"`);
      const now = Date.now();
      const wait = admitAnswer(t.id, now);
      if (wait > 0) {
        store.answerRefused(checkId, hashAnswer(text), now, t.id);
        const s = Math.ceil(wait / 1000);
        const when = s < 120 ? `${String(s)} s` : `${String(Math.ceil(s / 60))} minutes`;
        const per =
          answerLimit.windowMs === 60_000
            ? 'a minute'
            : `every ${String(Math.round(answerLimit.windowMs / 1000))} s`;
        throw new GradingRequestError(
          GraderError.TOO_MANY_ANSWERS,
          `Too many answers in a short time: try again in ${when}. At most ${String(answerLimit.attempts)} answers per task ${per} — work it out rather than guess.`,
        );
      }
      for (const k of classes) dirty.add(k);
      await schedule('answer', ScriptRuns.NONE);
      const correct = answerIsCorrect(c, text, params, snapshot());
      answers.set(checkId, correct);
      store.saveAnswer(checkId, hashAnswer(text), correct, Date.now(), t.id);
      if (correct) answerWindows.delete(t.id);
      await schedule('answer', ScriptRuns.NONE);
      return {
        correct,
        message: correct ? 'Correct.' : render(c.fail ?? 'That answer is not right. Try again.', params),
      };
    },
    async evaluate(trigger, scripts = true, opts = {}) {
      for (const c of classes) dirty.add(c);
      await schedule(trigger, scripts ? ScriptRuns.FORCE : ScriptRuns.NONE);
      if (opts.wait ?? true) await runsDone();
      return view();
    },
    outcomes: () => outcomes,
    lastError: () => lastError,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    watch() {
      watchers++;
      if (watchers === 1 && started && !closed) {
        // Resume: everything re-evaluated once now (the page gets the result pushed), then the poll.
        retryNow();
        for (const c of classes) dirty.add(c);
        kick('initial', ScriptRuns.FORCE);
        startPolling();
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        watchers--;
        if (watchers === 0) stopPolling();
      };
    },
    stats: () => ({ evaluations, scriptRuns, watchers, pending: inflight.size }),
    async close() {
      closed = true;
      stopPolling();
      // Script checks still running end with the sandbox; their results are dropped.
      for (const r of inflight.values()) clearTimeout(r.timer);
      await watcher?.stop();
      await running;
    },
  };
}
