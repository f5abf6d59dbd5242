import { MISMATCH_TEXT, queueText } from '../../terminal/starting.ts';
import type { FaultsView, LabServerMessage, LabView, StepsView, TaskView } from '@xenlab/sandbox/protocol';
import { addRunButtons } from './code-actions.ts';
import { LabConnection } from './connection.ts';
import { faultButtonsHtml, faultEventsHtml, newEventsSaid } from './faults.ts';
import { setInlineText, showCompletion } from './inline-text.ts';
import { renderMarkdown } from './markdown.ts';
import { saveProgress } from './progress.ts';
import {
  assistedHtml,
  hintLabel,
  modeHtml,
  pointsText,
  stepButtonsHtml,
  type StepsUiState,
} from './steps.ts';

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A running check's line (issue #12): "checking… (N s)", N counted from `since` (this page's clock). */
const checkingText = (pass: boolean, since: number): string =>
  `${pass ? 'checking again' : 'checking'}… (${String(Math.max(0, Math.round((Date.now() - since) / 1000)))} s)`;

/** What a task's markup needs besides the task: the lab's view, steps and mode, and the panel's own state. */
interface TaskContext {
  readonly view: LabView;
  readonly index: number;
  readonly steps: StepsView | undefined;
  readonly ui: StepsUiState;
}

/** `pending` maps the id of each check still running to when it began, on this page's clock. */
function taskHtml(t: TaskView, pending: ReadonlyMap<string, number>, ctx: TaskContext): string {
  const challenge = ctx.view.mode === 'challenge';
  const checks = t.checks
    .map((c) => {
      const question =
        c.question === undefined
          ? ''
          : `<form class="lab-answer" data-check="${esc(c.id)}">
               <label>${esc(c.question)} <input name="answer" autocomplete="off" maxlength="200" ${c.pass ? 'disabled' : ''} /></label>
               <button type="submit" ${c.pass ? 'disabled' : ''}>Answer</button>
             </form>`;
      const since = c.pending === true ? pending.get(c.id) : undefined;
      const msg =
        c.skipped === true
          ? `<span class="lab-check-msg lab-skipped">Skipped (not answered).</span>`
          : since !== undefined
            ? `<span class="lab-check-msg lab-checking" data-since="${String(since)}">${esc(checkingText(c.pass, since))}</span>`
            : c.pass
              ? ''
              : `<span class="lab-check-msg">${esc(c.message ?? '')}</span>`;
      const state = since === undefined ? '' : ' data-state="checking"';
      return `<li class="lab-check" data-check="${esc(c.id)}" data-pass="${String(c.pass)}"${state}>
        <span class="lab-mark" aria-hidden="true">${c.pass ? '✓' : '•'}</span>${question}${msg}</li>`;
    })
    .join('');
  const hints = t.hints.map((h) => `<div class="lab-hint">${renderMarkdown(h)}</div>`).join('');
  const solution =
    t.solution === undefined || challenge
      ? ''
      : `<div class="lab-solution"><strong>Solution</strong>${renderMarkdown(t.solution)}</div>`;
  const solutionButton =
    t.solution !== undefined || challenge
      ? ''
      : t.solutionAvailable
        ? `<button type="button" class="lab-solution-btn" data-task="${esc(t.id)}">Show the solution</button>`
        : t.attemptsUntilSolution > 0 && !t.pass
          ? `<span class="lab-solution-later">Solution after ${t.attemptsUntilSolution} more Check${t.attemptsUntilSolution === 1 ? '' : 's'}</span>`
          : '';
  const skipped = t.skipped === true && t.firstPassedAt !== undefined;
  return `<li class="lab-task" data-task="${esc(t.id)}" data-pass="${String(t.pass)}"${skipped ? ' data-skipped="true"' : ''}>
    <div class="lab-task-head">
      <span class="lab-status" role="img" aria-label="${skipped ? 'skipped' : t.pass ? 'done' : 'not done yet'}">${skipped ? '↷' : t.pass ? '✓' : '○'}</span>
      <span class="lab-task-title">${esc(t.title)}</span>
      <span class="lab-points">${esc(pointsText(t))}</span>
    </div>
    ${assistedHtml(t)}
    <div class="lab-task-text">${renderMarkdown(t.text)}</div>
    <ul class="lab-checks">${checks}</ul>
    ${hints}${solution}
    <div class="lab-task-actions">
      ${t.pass ? '' : `<button type="button" class="lab-check-btn" data-task="${esc(t.id)}">Check</button>`}
      ${!t.pass && t.moreHints ? `<button type="button" class="lab-hint-btn" data-task="${esc(t.id)}">${esc(hintLabel(t))}</button>` : ''}
      ${solutionButton}
    </div>
    <div class="lab-task-steps">${stepButtonsHtml(ctx.view, ctx.index, ctx.steps, ctx.ui)}</div>
  </li>`;
}

