/**
 * One learner's progress in one lab, in memory and in the grading store: the lab's tasks rendered with the learner's
 * parameters, each check's outcome, temporal checks' evidence, answers, and per task the attempts, hints seen,
 * solution shown, Run presses on it, skipped, resets, when it first passed (history) and its current pass with the
 * points it earned (scoring.ts). Restored from the store on creation; every change is written back (the history
 * the instructor sees). A reset reopens the tasks from one on ({@link Progress.reopen}); a skip marks tasks
 * skipped before their solutions are applied ({@link Progress.setSkipped}).
 * @module
 */
import type Database from 'better-sqlite3';
import type { Lab } from '../labs/loader.js';
import { renderDeep, type Params } from '../labs/params.js';
import type { Check, Task } from '../labs/schema.js';
import type { LabMode, Trigger } from '../protocol/lab.js';
import { GraderError, GradingRequestError } from './api.js';
import { hashAnswer, newTemporalState, type CheckOutcome, type TemporalState } from './checks.js';
import { DEFAULT_MODE, earnedPoints, type Assistance } from './scoring.js';
import { GradingStore, type SavedProgress, type SavedTask } from './store.js';

/** A task's progress (as the store keeps it). */
export type TaskState = SavedTask;

/** A task no one has touched. */
export const newTaskState = (): TaskState => ({
  attempts: 0,
  hints: [],
  solutionShown: false,
  firstPassedAt: null,
  passedAt: null,
  earned: 0,
  ran: 0,
  skipped: false,
  resets: 0,
  mode: null,
});

/** What helped with a task so far. */
export const assistanceOf = (st: TaskState): Assistance => ({
  hints: st.hints.length,
  solutionShown: st.solutionShown,
  ran: st.ran,
  skipped: st.skipped,
  resets: st.resets,
});

/** The lab's tasks with every check rendered with the learner's parameters. */
function renderTasks(lab: Lab, params: Params): Task[] {
  return lab.manifest.tasks.map((t) => ({
    ...t,
    checks: t.checks.map((c) => renderDeep<Check>(c, params)),
  }));
}

/** The progress of a learner in a lab, and its history. */
export class Progress {
  readonly tasks: readonly Task[];
  /** The task of each check, by check id. */
  readonly taskOfCheck = new Map<string, Task>();
  /** The outcome of each check, by id (a restored one until it is evaluated again). */
  readonly outcomes = new Map<string, CheckOutcome>();
  /** The evidence of each temporal check, by id. */
  readonly temporal = new Map<string, TemporalState>();
  /** Whether the last answer to each answer check was right, by id. */
  readonly answers: Map<string, boolean>;
  readonly #tasks = new Map<string, TaskState>();
  readonly #store: GradingStore;
  /** How the helpers show (the learner's choice). */
  mode: LabMode;

  constructor(lab: Lab, params: Params, db: Database.Database | undefined, learnerId: string) {
    this.#store = new GradingStore(db, learnerId, lab.id);
    const saved = this.#store.load();
    this.tasks = renderTasks(lab, params);
    for (const t of this.tasks) for (const c of t.checks) this.taskOfCheck.set(c.id, t);
    this.answers = new Map(saved.answers);
    this.mode = saved.mode ?? DEFAULT_MODE;
    this.#restore(saved);
  }

