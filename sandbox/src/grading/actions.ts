/**
 * What a learner (or `lab test`) asks of the grader: Check, a hint, the solution, an answer, an evaluation. Each
 * acts on the progress and publishes the new view; requests the lab cannot answer throw
 * {@link GradingRequestError} with a stable code.
 * @module
 */
import type { LabMode, Trigger, LabView } from '../protocol/lab.js';
import { render } from '../labs/params.js';
import { GraderError, GradingRequestError } from './api.js';
import { answerIsCorrect } from './checks.js';
import type { GraderCore } from './core.js';
import { ScriptRuns } from './schedule.js';
import { nextHint, taskView } from './view.js';

/** Check pressed: re-evaluates everything, then counts an attempt on each failing task (or `task` only). */
export async function check(core: GraderCore, task: string | undefined): Promise<LabView> {
  const { progress } = core;
  if (task !== undefined) progress.findTask(task);
  core.pool.markAllDirty();
  core.backoff.retryNow();
  await core.scheduler.schedule('check', ScriptRuns.FORCE);
  // The pass published what it knew at once; attempts count on the results of the checks still running.
  await core.scripts.done(task);
  progress.countAttempts(task);
  core.views.publish('check', Date.now(), true);
  return core.view();
}

/** Reveals the next hint of a task, chosen by the cause of its failure. */
export function hint(core: GraderCore, task: string): LabView {
  const { progress } = core;
  const t = progress.findTask(task);
  const cause = taskView(core.source, t).cause;
  const i = nextHint(progress, t, cause);
  if (i === undefined)
    throw new GradingRequestError(GraderError.NO_MORE_HINTS, 'no more hints for this task');
  progress.state(t)?.hints.push(i);
  progress.saveTask(t);
  core.views.publish('hint', Date.now(), true);
  return core.view();
}

/** Reveals a task's solution once unlocked. */
export function solution(core: GraderCore, task: string): LabView {
  const { progress } = core;
  const t = progress.findTask(task);
  const tv = taskView(core.source, t);
  if (progress.mode === 'challenge')
    throw new GradingRequestError(
      GraderError.CHALLENGE_MODE,
      'challenge mode hides solutions: switch to guided mode to see it (a solution seen earns the task no points)',
    );
  if (!tv.solutionAvailable)
    throw new GradingRequestError(
      GraderError.SOLUTION_LOCKED,
      t.solution === undefined
        ? 'this task has no written solution'
        : `the solution unlocks after ${String(tv.attemptsUntilSolution)} more Check attempt(s)`,
    );
  const st = progress.state(t);
  if (st) st.solutionShown = true;
  progress.saveTask(t);
  core.views.publish('solution', Date.now(), true);
  return core.view();
}

/** Guided or challenge (kept per learner × lab); the view carries it to every page of the lab. */
export function setMode(core: GraderCore, mode: LabMode): LabView {
  core.progress.setMode(mode);
  core.views.publish('mode', Date.now(), true);
  return core.view();
}

/** A Run press on a code block of a task's revealed solution: recorded with the task (it earns no points). */
export function ran(core: GraderCore, task: string): LabView {
  const { progress } = core;
  const t = progress.findTask(task);
  if (progress.state(t)?.solutionShown !== true)
    throw new GradingRequestError(GraderError.SOLUTION_LOCKED, 'that solution has not been revealed');
  progress.ran(t);
  core.views.publish('ran', Date.now(), true);
  return core.view();
}

/**
 * Opens the tasks from `task` on again (a reset restored the pool and the files to its start): waits for the
 * script checks still running (their results are of the pool before), forgets those tasks' results, then
 * re-evaluates everything, scripts too, and waits for every result.
 */
export async function reopen(core: GraderCore, task: string): Promise<LabView> {
  const { progress } = core;
  const t = progress.findTask(task);
  await core.scripts.done();
  await core.scheduler.idle;
  progress.reopen(progress.tasks.indexOf(t));
  return evaluate(core, 'reset', true, true);
}

/** Marks a task skipped before its solution is applied (or not, when it could not be); no points when it passes. */
export function skip(core: GraderCore, task: string, skipped: boolean): void {
  const { progress } = core;
  progress.setSkipped(progress.findTask(task), skipped);
  core.views.publish('skip', Date.now());
}

/** Submits an answer to an answer check, within the rate limit; the pool is re-read first (counted answers). */
export async function answer(
  core: GraderCore,
  checkId: string,
  text: string,
): Promise<{ correct: boolean; message: string }> {
  const { progress, params } = core;
  const t = progress.taskOfCheck.get(checkId);
  const c = t?.checks.find((x) => x.id === checkId);
  if (!t || c?.kind !== 'answer')
    throw new GradingRequestError(GraderError.UNKNOWN_CHECK, `this lab has no question "${checkId}"`);
  const now = Date.now();
  const wait = core.answerLimit.admit(t.id, now);
  if (wait > 0) {
    progress.answerRefused(t, checkId, text, now);
    throw new GradingRequestError(GraderError.TOO_MANY_ANSWERS, core.answerLimit.refusal(wait));
  }
  core.pool.markAllDirty();
  await core.scheduler.schedule('answer', ScriptRuns.NONE);
  const correct = answerIsCorrect(c, text, params, core.pool.snapshot(c.pool));
  progress.saveAnswer(t, checkId, text, correct, Date.now());
  if (correct) core.answerLimit.forget(t.id);
  await core.scheduler.schedule('answer', ScriptRuns.NONE);
  return {
    correct,
    message: correct ? 'Correct.' : render(c.fail ?? 'That answer is not right. Try again.', params),
  };
}

/** Re-evaluates once (`lab test`); with `wait`, until every script check it started or joined has its result. */
export async function evaluate(
  core: GraderCore,
  trigger: Trigger,
  scripts: boolean,
  wait: boolean,
): Promise<LabView> {
  core.pool.markAllDirty();
  await core.scheduler.schedule(trigger, scripts ? ScriptRuns.FORCE : ScriptRuns.NONE);
  if (wait) await core.scripts.done();
  return core.view();
}
