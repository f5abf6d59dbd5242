/**
 * One learner's progress in one lab, in memory and in the grading store: the lab's tasks rendered with the learner's
 * parameters, each check's outcome, temporal checks' evidence, answers, and per task the attempts, hints seen,
 * solution shown and when it first passed. Restored from the store on creation; every change is written back
 * (the history the instructor sees).
 * @module
 */
import type Database from 'better-sqlite3';
import type { Lab } from '../labs/loader.js';
import { renderDeep, type Params } from '../labs/params.js';
import type { Check, Task } from '../labs/schema.js';
import type { Trigger } from '../protocol/lab.js';
import { GraderError, GradingRequestError } from './api.js';
import { hashAnswer, newTemporalState, type CheckOutcome, type TemporalState } from './checks.js';
import { GradingStore, type SavedProgress } from './store.js';

/** A task's progress. */
export interface TaskState {
  attempts: number;
  hints: number[];
  solutionShown: boolean;
  firstPassedAt: number | null;
}

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

  constructor(lab: Lab, params: Params, db: Database.Database | undefined, learnerId: string) {
    this.#store = new GradingStore(db, learnerId, lab.id);
    const saved = this.#store.load();
    this.tasks = renderTasks(lab, params);
    for (const t of this.tasks) for (const c of t.checks) this.taskOfCheck.set(c.id, t);
    this.answers = new Map(saved.answers);
    this.#restore(saved);
  }

  #restore(saved: SavedProgress): void {
    for (const t of this.tasks) {
      const s = saved.tasks.get(t.id);
      this.#tasks.set(t.id, {
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

  /** Points scored: those of every task that passed once. */
  score(): number {
    return this.tasks.reduce((n, t) => n + (this.#tasks.get(t.id)?.firstPassedAt != null ? t.points : 0), 0);
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
    this.#store.saveTask(t.id, { ...st, points: st.firstPassedAt === null ? 0 : t.points });
  }

  /** Marks tasks whose checks all pass now as passed at `at` (the first time only). */
  markPassed(at: number): void {
    for (const t of this.tasks) {
      const st = this.#tasks.get(t.id);
      if (st?.firstPassedAt === null && this.passes(t)) {
        st.firstPassedAt = at;
        this.saveTask(t);
      }
    }
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
