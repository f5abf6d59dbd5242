/**
 * Grading: check kinds, the engine that runs them continuously, per-learner parameters, durable progress, and the
 * lab channel that speaks to the page.
 * @module
 */
export { createGrader, GraderError, GradingRequestError } from './engine.js';
export type { Grader, GraderOptions, GraderStats, ViewListener } from './engine.js';
export { hashAnswer, normaliseAnswer } from './checks.js';
export type { CheckOutcome } from './checks.js';
export { deriveParams, paramEnv, render } from '../labs/params.js';
export type { Params } from '../labs/params.js';
export { evaluateQuery, selectRefs } from './query.js';
export type { PoolSnapshot } from './query.js';
export { migrateGrading, gradingHistory, checkTimeline, answerAttempts } from './store.js';
export type { InstructorRow, AnswerAttempts } from './store.js';
export { attachLabChannel } from './channel.js';