/** `<xenlab-lab data-lab="id">`: the task panel of a lab page, live from the grader. */
class XenlabLab extends HTMLElement {
  #conn: LabConnection | undefined;
  #tick: ReturnType<typeof setInterval> | undefined;
  view: LabView | undefined;
  faults: FaultsView | undefined;
  steps: StepsView | undefined;

  connectedCallback(): void {
    const lab = this.dataset.lab;
    const list = this.querySelector<HTMLElement>('.lab-tasks');
    const status = this.querySelector<HTMLElement>('.lab-live');
    const score = this.querySelector<HTMLElement>('.lab-score');
    const checkAll = this.querySelector<HTMLButtonElement>('.lab-check-all');
    const notice = this.querySelector<HTMLElement>('.lab-notice');
    const announce = this.querySelector<HTMLElement>('.lab-announce');
    const faultBox = this.querySelector<HTMLElement>('.lab-faults');
    const faultButtons = this.querySelector<HTMLElement>('.lab-fault-buttons');
    const events = this.querySelector<HTMLElement>('.lab-events');
    const modeBox = this.querySelector<HTMLElement>('.lab-mode');
    const mismatch = this.querySelector<HTMLElement>('.lab-mismatch');
    if (!lab || !list || !status || !score || !checkAll || !notice || !announce || this.#conn) return;
    if (!faultBox || !faultButtons || !events || !modeBox || !mismatch) return;

    /** A reset or skip awaiting confirmation, or sent and not answered yet. */
    let stepUi: { confirming?: StepsUiState['confirming']; sent?: StepsUiState['sent'] } = {};
    /** Challenge mode hides the guide's Run buttons (CSS on the page's root) and the solutions. */
    const applyMode = (mode: LabView['mode']) => {
      document.documentElement.dataset.labMode = mode ?? 'guided';
      modeBox.innerHTML = modeHtml(mode);
    };

    /** The destructive fault button whose confirmation shows, and the presses not answered yet. */
    let confirming: string | undefined;
    const pressing = new Set<string>();
    const renderFaults = (focus?: string) => {
      const f = this.faults;
      faultBox.hidden = f === undefined;
      if (!f) return;
      faultButtons.hidden = f.buttons.length === 0;
      faultButtons.innerHTML = faultButtonsHtml(f, { confirming, pressing });
      events.innerHTML = faultEventsHtml(f);
      if (focus === undefined) return;
      // The focused button went away (it fired and is disabled now): focus moves to what happened.
      const target = faultButtons.querySelector<HTMLButtonElement>(focus);
      if (target) target.focus();
      else events.focus();
    };

    /** Checks still running (a slow script check), by id: when each began on this page's clock. */
    const pending = new Map<string, number>();
    const render = (view: LabView, at: number) => {
      const running = new Map<string, number>();
      for (const c of view.tasks.flatMap((t) => t.checks))
        if (c.pending === true)
          running.set(c.id, pending.get(c.id) ?? Date.now() - Math.max(0, at - (c.pendingSince ?? at)));
      pending.clear();
      for (const [id, since] of running) pending.set(id, since);
      // Screen readers hear a task turn green (the panel changes without the learner looking at it).
      const before = this.view;
      if (before) {
        const done = view.tasks.filter(
          (t) => t.pass && before.tasks.find((b) => b.id === t.id)?.pass === false,
        );
        if (done.length) announce.textContent = done.map((t) => `Done: ${t.title}.`).join(' ');
      }
      // Keep what the learner is typing in answer boxes across re-renders.
      const typed = new Map<string, string>();
      for (const f of list.querySelectorAll<HTMLFormElement>('.lab-answer')) {
        const input = f.querySelector('input');
        if (input?.value) typed.set(f.dataset.check ?? '', input.value);
      }
      const focused = (document.activeElement?.closest('.lab-answer') as HTMLElement | null)?.dataset.check;
      const ui: StepsUiState = stepUi;
      list.innerHTML = view.tasks
        .map((t, index) => taskHtml(t, pending, { view, index, steps: this.steps, ui }))
        .join('');
      // A revealed solution's shell blocks get Run buttons too; each press is recorded with the task (lab.ran).
      for (const sol of list.querySelectorAll<HTMLElement>('.lab-solution')) {
        const task = sol.closest<HTMLElement>('.lab-task')?.dataset.task;
        if (task === undefined) continue;
        addRunButtons(sol, (block) => {
          conn.send({ type: 'lab.ran', task, block });
        });
      }
      applyMode(view.mode);
      // Check feedback with `inline code` shown as code (built as elements from the escaped text, not as HTML).
      for (const el of list.querySelectorAll('.lab-check-msg:not(.lab-checking)'))
        setInlineText(el, el.textContent);
      for (const [check, value] of typed) {
        const input = list.querySelector<HTMLInputElement>(
          `.lab-answer[data-check="${CSS.escape(check)}"] input`,
        );
        if (input && !input.disabled) input.value = value;
      }
      if (focused)
        list
          .querySelector<HTMLInputElement>(`.lab-answer[data-check="${CSS.escape(focused)}"] input`)
          ?.focus();
      score.textContent = `${view.score} / ${view.maxScore} points`;
      this.dataset.score = String(view.score);
      saveProgress(view);
      showCompletion(this, view);
    };

    const conn = new LabConnection(
      lab,
      (msg: LabServerMessage) => {
        switch (msg.type) {
          case 'lab.state':
            if (status.dataset.state === 'starting') {
              status.dataset.state = 'open';
              status.textContent = 'Live';
            }
            this.steps = msg.steps;
            if (
              stepUi.sent !== undefined &&
              (msg.trigger === 'reset' || msg.trigger === 'skip') &&
              msg.steps?.busy === undefined
            ) {
              // The reset or skip this page asked for is done.
              const title = msg.view.tasks.find((t) => t.id === stepUi.sent?.task)?.title ?? '';
              setInlineText(
                notice,
                stepUi.sent.kind === 'reset'
                  ? `Back at the start of “${title}”: your pool and files are as they were then. Your shell restarted: press Enter in the terminal.`
                  : `Skipped to “${title}”: the earlier tasks' solutions were applied (they count as skipped).`,
              );
              notice.dataset.kind = 'ok';
              stepUi = {};
            }
            render(msg.view, msg.at);
            this.view = msg.view;
            {
              // What fired since the last state is said to screen readers; answered presses end.
              const said = msg.faults ? newEventsSaid(this.faults, msg.faults) : '';
              if (said) announce.textContent = said;
              if (msg.trigger === 'fault' || msg.trigger === 'initial') pressing.clear();
              const focused = (document.activeElement as HTMLElement | null)?.closest('.lab-fault');
              this.faults = msg.faults;
              renderFaults(
                focused instanceof HTMLElement && focused.dataset.fault
                  ? `.lab-fault[data-fault="${CSS.escape(focused.dataset.fault)}"] button:not([disabled])`
                  : undefined,
              );
            }
            // For tests and the grading benchmark: when the result reached the page.
            this.dispatchEvent(
              new CustomEvent('lab-state', {
                detail: { view: msg.view, trigger: msg.trigger, at: msg.at, seq: msg.seq },
              }),
            );
            break;
          case 'lab.answer.result':
            setInlineText(notice, msg.correct ? 'Correct!' : msg.message);
            notice.dataset.kind = msg.correct ? 'ok' : 'bad';
            break;
          case 'error':
            setInlineText(notice, msg.message);
            notice.dataset.kind = 'bad';
            if (stepUi.sent !== undefined && /RESET|SKIP|STEP|UNKNOWN_TASK/.test(msg.code)) {
              // The reset or skip was refused or stopped: its buttons work again.
              stepUi = {};
              if (this.view) render(this.view, Date.now());
            }
            if (pressing.size > 0 && msg.code.includes('FAULT')) {
              // A refused press: its button works again.
              pressing.clear();
              renderFaults();
            }
            break;
          case 'lab.starting': {
            // The lab's machine is still coming up (a nested Xen boots for a minute or two): say what and how long.
            const left = msg.etaMs === undefined ? 0 : msg.startedAt + msg.etaMs - Date.now();
            status.dataset.state = 'starting';
            status.textContent = `Starting: ${msg.what}${left > 0 ? `, about ${String(Math.ceil(left / 1000))} s` : '…'}`;
            break;
          }
          case 'lab.queued':
            // The room is full for this lab's driver: the place in line (the terminal shows it too).
            status.dataset.state = 'starting';
            status.textContent = `${queueText(msg, Date.now(), Date.now()).title}: your lab starts when a place frees`;
            break;
          case 'lab.seat':
            // The instructor's mode: a shared demo (the instructor checks and resets) or a table (who shares it).
            setInlineText(notice, msg.text);
            notice.dataset.kind = 'ok';
            this.dataset.seat = msg.mode;
            if (msg.readOnly) this.dataset.readOnly = 'true';
            else delete this.dataset.readOnly;
            break;
          case 'pong':
            break;
        }
      },
      (state, detail) => {
        status.dataset.state = state;
        status.textContent = detail;
      },
      (detail) => {
        // The page and the lab server disagree (connection.ts): say so until the page is reloaded; the panel goes on.
        const title = mismatch.querySelector('.lab-mismatch-title');
        const code = mismatch.querySelector('.lab-mismatch-code');
        if (title) title.textContent = MISMATCH_TEXT;
        if (code) code.textContent = detail;
        mismatch.hidden = false;
        this.dataset.mismatch = 'true';
      },
    );
    this.#conn = conn;
    // The seconds of the "checking… (N s)" lines go on counting between states.
    this.#tick = setInterval(() => {
      for (const el of list.querySelectorAll<HTMLElement>('.lab-checking')) {
        const pass = el.closest('.lab-check')?.getAttribute('data-pass') === 'true';
        el.textContent = checkingText(pass, Number(el.dataset.since));
      }
    }, 1000);
    mismatch.querySelector('.lab-reload')?.addEventListener('click', () => {
      location.reload();
    });
    checkAll.addEventListener('click', () => {
      notice.textContent = '';
      conn.send({ type: 'lab.check' });
    });
    list.addEventListener('click', (ev) => {
      const button = (ev.target as HTMLElement).closest('button');
      const task = button?.dataset.task;
      if (!button || task === undefined) return;
      notice.textContent = '';
      if (button.classList.contains('lab-check-btn')) conn.send({ type: 'lab.check', task });
      if (button.classList.contains('lab-hint-btn')) conn.send({ type: 'lab.hint', task });
      if (button.classList.contains('lab-solution-btn')) conn.send({ type: 'lab.solution', task });
      // Reset and skip ask first (an inline confirmation in the task); Cancel or Escape puts the buttons back.
      const again = (focus: string) => {
        if (!this.view) return;
        render(this.view, Date.now());
        list.querySelector<HTMLElement>(`.lab-task[data-task="${CSS.escape(task)}"] ${focus}`)?.focus();
      };
      if (button.classList.contains('lab-reset-btn') || button.classList.contains('lab-skip-btn')) {
        stepUi = {
          confirming: { kind: button.classList.contains('lab-reset-btn') ? 'reset' : 'skip', task },
        };
        again('.lab-step-yes');
      }
      if (button.classList.contains('lab-step-cancel')) {
        stepUi = {};
        again('.lab-task-steps button');
      }
      if (button.classList.contains('lab-step-yes')) {
        const kind = button.dataset.kind === 'reset' ? 'reset' : 'skip';
        stepUi = { sent: { kind, task } };
        conn.send(kind === 'reset' ? { type: 'lab.reset', task } : { type: 'lab.skip', task });
        notice.dataset.kind = 'ok';
        notice.textContent = kind === 'reset' ? 'Resetting…' : 'Applying the earlier solutions…';
        again('.lab-task-steps');
      }
    });
    list.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Escape' || stepUi.confirming === undefined || !this.view) return;
      stepUi = {};
      render(this.view, Date.now());
    });
    modeBox.addEventListener('click', (ev) => {
      const mode = (ev.target as HTMLElement).closest<HTMLButtonElement>('.lab-mode-btn')?.dataset.mode;
      if (mode !== 'guided' && mode !== 'challenge') return;
      notice.textContent = '';
      applyMode(mode);
      conn.send({ type: 'lab.mode', mode });
    });
    faultButtons.addEventListener('click', (ev) => {
      const button = (ev.target as HTMLElement).closest('button');
      const fault = button?.dataset.fault;
      if (!button || fault === undefined || button.getAttribute('aria-disabled') === 'true') return;
      if (button.classList.contains('lab-fault-cancel')) {
        confirming = undefined;
        renderFaults(`.lab-fault[data-fault="${CSS.escape(fault)}"] .lab-fault-btn`);
        return;
      }
      // A button that breaks something asks first; one that only puts things back fires at once.
      if (button.classList.contains('lab-fault-btn') && button.dataset.destructive === 'true') {
        confirming = fault;
        renderFaults(`.lab-fault[data-fault="${CSS.escape(fault)}"] .lab-fault-confirm`);
        return;
      }
      confirming = undefined;
      notice.textContent = '';
      pressing.add(fault);
      conn.send({ type: 'lab.fault', fault });
      renderFaults(`.lab-fault[data-fault="${CSS.escape(fault)}"] .lab-fault-btn`);
    });
    faultButtons.addEventListener('keydown', (ev) => {
      if (ev.key !== 'Escape' || confirming === undefined) return;
      const fault = confirming;
      confirming = undefined;
      renderFaults(`.lab-fault[data-fault="${CSS.escape(fault)}"] .lab-fault-btn`);
    });
    list.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const form = (ev.target as HTMLElement).closest<HTMLFormElement>('.lab-answer');
      const input = form?.querySelector('input');
      if (!form?.dataset.check || !input) return;
      conn.send({ type: 'lab.answer', check: form.dataset.check, answer: input.value });
    });
    void conn.connect();
  }

  disconnectedCallback(): void {
    this.#conn?.stop();
    this.#conn = undefined;
    clearInterval(this.#tick);
    this.#tick = undefined;
  }
}

if (!customElements.get('xenlab-lab')) customElements.define('xenlab-lab', XenlabLab);
