/**
 * The four check kinds, evaluated one at a time. XenAPI and temporal checks read a snapshot of the pool; script
 * checks run in the sandbox; answer checks compare what the learner submitted, hashed.
 * @module
 */
import { createHash } from 'node:crypto';
import type { ExecResult } from '../drivers/types.js';
import type { AnswerCheck, Check, Query, ScriptCheck, TemporalCheck } from '../labs/schema.js';
import { evaluateQuery, selectRefs } from './query.js';
import type { PoolSnapshot } from './query.js';

/** The result of one check. */
export interface CheckOutcome {
  readonly pass: boolean;
  /** Feedback for the learner when failing. */
  readonly message?: string;
  /** What failed (the check id, or a script's `CAUSE:` code): picks the hint. */
  readonly cause?: string;
}

/**
 * Normalises an answer before hashing or comparing: trimmed, lowercased, inner whitespace collapsed, so
 * " Vm-Copy " and "vm-copy" are the same answer.
 */
export function normaliseAnswer(text: string): string {
  return text.trim().toLowerCase().replace(/\s+/g, ' ');
}

/**
 * The sha256 an answer check stores (`xenlab lab hash "text"`).
 * @example
 * hashAnswer('vm-copy') // 'b1…' (64 hex digits)
 */
export function hashAnswer(text: string): string {
  return createHash('sha256').update(normaliseAnswer(text)).digest('hex');
}

/** Evaluates a declarative XenAPI check. */
export function evaluateXapiCheck(
  snap: PoolSnapshot,
  check: Query & { id: string; fail?: string | undefined },
): CheckOutcome {
  const r = evaluateQuery(snap, check);
  if (r.pass) return { pass: true };
  return { pass: false, message: check.fail ?? `${capitalise(r.found)}.`, cause: check.id };
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Reads a script check's output: exit 0 passes; `FAIL:` lines are the feedback; `CAUSE:` picks the hint. */
export function scriptOutcome(check: ScriptCheck, r: ExecResult): CheckOutcome {
  const lines = r.stdout.split('\n');
  const fails = lines.filter((l) => l.startsWith('FAIL:')).map((l) => l.slice(5).trim());
  const cause = lines
    .find((l) => l.startsWith('CAUSE:'))
    ?.slice(6)
    .trim();
  if (r.timedOut) {
    return {
      pass: false,
      message: `The check took longer than ${String(Math.round(check.timeoutMs / 1000))} s and was stopped.`,
      cause: check.id,
    };
  }
  if (r.code === 0) return { pass: true };
  // The driver could not run the check (a machine powered off, a PXE configuration it cannot boot): it says why on
  // stderr as `CODE: words a learner can act on` — shown after the check's own words, never the script's stderr.
  const driver = /^[A-Z][A-Z0-9]*_ERR_[A-Z0-9_]+: (.+)$/m.exec(r.stderr)?.[1]?.trim();
  const base = fails.length > 0 ? fails.join('\n') : (check.fail ?? 'Not done yet.');
  const message = fails.length === 0 && driver ? `${base} (${driver})` : base;
  return { pass: false, message, cause: cause !== undefined && cause !== '' ? cause : check.id };
}

/** Whether an answer is right, given the check and (for count answers) the pool now. */
export function answerIsCorrect(
  check: AnswerCheck,
  answer: string,
  params: Readonly<Record<string, string>>,
  snap: PoolSnapshot,
): boolean {
  const given = normaliseAnswer(answer);
  const e = check.expect;
  if ('sha256' in e) return hashAnswer(given) === e.sha256;
  if ('param' in e) return given === normaliseAnswer(params[e.param] ?? '\u0000');
  const n = selectRefs(snap, e.count).length;
  return /^\d+$/.test(given) && Number(given) === n;
}

/** What a temporal check remembers between evaluations. */
export interface TemporalState {
  /** `while` held at the previous evaluation. */
  open: boolean;
  /** `always` held at every state seen since the window opened. */
  ok: boolean;
  /** A window closed with `always` holding throughout (an open window passes while it holds). */
  passed: boolean;
  /** Why the last window failed. */
  violation?: string;
}

/** A fresh temporal state. */
export const newTemporalState = (): TemporalState => ({ open: false, ok: true, passed: false });

/**
 * Advances a temporal check by one observed state of the pool and returns its outcome. A window that failed
 * stays failed until `while` stops holding; the next window gets a fresh chance.
 */
export function stepTemporal(check: TemporalCheck, state: TemporalState, snap: PoolSnapshot): CheckOutcome {
  const w = evaluateQuery(snap, check.while).pass;
  const a = evaluateQuery(snap, check.always);
  if (w) {
    if (!state.open) {
      state.open = true;
      state.ok = true;
    }
    if (!a.pass && state.ok) {
      state.ok = false;
      state.violation = `${check.fail ?? 'The condition did not hold all along'} (${a.found}).`;
    }
  } else if (state.open) {
    // The window closed: it counts for good only if the condition held all along.
    state.open = false;
    if (state.ok) state.passed = true;
  }
  if (state.passed || (state.open && state.ok)) return { pass: true };
  if (state.violation !== undefined) return { pass: false, message: state.violation, cause: check.id };
  return {
    pass: false,
    message: check.waiting ?? 'Waiting for the situation this check watches to happen.',
    cause: check.id,
  };
}

/** True for checks that read only the pool (cheap, re-run on every event). */
export const readsPoolOnly = (c: Check): boolean => c.kind === 'xapi' || c.kind === 'temporal';
