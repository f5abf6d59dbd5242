/**
 * The task panel's faults (issue #14): the buttons a lab offers to break something on purpose ("Pull the plug on
 * xcp-ng-02") — real `<button>`s, a confirm step for the destructive ones, disabled once fired unless they only
 * put things back — and the Events list of what fired and when ("xcp-ng-02 lost power at 10:42:13").
 * Markup as strings from escaped text (the panel's way); no DOM here, so it is unit-tested in Node.
 */
import type { FaultButtonView, FaultsView } from '@xenlab/sandbox/protocol';

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const two = (n: number): string => String(n).padStart(2, '0');

/** `10:42:13`, in the page's time zone. */
export function clockTime(at: number): string {
  const d = new Date(at);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** What the panel's fault section shows besides the server's view: the button awaiting confirmation, presses sent. */
export interface FaultUiState {
  /** Id of the destructive button whose confirmation is showing. */
  readonly confirming?: string | undefined;
  /** Ids pressed and not answered yet (a state or an error). */
  readonly pressing: ReadonlySet<string>;
}

function buttonHtml(b: FaultButtonView, ui: FaultUiState): string {
  const id = esc(b.id);
  const when =
    b.firedAt === undefined
      ? ''
      : `<span class="lab-fault-when">${b.repeatable ? 'last fired' : 'fired'} at <time datetime="${new Date(b.firedAt).toISOString()}">${clockTime(b.firedAt)}</time></span>`;
  if (ui.confirming === b.id && !(b.fired && !b.repeatable))
    return `<li class="lab-fault" data-fault="${id}" data-confirm="true">
      <span class="lab-fault-ask" id="lab-fault-ask-${id}">${esc(b.label)}? This breaks something in your pool.</span>
      <span class="lab-fault-choices">
        <button type="button" class="lab-fault-confirm" data-fault="${id}" aria-describedby="lab-fault-ask-${id}">Yes, do it</button>
        <button type="button" class="lab-fault-cancel" data-fault="${id}">Cancel</button>
      </span>
    </li>`;
  const done = b.fired && !b.repeatable;
  const busy = ui.pressing.has(b.id);
  return `<li class="lab-fault" data-fault="${id}" data-fired="${String(b.fired)}">
    <button type="button" class="lab-fault-btn" data-fault="${id}" data-destructive="${String(b.destructive)}"${done ? ' disabled' : ''}${busy && !done ? ' aria-disabled="true" aria-busy="true"' : ''}>${esc(b.label)}</button>
    ${when}
  </li>`;
}

/** The buttons (a list; empty when the lab has none). */
export function faultButtonsHtml(view: FaultsView, ui: FaultUiState): string {
  return view.buttons.map((b) => buttonHtml(b, ui)).join('');
}

/** One line of the Events list per fault that fired, oldest first. */
export function faultEventsHtml(view: FaultsView): string {
  if (view.events.length === 0) return '<li class="lab-event lab-event-none">Nothing has happened yet.</li>';
  return view.events
    .map(
      (e) =>
        `<li class="lab-event"${e.fault === undefined ? '' : ` data-fault="${esc(e.fault)}"`} data-by="${e.by}">${esc(e.text)} at <time datetime="${new Date(e.at).toISOString()}">${clockTime(e.at)}</time></li>`,
    )
    .join('');
}

/** Sentences for screen readers about the events in `next` that `before` did not have. */
export function newEventsSaid(before: FaultsView | undefined, next: FaultsView): string {
  const seen = before?.events.length ?? 0;
  return next.events
    .slice(seen)
    .map((e) => `${e.text}.`)
    .join(' ');
}
