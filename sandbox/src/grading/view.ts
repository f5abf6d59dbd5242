/**
 * What the learner sees: the lab view (tasks, checks with their feedback or pending state, hints, solution, score)
 * built from the progress, and the publisher that pushes it to listeners (the lab channel) when it changed.
 * @module
 */
import type { Lab } from '../labs/loader.js';
import { render, type Params } from '../labs/params.js';
import type { Task } from '../labs/schema.js';
import type { CheckView, LabView, TaskView, Trigger } from '../protocol/lab.js';
import type { ViewListener } from './api.js';
import { assistanceOf, newTaskState, type Progress } from './progress.js';
import { assistView, nextHintCost } from './scoring.js';

/** What a view is made of. */
export interface ViewSource {
  readonly lab: Lab;
  readonly params: Params;
  readonly progress: Progress;
  /** When a script check's run began, if it shows as pending now. */
  pendingSince(checkId: string): number | undefined;
}

function hintText(src: ViewSource, t: Task, i: number): string {
  const h = t.hints[i];
  return render(typeof h === 'string' ? h : (h?.text ?? ''), src.params);
}

/** The next hint: first an unseen one about the current cause, then an unseen general one. */
export function nextHint(progress: Progress, t: Task, cause: string | undefined): number | undefined {
  const seen = new Set(progress.state(t)?.hints ?? []);
  const whenOf = (i: number) => {
    const h = t.hints[i];
    return typeof h === 'string' || h === undefined ? [] : h.when;
  };
  const idx = t.hints.map((_, i) => i).filter((i) => !seen.has(i));
  return (
    idx.find((i) => cause !== undefined && whenOf(i).includes(cause)) ??
    idx.find((i) => whenOf(i).length === 0)
  );
}

function checkViews(src: ViewSource, t: Task): CheckView[] {
  const { params, progress } = src;
  return t.checks.map((c) => {
    const o = progress.outcomes.get(c.id);
    const since = src.pendingSince(c.id);
    return {
      id: c.id,
      kind: c.kind,
      pass: o?.pass ?? false,
      ...(since !== undefined ? { pending: true, pendingSince: since } : {}),
      ...(o && !o.pass && o.message !== undefined ? { message: render(o.message, params) } : {}),
      ...(o === undefined ? { message: 'Not checked yet.' } : {}),
      ...(c.kind === 'answer' ? { question: render(c.question, params) } : {}),
      ...(progress.answerSkipped(c) ? { skipped: true } : {}),
    };
  });
}

/** A task as the learner sees it. */
export function taskView(src: ViewSource, t: Task): TaskView {
  const { params, progress } = src;
  const solutionAfter = src.lab.manifest.solutionAfter;
  const st = progress.state(t) ?? newTaskState();
  const assisted = assistView(assistanceOf(st));
  const checks = checkViews(src, t);
  const pass = checks.every((c) => c.pass);
  const cause = pass
    ? undefined
    : t.checks.map((c) => progress.outcomes.get(c.id)).find((o) => o && !o.pass)?.cause;
  const hints = st.hints.map((i) => hintText(src, t, i));
  const solutionAvailable = t.solution !== undefined && (pass || st.attempts >= solutionAfter);
  const moreHints = nextHint(progress, t, cause) !== undefined;
  // Hints cost points while the task is open (its pass counts what helped); shown on the Hint button.
  const hintCost = moreHints && st.passedAt === null ? nextHintCost(t.points, assistanceOf(st)) : 0;
  return {
    id: t.id,
    title: render(t.title, params),
    text: render(t.text, params),
    points: t.points,
    pass,
    checks,
    ...(cause === undefined ? {} : { cause }),
    hints,
    moreHints,
    attempts: st.attempts,
    solutionAvailable,
    attemptsUntilSolution: Math.max(0, solutionAfter - st.attempts),
    ...(st.solutionShown && t.solution !== undefined ? { solution: render(t.solution, params) } : {}),
    ...(st.passedAt === null
      ? {}
      : { firstPassedAt: new Date(st.passedAt).toISOString(), earned: st.earned }),
    ...(st.skipped ? { skipped: true } : {}),
    ...(assisted === undefined ? {} : { assisted }),
    ...(hintCost > 0 ? { hintCost } : {}),
  };
}

/** The whole lab as the learner sees it. */
export function labView(src: ViewSource): LabView {
  const { lab, progress } = src;
  const ts = progress.tasks.map((t) => taskView(src, t));
  return {
    lab: lab.id,
    title: lab.manifest.title,
    score: progress.score(),
    maxScore: progress.tasks.reduce((n, t) => n + t.points, 0),
    tasks: ts,
    mode: progress.mode,
  };
}

/** Pushes the view to listeners, only when it changed (unless forced). */
export class ViewPublisher {
  readonly #view: () => LabView;
  readonly #listeners = new Set<ViewListener>();
  #lastJson = '';

  constructor(view: () => LabView) {
    this.#view = view;
  }

  publish(trigger: Trigger, at: number, force = false): void {
    const v = this.#view();
    const json = JSON.stringify(v);
    if (!force && json === this.#lastJson) return;
    this.#lastJson = json;
    for (const l of this.#listeners) l(v, trigger, at);
  }

  onChange(listener: ViewListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
