/**
 * One evaluation pass: the pool refetched where stale, the in-process checks (XenAPI, temporal over the event
 * stream, answers) evaluated at once, the script checks it runs started (or joined, when already running) but not
 * awaited; then passed tasks marked and the view published. Each script check publishes its own result on arrival.
 * @module
 */
import type { Check } from '../labs/schema.js';
import type { Trigger } from '../protocol/lab.js';
import { evaluateXapiCheck, newTemporalState, stepTemporal, type CheckOutcome } from './checks.js';
import type { GraderCore } from './core.js';
import type { Progress } from './progress.js';
import type { PoolSnapshot } from './query.js';
import { ScriptRuns, runsScript } from './schedule.js';
import type { ViewPublisher } from './view.js';

/**
 * Evaluates a check that runs in-process against the pool as last fetched; a temporal check takes one step over
 * its evidence. Script checks run separately (slow): undefined.
 */
export function evaluateCheck(c: Check, snap: PoolSnapshot, progress: Progress): CheckOutcome | undefined {
  switch (c.kind) {
    case 'xapi':
      return evaluateXapiCheck(snap, c);
    case 'temporal': {
      const st = progress.temporal.get(c.id) ?? newTemporalState();
      progress.temporal.set(c.id, st);
      return stepTemporal(c, st, snap);
    }
    case 'answer': {
      const a = progress.answers.get(c.id);
      if (a === true) return { pass: true };
      // Skipped: the question counts as done, never answered (the view says "skipped").
      if (progress.answerSkipped(c)) return { pass: true, message: 'Skipped (not answered).' };
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

/** Marks tasks whose checks all pass as passed (first time only), then publishes the view if it changed. */
export function settle(progress: Progress, views: ViewPublisher, trigger: Trigger, at: number): void {
  progress.markPassed(at);
  views.publish(trigger, at);
}

/**
 * One evaluation pass: the pool-only and answer checks now, the script checks it runs started (or joined, when
 * already running) but not awaited; publishes at once.
 */
export async function evaluatePass(core: GraderCore, trigger: Trigger, scripts: ScriptRuns): Promise<void> {
  const { progress, pool } = core;
  core.status.evaluations++;
  await pool.refresh();
  const at = Date.now();
  for (const t of progress.tasks) {
    for (const c of t.checks) {
      if (c.kind === 'script') {
        if (core.scripts.running(c.id)) {
          // Coalesce: never a second copy of a check still running; a forced pass joins it.
          if (scripts === ScriptRuns.FORCE) core.scripts.join(c.id);
        } else if (runsScript(c, progress.outcomes.get(c.id), scripts, core.backoff, at))
          core.scripts.start(t, c, trigger);
        continue;
      }
      const o = evaluateCheck(c, pool.snapshot('pool' in c ? c.pool : undefined), progress);
      if (o) progress.record(t, c, o, trigger, at);
    }
  }
  settle(progress, core.views, trigger, at);
}
