/**
 * The lab channel's wire protocol (`/ws/lab?lab=<id>&token=…`): grading results pushed to the page, and the
 * learner's Check presses, hint and solution requests and answers going up. JSON text frames, zod-validated on
 * both sides; no Node imports (the site bundles this file).
 * @module
 */
import { z } from 'zod';
import { parseWith, type Parsed } from './parse.js';

/** Bumped on any incompatible change of the lab channel; sent in `lab.hello`. */
export const LAB_PROTOCOL_VERSION = 1;

/** Path of the lab channel WebSocket. */
export const LAB_PATH = '/ws/lab';

const id = z.string().min(1).max(100);

/** One check as the learner sees it. */
export const CheckView = z
  .object({
    id,
    kind: z.enum(['xapi', 'script', 'answer', 'temporal']),
    pass: z.boolean(),
    /** Feedback when failing (the `fail` text, a script's `FAIL:` lines, what a query found). */
    message: z.string().optional(),
    /** Answer checks: the question to answer in the panel. */
    question: z.string().optional(),
    /**
     * The check is running now and has been for a while (a script check booting a host): its result is published
     * when it arrives. `pass` and `message` are still the last result's. Absent when not running.
     */
    pending: z.boolean().optional(),
    /** When the pending run began (server time, ms since epoch; compare with `lab.state`'s `at`). */
    pendingSince: z.number().optional(),
  })
  .strict();
export type CheckView = z.infer<typeof CheckView>;

/** One task as the learner sees it (parameters already filled in). */
export const TaskView = z
  .object({
    id,
    title: z.string(),
    /** Markdown. */
    text: z.string(),
    points: z.number().int(),
    pass: z.boolean(),
    checks: z.array(CheckView),
    /** Id of the first failing check (or its script's CAUSE code): what the next hint is about. */
    cause: z.string().optional(),
    /** Hints revealed so far, in order. */
    hints: z.array(z.string()),
    /** More hints exist. */
    moreHints: z.boolean(),
    /** Check presses while the task was failing. */
    attempts: z.number().int(),
    /** The solution may be requested now. */
    solutionAvailable: z.boolean(),
    /** Failed Check presses still needed before the solution unlocks. */
    attemptsUntilSolution: z.number().int(),
    /** The solution (markdown), once revealed. */
    solution: z.string().optional(),
    /** When the task first passed (ISO time), for the learner's record. */
    firstPassedAt: z.string().optional(),
  })
  .strict();
export type TaskView = z.infer<typeof TaskView>;

/** The learner's view of the whole lab now. */
export const LabView = z
  .object({
    lab: id,
    title: z.string(),
    score: z.number().int(),
    maxScore: z.number().int(),
    tasks: z.array(TaskView),
  })
  .strict();
export type LabView = z.infer<typeof LabView>;

/** What made the grader re-evaluate. */
export const Trigger = z.enum(['initial', 'event', 'poll', 'check', 'answer', 'hint', 'solution']);
export type Trigger = z.infer<typeof Trigger>;

/** Messages the browser sends on the lab channel. */
export const LabClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('lab.hello'), v: z.number().int() }).strict(),
  /** The learner pressed Check (on one task, or on all when `task` is absent). */
  z.object({ type: z.literal('lab.check'), task: id.optional() }).strict(),
  z.object({ type: z.literal('lab.hint'), task: id }).strict(),
  z.object({ type: z.literal('lab.solution'), task: id }).strict(),
  z.object({ type: z.literal('lab.answer'), check: id, answer: z.string().max(1000) }).strict(),
  z.object({ type: z.literal('ping'), t: z.number() }).strict(),
]);
export type LabClientMessage = z.infer<typeof LabClientMessage>;

/** Messages the gateway sends on the lab channel. */
export const LabServerMessage = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('lab.state'),
      v: z.number().int(),
      view: LabView,
      trigger: Trigger,
      /** Increases with every state sent on this channel. */
      seq: z.number().int(),
      /** Server time of the evaluation (ms since epoch), for latency measurements. */
      at: z.number(),
    })
    .strict(),
  z
    .object({
      type: z.literal('lab.answer.result'),
      check: id,
      correct: z.boolean(),
      message: z.string(),
    })
    .strict(),
  z.object({ type: z.literal('pong'), t: z.number() }).strict(),
  /**
   * The lab's environment is still coming up (a nested Xen host boots for a minute or two): what starts and when
   * it should be up, sent at each new phase until the first `lab.state`. The boot console itself shows in the
   * lab's terminals.
   */
  z
    .object({
      type: z.literal('lab.starting'),
      /** The driver the lab runs on (`qemu-xen`, `docker`). */
      driver: z.string(),
      /** What is starting: "booting a Xen host (software emulation)". */
      what: z.string(),
      /** When this phase began (ms since epoch). */
      startedAt: z.number(),
      /** Expected duration (ms), from the driver's measured boots; absent when unknown. */
      etaMs: z.number().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('error'),
      /** Stable code, e.g. `LAB_ERR_UNKNOWN_TASK`. */
      code: z.string(),
      message: z.string(),
    })
    .strict(),
]);
export type LabServerMessage = z.infer<typeof LabServerMessage>;

/** Stable error codes of the lab channel. */
export const LabChannelError = {
  BAD_MESSAGE: 'LAB_ERR_BAD_MESSAGE',
  BAD_VERSION: 'LAB_ERR_BAD_VERSION',
  UNKNOWN_TASK: 'LAB_ERR_UNKNOWN_TASK',
  UNKNOWN_CHECK: 'LAB_ERR_UNKNOWN_CHECK',
  SOLUTION_LOCKED: 'LAB_ERR_SOLUTION_LOCKED',
  GRADER_FAILED: 'LAB_ERR_GRADER_FAILED',
  /**
   * Permanent: the lab's driver cannot run on this machine; the message says which, why and what to do. The
   * channel closes with `CLOSE.UNAVAILABLE` (4003) and the page does not reconnect.
   */
  DRIVER_UNAVAILABLE: 'LAB_ERR_DRIVER_UNAVAILABLE',
} as const;

/**
 * Parses a text frame the browser sent on the lab channel.
 * @example
 * parseLabClientMessage('{"type":"lab.check"}') // { ok: true, value: { type: 'lab.check' } }
 */
export const parseLabClientMessage = (text: string): Parsed<LabClientMessage> =>
  parseWith(LabClientMessage, text);

/** Parses a text frame the gateway sent on the lab channel. */
export const parseLabServerMessage = (text: string): Parsed<LabServerMessage> =>
  parseWith(LabServerMessage, text);
