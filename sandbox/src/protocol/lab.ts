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
    /** An answer check of a skipped task: counted as done, never answered (no points). */
    skipped: z.boolean().optional(),
  })
  .strict();
export type CheckView = z.infer<typeof CheckView>;

/** How a lab's helpers show: `guided` everything, `challenge` no Run buttons in the guide and no solutions. */
export const LabMode = z.enum(['guided', 'challenge']);
export type LabMode = z.infer<typeof LabMode>;

/**
 * What helped with a task, recorded with its result (the instructor sees it too): hints revealed, the solution
 * shown, Run presses on the solution's code blocks, skipped (its solution applied for the learner), resets to its
 * start.
 */
export const AssistView = z
  .object({
    hints: z.number().int(),
    solution: z.boolean(),
    ran: z.number().int(),
    skipped: z.boolean(),
    resets: z.number().int(),
  })
  .strict();
export type AssistView = z.infer<typeof AssistView>;

/**
 * What helped, in words: "2 hints, solution shown" ("" when nothing did). The panel shows it as "(assisted: …)";
 * the instructor's room per task.
 * @example
 * assistText({ hints: 2, solution: false, ran: 0, skipped: false, resets: 1 }) // "2 hints, reset once"
 */
export function assistText(a: AssistView | undefined): string {
  if (!a) return '';
  const parts: string[] = [];
  if (a.skipped) parts.push('skipped');
  if (a.hints > 0) parts.push(`${String(a.hints)} hint${a.hints === 1 ? '' : 's'}`);
  if (a.solution) parts.push('solution shown');
  if (a.ran > 0) parts.push(`solution run ${a.ran === 1 ? 'once' : `${String(a.ran)} times`}`);
  if (a.resets > 0) parts.push(`reset ${a.resets === 1 ? 'once' : `${String(a.resets)} times`}`);
  return parts.join(', ');
}

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
    /**
     * When the task passed (ISO time), for the learner's record; absent again after a reset to it or an earlier
     * task (the instructor's history keeps the first pass).
     */
    firstPassedAt: z.string().optional(),
    /** Points this pass earned (after hint costs; 0 when skipped or its solution was used). */
    earned: z.number().int().optional(),
    /** Done by skipping: the earlier tasks' solutions were applied for the learner (no points). */
    skipped: z.boolean().optional(),
    /** What helped so far; absent when nothing did. */
    assisted: AssistView.optional(),
    /** Points the next hint costs (shown on the Hint button); absent when hints are free or none are left. */
    hintCost: z.number().int().optional(),
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
    /** How the helpers show (the learner's choice, kept per lab); `guided` when absent. */
    mode: LabMode.optional(),
  })
  .strict();
export type LabView = z.infer<typeof LabView>;

/**
 * A fault of the lab the learner fires from the panel (`trigger: { button }` in the manifest): a real button,
 * disabled once fired unless `repeatable`.
 */
export const FaultButtonView = z
  .object({
    /** The fault's id: what `lab.fault` sends. */
    id,
    /** The button's label, as the manifest words it. */
    label: z.string(),
    /** The fault's kind (`host-power-off`, `nic-down`, …). */
    kind: z.string(),
    /** Breaks something (a host, a link, storage, load): the panel asks to confirm first. */
    destructive: z.boolean(),
    /** Kinds that only put things back (`host-power-on`, `nic-up`, `sr-back`, `heal`) may be pressed again. */
    repeatable: z.boolean(),
    /** Fired (at least once). */
    fired: z.boolean(),
    /** When it last fired (ms since epoch). */
    firedAt: z.number().optional(),
  })
  .strict();
export type FaultButtonView = z.infer<typeof FaultButtonView>;

/** A fault that fired after the lab started (setup faults are the starting state and are not listed). */
export const FaultEventView = z
  .object({
    /** The fault's id, when it has one. */
    fault: id.optional(),
    kind: z.string(),
    /** What happened, in words: "xcp-ng-02 lost power". */
    text: z.string(),
    /** When (ms since epoch). */
    at: z.number(),
    /** What fired it. */
    by: z.enum(['after', 'task', 'button']),
  })
  .strict();
export type FaultEventView = z.infer<typeof FaultEventView>;

/** The lab's fault buttons and what fired so far, oldest first. */
export const FaultsView = z
  .object({ buttons: z.array(FaultButtonView), events: z.array(FaultEventView) })
  .strict();
export type FaultsView = z.infer<typeof FaultsView>;

/**
 * Reset and skip (`lab.reset`, `lab.skip`): which tasks can be reset to (a checkpoint of their start exists), and
 * whether resets and skips can run on this lab's driver at all (and why not).
 */
export const StepsView = z
  .object({
    /** Ids of the tasks whose start can be restored now. */
    resettable: z.array(id),
    /** Why this lab offers no resets (its driver), when it does not. */
    resetUnavailable: z.string().optional(),
    /** Why this lab offers no skips, when it does not. */
    skipUnavailable: z.string().optional(),
    /** A reset or a skip running now (the panel disables its buttons). */
    busy: z.enum(['reset', 'skip']).optional(),
  })
  .strict();
export type StepsView = z.infer<typeof StepsView>;

