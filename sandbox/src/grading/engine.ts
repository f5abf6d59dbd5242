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
 *
 * The parts, by concern:
 * - `api.ts` — options, the {@link Grader} interface, statistics, errors (re-exported here)
 * - `core.ts` — the parts of one grader wired together, and the flags they share
 * - `progress.ts` — tasks, outcomes, temporal evidence, answers, attempts, what helped, reopening (reset) and
 *   skipping; restored from and saved to the store
 * - `scoring.ts` — what a pass earns given what helped (hints, solution, Run, skipped)
 * - `pool.ts` — the records the checks read, refetched per class when stale
 * - `evaluate.ts` — one evaluation pass over every check
 * - `scripts.ts` — script checks in flight: pending, joining, results on arrival
 * - `schedule.ts` — one evaluation at a time, the poll, watchers (pausing when unwatched)
 * - `backoff.ts` — retries of failing script checks and of erroring evaluations
 * - `view.ts` — the learner's view, and publishing it when it changed
 * - `actions.ts` — Check, hints, solutions, answers, mode, Run presses, reopen and skip, `lab test`'s evaluations
 * - `answer-limit.ts` — the rate limit of answers
 * - `lifecycle.ts` — start (first evaluation, event subscription, poll) and close
 * @module
 */
import * as actions from './actions.js';
import type { Grader, GraderOptions } from './api.js';
import { createCore } from './core.js';
import { close, start } from './lifecycle.js';

export { GraderError, GradingRequestError } from './api.js';
export type { Grader, GraderOptions, GraderStats, ViewListener } from './api.js';

/**
 * Creates the grader of one learner's lab.
 * @example
 * const grader = createGrader({ lab, params, xapi, sandbox, learnerId: 'l-1', db });
 * grader.onChange((view) => ws.send(JSON.stringify(view)));
 * await grader.start();
 */
export function createGrader(options: GraderOptions): Grader {
  const core = createCore(options);
  const { status, progress, scripts, scheduler, views } = core;
  return {
    start: () => start(core),
    view: core.view,
    check: (task) => actions.check(core, task),
    hint: (task) => actions.hint(core, task),
    solution: (task) => actions.solution(core, task),
    answer: (checkId, text) => actions.answer(core, checkId, text),
    setMode: (mode) => actions.setMode(core, mode),
    ran: (task) => actions.ran(core, task),
    reopen: (task) => actions.reopen(core, task),
    skip: (task, skipped) => {
      actions.skip(core, task, skipped);
    },
    evaluate: (trigger, runScripts = true, opts = {}) =>
      actions.evaluate(core, trigger, runScripts, opts.wait ?? true),
    outcomes: () => progress.outcomes,
    lastError: () => status.lastError,
    onChange: (listener) => views.onChange(listener),
    watch: () => scheduler.watch(),
    stats: () => ({
      evaluations: status.evaluations,
      scriptRuns: scripts.runs,
      watchers: status.watchers,
      pending: scripts.size,
    }),
    close: () => close(core),
  };
}
