/**
 * What a task's pass earns, given what helped (issue #16): full points unassisted; each hint revealed costs a
 * quarter of the task's points (rounded to whole points, never below 0); a solution revealed, or a Run press on one
 * of its code blocks, earns nothing; a skipped task (its solution applied for the learner) earns nothing. The same
 * in both modes: guided shows every helper, challenge hides the guide's Run buttons and the solutions — what a
 * learner used costs the same whichever mode they were in. Help is kept with the task and never forgotten (a reset
 * does not refund hints), so a task passed again after a reset earns by everything that helped it so far.
 * @module
 */
import type { AssistView, LabMode } from '../protocol/lab.js';

export { assistText } from '../protocol/lab.js';

/** Share of a task's points each hint costs. */
export const HINT_COST = 0.25;

/** What helped with one task. */
export interface Assistance {
  readonly hints: number;
  readonly solutionShown: boolean;
  /** Run presses on code blocks of its solution. */
  readonly ran: number;
  readonly skipped: boolean;
  readonly resets: number;
}

/**
 * Points a task's pass earns.
 * @example
 * earnedPoints(20, { hints: 1, solutionShown: false, ran: 0, skipped: false, resets: 0 }) // 15
 */
export function earnedPoints(points: number, a: Assistance): number {
  if (a.skipped || a.solutionShown || a.ran > 0) return 0;
  return Math.max(0, Math.round(points * (1 - HINT_COST * a.hints)));
}

/** Points the next hint of a task costs (what the Hint button says); 0 once nothing is left to lose. */
export function nextHintCost(points: number, a: Assistance): number {
  return earnedPoints(points, a) - earnedPoints(points, { ...a, hints: a.hints + 1 });
}

/** The assistance as the page and the instructor see it; undefined when nothing helped. */
export function assistView(a: Assistance): AssistView | undefined {
  if (a.hints === 0 && !a.solutionShown && a.ran === 0 && !a.skipped && a.resets === 0) return undefined;
  return { hints: a.hints, solution: a.solutionShown, ran: a.ran, skipped: a.skipped, resets: a.resets };
}

/** The mode a lab starts in. */
export const DEFAULT_MODE: LabMode = 'guided';
