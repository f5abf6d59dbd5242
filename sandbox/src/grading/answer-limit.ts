/**
 * The rate limit of answers, per task (issue #11: short answers can be guessed by enumerating): `attempts` per
 * `windowMs`; who runs out waits `windowMs`, twice as long each time again (at most `maxWaitMs`), until a right
 * answer.
 * @module
 */
import type { GraderOptions } from './api.js';

/** Default rate limit of answers (per task). */
const ANSWER_LIMIT = { attempts: 5, windowMs: 60_000, maxWaitMs: 16 * 60_000 } as const;

/** A task's recent answers: when each was evaluated, how often the limit was hit, and the end of the wait. */
interface AnswerWindow {
  times: number[];
  strikes: number;
  until: number;
}

/** The answer windows of one grader's tasks. */
export class AnswerLimiter {
  readonly #limit;
  readonly #windows = new Map<string, AnswerWindow>();

  constructor(limit: GraderOptions['answerLimit']) {
    this.#limit = { ...ANSWER_LIMIT, ...limit };
  }

  /** Admits an answer to a task now, or says how many ms to wait. */
  admit(task: string, now: number): number {
    const limit = this.#limit;
    const w = this.#windows.get(task) ?? { times: [], strikes: 0, until: 0 };
    this.#windows.set(task, w);
    if (now < w.until) return w.until - now;
    w.times = w.times.filter((t) => now - t < limit.windowMs);
    if (w.times.length >= limit.attempts) {
      w.strikes++;
      const wait = Math.min(limit.windowMs * 2 ** (w.strikes - 1), limit.maxWaitMs);
      w.until = now + wait;
      w.times = [];
      return wait;
    }
    w.times.push(now);
    return 0;
  }

  /** A right answer: the task's window starts afresh. */
  forget(task: string): void {
    this.#windows.delete(task);
  }

  /** What a learner refused for `wait` ms is told. */
  refusal(wait: number): string {
    const limit = this.#limit;
    const s = Math.ceil(wait / 1000);
    const when = s < 120 ? `${String(s)} s` : `${String(Math.ceil(s / 60))} minutes`;
    const per =
      limit.windowMs === 60_000 ? 'a minute' : `every ${String(Math.round(limit.windowMs / 1000))} s`;
    return `Too many answers in a short time: try again in ${when}. At most ${String(limit.attempts)} answers per task ${per} — work it out rather than guess.`;
  }
}
