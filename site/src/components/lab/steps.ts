/**
 * The task panel's steps (issue #16): per task "Reset to the start of this task" and "Skip to this task", each with
 * a confirm step; the mode switch (guided shows every helper, challenge hides the guide's Run buttons and the
 * solutions); what helped a task ("(assisted: 2 hints)") and what the next hint costs. Markup as strings from
 * escaped text (the panel's way); no DOM here, so it is unit-tested in Node.
 */
import { assistText, type LabView, type StepsView, type TaskView } from '@xenlab/sandbox/protocol';

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** What the panel shows besides the server's view: a reset or skip awaiting confirmation, one sent. */
export interface StepsUiState {
  readonly confirming?: { readonly kind: 'reset' | 'skip'; readonly task: string } | undefined;
  readonly sent?: { readonly kind: 'reset' | 'skip'; readonly task: string } | undefined;
}

/** The open tasks before task `i` (what a skip to it applies). */
export function openBefore(view: LabView, i: number): TaskView[] {
  return view.tasks.slice(0, i).filter((t) => t.firstPassedAt === undefined);
}

/** The reset and skip buttons of task `i` (or their confirmation), as HTML; empty when neither applies. */
export function stepButtonsHtml(
  view: LabView,
  i: number,
  steps: StepsView | undefined,
  ui: StepsUiState,
): string {
  const t = view.tasks[i];
  if (!t || !steps) return '';
  const id = esc(t.id);
  const busy = steps.busy !== undefined || ui.sent !== undefined;
  const dis = busy ? ' disabled' : '';
  if (ui.confirming?.task === t.id && !busy) {
    const ask =
      ui.confirming.kind === 'reset'
        ? `Reset to the start of “${esc(t.title)}”? Your pool and your files go back to how they were when it began (your shell restarts), and this task and the ones after it open again.`
        : `Skip to “${esc(t.title)}”? The solutions of the ${String(openBefore(view, i).length)} open task(s) before it run in your terminal’s environment; they count as skipped (no points).`;
    return `<div class="lab-step-confirm" data-kind="${ui.confirming.kind}" data-task="${id}">
      <span class="lab-step-ask" id="lab-step-ask-${id}">${ask}</span>
      <button type="button" class="lab-step-yes" data-kind="${ui.confirming.kind}" data-task="${id}" aria-describedby="lab-step-ask-${id}">${ui.confirming.kind === 'reset' ? 'Reset' : 'Skip ahead'}</button>
      <button type="button" class="lab-step-cancel" data-task="${id}">Cancel</button>
    </div>`;
  }
  const out: string[] = [];
  if (steps.resetUnavailable === undefined && steps.resettable.includes(t.id))
    out.push(
      `<button type="button" class="lab-reset-btn" data-task="${id}"${dis}>Reset to the start of this task</button>`,
    );
  if (steps.skipUnavailable === undefined && t.firstPassedAt === undefined && openBefore(view, i).length > 0)
    out.push(`<button type="button" class="lab-skip-btn" data-task="${id}"${dis}>Skip to this task</button>`);
  return out.join('');
}

/** "(assisted: 2 hints, solution shown)", or "" when nothing helped. */
export function assistedHtml(t: TaskView): string {
  const text = assistText(t.assisted);
  return text ? `<span class="lab-assisted">(assisted: ${esc(text)})</span>` : '';
}

/** The points shown in a task's head: "15 / 20 pts" once passed with fewer points, "skipped" when skipped. */
export function pointsText(t: TaskView): string {
  if (t.skipped === true && t.firstPassedAt !== undefined) return `skipped · 0 / ${String(t.points)} pts`;
  if (t.earned !== undefined && t.earned !== t.points) return `${String(t.earned)} / ${String(t.points)} pts`;
  return `${String(t.points)} pts`;
}

/** The Hint button's label: with what it costs ("Hint (−5 pts)"). */
export function hintLabel(t: TaskView): string {
  return t.hintCost === undefined ? 'Hint' : `Hint (−${String(t.hintCost)} pts)`;
}

/** The mode switch (two radio-like buttons). */
export function modeHtml(mode: LabView['mode']): string {
  const m = mode ?? 'guided';
  const b = (value: 'guided' | 'challenge', label: string, title: string) =>
    `<button type="button" class="lab-mode-btn" data-mode="${value}" aria-pressed="${String(m === value)}" title="${esc(title)}">${label}</button>`;
  return (
    b('guided', 'Guided', 'Run buttons in the guide and solutions after a few Checks') +
    b('challenge', 'Challenge', 'No Run buttons in the guide, no solutions; hints still cost points')
  );
}
