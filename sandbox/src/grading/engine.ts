/**
 * The grading engine: evaluates a lab's checks for one learner, continuously and on demand. XenAPI and temporal
 * checks re-run on every XenAPI event (the pool's records refetched for the classes that changed); script checks
 * run on a short poll and when the learner presses Check. Every change is pushed to listeners (the lab channel)
 * and recorded in the grading store.
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
import { render, renderDeep } from './params.js';
import type { Params } from './params.js';
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
  /** Re-evaluates once (used by `lab test`); `scripts` runs the script checks too. */
  evaluate(trigger: Trigger, scripts?: boolean): Promise<LabView>;
  /** Outcome of every check now, by id. */
  outcomes(): ReadonlyMap<string, CheckOutcome>;
  /** Why the last background evaluation failed, if it did (the view then shows the last good state). */
  lastError(): string | undefined;
  onChange(listener: ViewListener): () => void;
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

/** Which script checks an evaluation runs (ordered: a queued evaluation keeps the most asked for). */
const ScriptRuns = { NONE: 0, FAILING: 1, ALL: 2 } as const;
type ScriptRuns = (typeof ScriptRuns)[keyof typeof ScriptRuns];

/** Every how many polls everything is re-run and refetched. */
const FULL_EVERY = 5;

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

  async function evaluateOnce(trigger: Trigger, scripts: ScriptRuns): Promise<void> {
    await refresh();
    const at = Date.now();
    const scriptRuns: Promise<void>[] = [];
    for (const t of tasks) {
      for (const c of t.checks) {
        if (c.kind === 'script') {
          const prev = outcomes.get(c.id);
          if (scripts === ScriptRuns.ALL || !prev || (scripts === ScriptRuns.FAILING && !prev.pass))
            scriptRuns.push(
              runScript(c).then((o) => {
                record(t, c, o, trigger, at);
              }),
            );
          continue;
        }
        const o = evaluateCheck(c);
        if (o) record(t, c, o, trigger, at);
      }
    }
    await Promise.all(scriptRuns);
    for (const t of tasks) {
      const st = taskState.get(t.id);
      if (st?.firstPassedAt === null && t.checks.every((c) => outcomes.get(c.id)?.pass === true)) {
        st.firstPassedAt = at;
        saveTask(t);
      }
    }
    publish(trigger, at);
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
    schedule(trigger, scripts).catch((e: unknown) => {
      lastError = e instanceof Error ? e.message : String(e);
    });
  }

  function taskView(t: Task): TaskView {
    const st = taskState.get(t.id) ?? { attempts: 0, hints: [], solutionShown: false, firstPassedAt: null };
    const checks: CheckView[] = t.checks.map((c) => {
      const o = outcomes.get(c.id);
      return {
        id: c.id,
        kind: c.kind,
        pass: o?.pass ?? false,
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
    kick('event', ScriptRuns.NONE);
  };

  return {
    async start() {
      await schedule('initial', ScriptRuns.ALL);
      if (closed) return;
      watcher = xapi.watchEvents(['*'], onEvent, { timeoutS: 30, onError: () => undefined });
      await watcher.ready;
      // Anything that changed between the first evaluation and the watch taking hold.
      for (const c of classes) dirty.add(c);
      kick('event', ScriptRuns.NONE);
      // The short poll runs the failing script checks (a learner fixing a file sees it turn green within a poll);
      // every FULL_EVERY-th poll re-runs every script and refetches every class, in case an event was missed.
      // Passing scripts are not re-run on every poll: with a room of learners, each run is a process.
      poll = setInterval(() => {
        const full = ++polls % FULL_EVERY === 0;
        if (full) for (const c of classes) dirty.add(c);
        kick('poll', full ? ScriptRuns.ALL : ScriptRuns.FAILING);
      }, options.pollMs ?? 2000);
      poll.unref();
    },
    view,
    async check(task) {
      if (task !== undefined) findTask(task);
      for (const c of classes) dirty.add(c);
      await schedule('check', ScriptRuns.ALL);
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
      for (const k of classes) dirty.add(k);
      await schedule('answer', ScriptRuns.NONE);
      const correct = answerIsCorrect(c, text, params, snapshot());
      answers.set(checkId, correct);
      store.saveAnswer(checkId, hashAnswer(text), correct, Date.now());
      await schedule('answer', ScriptRuns.NONE);
      return {
        correct,
        message: correct ? 'Correct.' : render(c.fail ?? 'That answer is not right. Try again.', params),
      };
    },
    async evaluate(trigger, scripts = true) {
      for (const c of classes) dirty.add(c);
      await schedule(trigger, scripts ? ScriptRuns.ALL : ScriptRuns.NONE);
      return view();
    },
    outcomes: () => outcomes,
    lastError: () => lastError,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      if (poll) clearInterval(poll);
      await watcher?.stop();
      await running;
    },
  };
}
