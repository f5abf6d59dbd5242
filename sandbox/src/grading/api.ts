/**
 * The grader's public face: its options, the {@link Grader} interface, its statistics and its errors. `engine.ts`
 * re-exports all of it; the other parts of the engine import it from here.
 * @module
 */
import type { XapiClient } from '@xenlab/toolkit/xenapi';
import type Database from 'better-sqlite3';
import type { Sandbox } from '../drivers/types.js';
import type { Lab } from '../labs/loader.js';
import type { Params } from '../labs/params.js';
import type { LabMode, LabView, Trigger } from '../protocol/lab.js';
import type { CheckOutcome } from './checks.js';

/** Stable error codes of the grader. */
export const GraderError = {
  UNKNOWN_TASK: 'LAB_ERR_UNKNOWN_TASK',
  UNKNOWN_CHECK: 'LAB_ERR_UNKNOWN_CHECK',
  SOLUTION_LOCKED: 'LAB_ERR_SOLUTION_LOCKED',
  NO_MORE_HINTS: 'LAB_ERR_NO_MORE_HINTS',
  /** Too many answers to a task's questions in a short time (guessing): the message says when to retry. */
  TOO_MANY_ANSWERS: 'LAB_ERR_TOO_MANY_ANSWERS',
  /** The solution asked for in challenge mode. */
  CHALLENGE_MODE: 'LAB_ERR_CHALLENGE_MODE',
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
  /**
   * A multi-pool lab's other pools by name (`environment.pools[].name`), for checks with `pool:`; `firstPool` names
   * the pool `xapi` reaches.
   */
  readonly pools?: ReadonlyMap<string, XapiClient>;
  readonly firstPool?: string;
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
  /** Guided or challenge (challenge refuses solutions); kept per learner × lab. */
  setMode(mode: LabMode): LabView;
  /** Records a Run press on a code block of a task's revealed solution. */
  ran(task: string): LabView;
  /**
   * Opens the tasks from `task` on again, after the pool and files were restored to its start (lab-runtime's
   * steps): their passes and points, answers and evidence are cleared (the history keeps them); re-evaluates.
   */
  reopen(task: string): Promise<LabView>;
  /** Marks a task skipped (its solution about to be applied for the learner) or, when that failed, not. */
  skip(task: string, skipped: boolean): void;
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