/**
 * What made the grader re-evaluate (`fault`: a fault fired, the state carries the new fault list; `reset`, `skip`:
 * the learner reset to a task or skipped ahead; `mode`: guided or challenge chosen; `ran`: a Run press recorded).
 */
export const Trigger = z.enum([
  'initial',
  'event',
  'poll',
  'check',
  'answer',
  'hint',
  'solution',
  'fault',
  'reset',
  'skip',
  'mode',
  'ran',
]);
export type Trigger = z.infer<typeof Trigger>;

/** Messages the browser sends on the lab channel. */
export const LabClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('lab.hello'), v: z.number().int() }).strict(),
  /** The learner pressed Check (on one task, or on all when `task` is absent). */
  z.object({ type: z.literal('lab.check'), task: id.optional() }).strict(),
  z.object({ type: z.literal('lab.hint'), task: id }).strict(),
  z.object({ type: z.literal('lab.solution'), task: id }).strict(),
  z.object({ type: z.literal('lab.answer'), check: id, answer: z.string().max(1000) }).strict(),
  /** The learner pressed a fault's button (only faults with a `button` trigger; see `FaultButtonView`). */
  z.object({ type: z.literal('lab.fault'), fault: id }).strict(),
  /**
   * Back to the start of `task`: the pool and the home as they were when it began (the checkpoint taken when the
   * task before it first passed, or after setup for the first), and the tasks from it on open again.
   */
  z.object({ type: z.literal('lab.reset'), task: id }).strict(),
  /** Skip to `task`: the solutions of the open tasks before it are applied as the learner; they count as skipped. */
  z.object({ type: z.literal('lab.skip'), task: id }).strict(),
  /** Guided (every helper) or challenge (no Run buttons in the guide, no solutions). */
  z.object({ type: z.literal('lab.mode'), mode: LabMode }).strict(),
  /** The learner pressed Run on code block `block` (0-based) of `task`'s revealed solution. */
  z.object({ type: z.literal('lab.ran'), task: id, block: z.number().int().min(0).max(100) }).strict(),
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
      /** The lab's fault buttons and the faults that fired; absent when the lab has neither. */
      faults: FaultsView.optional(),
      /** Reset and skip: what they can do now; absent where the lab channel has no environment behind it. */
      steps: StepsView.optional(),
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
  /**
   * The room is full for this lab's driver (admission control): the environment waits in line, `place` 1 being next,
   * about `etaMs` until it is up. Sent on joining the line, when it moves and every 30 s, until the first state.
   */
  z
    .object({
      type: z.literal('lab.queued'),
      driver: z.string(),
      place: z.number().int().min(1),
      waiting: z.number().int().min(1),
      running: z.number().int().min(0),
      capacity: z.number().int().min(0),
      etaMs: z.number().min(0),
    })
    .strict(),
  /** The instructor's mode for this lab: a shared demo (read-only: Check, hints and resets are the instructor's) or a table. */
  z
    .object({
      type: z.literal('lab.seat'),
      mode: z.enum(['demo', 'tables']),
      text: z.string(),
      readOnly: z.boolean(),
      table: z.number().int().optional(),
      members: z.array(z.string()).optional(),
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
  /** A `lab.fault` naming no fault button of this lab (faults without a button cannot be fired from the page). */
  UNKNOWN_FAULT: 'LAB_ERR_UNKNOWN_FAULT',
  /** A `lab.fault` for a button fault that fired already (and whose kind is not repeatable). */
  FAULT_FIRED: 'LAB_ERR_FAULT_FIRED',
  /** Fault buttons pressed too fast: the message says when to retry. */
  FAULT_TOO_SOON: 'LAB_ERR_FAULT_TOO_SOON',
  /** The fault could not be played (the simulator refused it, or cannot play that kind yet). */
  FAULT_FAILED: 'LAB_ERR_FAULT',
  /** This simulator cannot play that kind of fault (yet): `partition`/`heal` need its HA network model. */
  FAULT_UNSUPPORTED: 'LAB_ERR_FAULT_UNSUPPORTED',
  /** `lab.reset` to a task whose start has no checkpoint, or on a driver that cannot reset (the message says). */
  RESET_UNAVAILABLE: 'LAB_ERR_RESET_UNAVAILABLE',
  /** `lab.skip` stopped: a solution could not be applied (the message carries its output's tail). */
  SKIP_FAILED: 'LAB_ERR_SKIP_FAILED',
  /** A reset or a skip is running already for this environment. */
  STEP_BUSY: 'LAB_ERR_STEP_BUSY',
  /** The solution was asked for in challenge mode (switch to guided to see it). */
  CHALLENGE_MODE: 'LAB_ERR_CHALLENGE_MODE',
  /**
   * Permanent: the lab's driver cannot run on this machine; the message says which, why and what to do. The
   * channel closes with `CLOSE.UNAVAILABLE` (4003) and the page does not reconnect.
   */
  DRIVER_UNAVAILABLE: 'LAB_ERR_DRIVER_UNAVAILABLE',
  /** Check, hints, answers, faults, resets or the mode asked on a shared demo's page: the instructor drives it. */
  READ_ONLY: 'LAB_ERR_READ_ONLY',
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