  #restore(saved: SavedProgress): void {
    for (const t of this.tasks) {
      const s = saved.tasks.get(t.id);
      this.#tasks.set(t.id, { ...newTaskState(), ...s });
      for (const c of t.checks) {
        if (c.kind === 'temporal') {
          const st = newTemporalState();
          // A temporal check proven once stays proven: the evidence window is in the past.
          if (saved.checks.get(c.id)?.firstPassedAt != null) st.passed = true;
          this.temporal.set(c.id, st);
        }
        const prev = saved.checks.get(c.id);
        if (prev) this.outcomes.set(c.id, { pass: prev.pass });
      }
    }
  }

  /** A task's progress. */
  state(t: Task): TaskState | undefined {
    return this.#tasks.get(t.id);
  }

  /** The task with id `id`; throws {@link GradingRequestError} UNKNOWN_TASK when the lab has none. */
  findTask(id: string): Task {
    const t = this.tasks.find((x) => x.id === id);
    if (!t) throw new GradingRequestError(GraderError.UNKNOWN_TASK, `this lab has no task "${id}"`);
    return t;
  }

  /** Whether every check of `t` passes now. */
  passes(t: Task): boolean {
    return t.checks.every((c) => this.outcomes.get(c.id)?.pass === true);
  }

  /** Points scored: what the current pass of every task earned (a reset task earns again when it passes again). */
  score(): number {
    return this.tasks.reduce((n, t) => {
      const st = this.#tasks.get(t.id);
      return n + (st?.passedAt != null ? st.earned : 0);
    }, 0);
  }

  /** Whether `c` is an answer check of a skipped task that was never answered right (it counts as done). */
  answerSkipped(c: Check): boolean {
    if (c.kind !== 'answer' || this.answers.get(c.id) === true) return false;
    const t = this.taskOfCheck.get(c.id);
    return t !== undefined && this.#tasks.get(t.id)?.skipped === true;
  }

  /** Sets a check's outcome; a change (of pass or message) goes into the history. */
  record(t: Task, c: Check, o: CheckOutcome, trigger: Trigger, at: number): void {
    const prev = this.outcomes.get(c.id);
    this.outcomes.set(c.id, o);
    if (prev?.pass !== o.pass || prev.message !== o.message)
      this.#store.checkChanged(t.id, c.id, o.pass, o.message, trigger, at);
  }

  /** Writes a task's progress (and the points it earned) to the store. */
  saveTask(t: Task): void {
    const st = this.#tasks.get(t.id);
    if (!st) return;
    this.#store.saveTask(t.id, st);
  }

  /**
   * Marks tasks whose checks all pass now as passed at `at` (once per pass: again only after a reset reopened it),
   * with the points the pass earns given what helped; a skipped task's pass earns none and is no achievement.
   */
  markPassed(at: number): void {
    for (const t of this.tasks) {
      const st = this.#tasks.get(t.id);
      if (st?.passedAt === null && this.passes(t)) {
        st.passedAt = at;
        if (!st.skipped) st.firstPassedAt ??= at;
        st.earned = earnedPoints(t.points, assistanceOf(st));
        st.mode = this.mode;
        this.saveTask(t);
      }
    }
  }

  /**
   * Opens the tasks from `from` (an index) on again, as a reset to that task's start does: their current pass,
   * points and skip are cleared, their checks' outcomes, answers and temporal evidence forgotten (they are
   * evaluated again against the pool as restored). Attempts and what helped stay; `from` counts one reset more.
   * The instructor's history keeps the first pass and the best points.
   */
  reopen(from: number): void {
    const reopened: string[] = [];
    this.tasks.forEach((t, i) => {
      if (i < from) return;
      const st = this.#tasks.get(t.id);
      if (!st) return;
      st.passedAt = null;
      st.earned = 0;
      st.skipped = false;
      if (i === from) st.resets++;
      for (const c of t.checks) {
        this.outcomes.delete(c.id);
        this.answers.delete(c.id);
        if (c.kind === 'temporal') this.temporal.set(c.id, newTemporalState());
        reopened.push(c.id);
      }
      this.saveTask(t);
    });
    this.#store.reopenChecks(reopened);
  }

  /** Marks a task skipped (before its solution is applied), or not (the solution could not be applied). */
  setSkipped(t: Task, skipped: boolean): void {
    const st = this.#tasks.get(t.id);
    if (st?.passedAt !== null) return;
    st.skipped = skipped;
    this.saveTask(t);
  }

  /** Counts a Run press on a code block of the task's solution. */
  ran(t: Task): void {
    const st = this.#tasks.get(t.id);
    if (!st) return;
    st.ran++;
    this.saveTask(t);
  }

  /** Keeps the lab's mode. */
  setMode(mode: LabMode): void {
    this.mode = mode;
    this.#store.saveMode(mode);
  }

  /** Counts a Check attempt on each failing task (of `task` only, when given). */
  countAttempts(task: string | undefined): void {
    for (const t of this.tasks) {
      if (task !== undefined && t.id !== task) continue;
      const st = this.#tasks.get(t.id);
      if (!st || this.passes(t)) continue;
      st.attempts++;
      this.saveTask(t);
    }
  }

  /** Records an answer the rate limit refused (hashed; counted for the instructor). */
  answerRefused(t: Task, checkId: string, text: string, at: number): void {
    this.#store.answerRefused(checkId, hashAnswer(text), at, t.id);
  }

  /** Records an answer and whether it was right (hashed). */
  saveAnswer(t: Task, checkId: string, text: string, correct: boolean, at: number): void {
    this.answers.set(checkId, correct);
    this.#store.saveAnswer(checkId, hashAnswer(text), correct, at, t.id);
  }
}
