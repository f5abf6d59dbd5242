/**
 * The raised hand in the terminal's bar ("Ask for help", an optional note): the instructor's page shows it (with
 * the note) and can watch this terminal. The hand's state is the gateway's (the instructor marks it done, another
 * tab lowers it): the button shows it on load, and while the hand is up it is checked every few seconds and
 * whenever the page comes back.
 * @module
 */
import type { Terminal } from '@xterm/xterm';
import { MeResponse, PATHS, PLAYGROUND_LAB } from '@xenlab/sandbox/protocol';
import { Every, type Parts, type Say } from './parts.ts';

/** How often a raised hand is checked while it is up (the instructor may have marked it done). */
const HELP_POLL_MS = 5_000;

/** Raises or lowers the hand (`POST /api/help`); true when the gateway took it. */
async function ask(body: { lab: string; note?: string; cancel?: boolean }): Promise<boolean> {
  const res = await fetch(PATHS.help, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }).catch(() => undefined);
  return res?.ok === true;
}

/** Wires the help button and form; `refresh` asks the gateway whether the hand is up. */
export function attachHelp(
  host: HTMLElement,
  { helpButton, helpForm, helpResult }: Pick<Parts, 'helpButton' | 'helpForm' | 'helpResult'>,
  term: Terminal,
  say: Say,
  signal: AbortSignal,
): { refresh(): void } {
  const lab = host.dataset.lab ?? PLAYGROUND_LAB;
  const poll = new Every(signal);
  const isRaised = () => helpButton.getAttribute('aria-pressed') === 'true';
  const showHand = (raised: boolean, doneByInstructor = false) => {
    const was = isRaised();
    helpButton.setAttribute('aria-pressed', String(raised));
    helpButton.textContent = raised ? 'Hand raised — lower it' : 'Ask for help';
    host.dataset.help = raised ? 'raised' : 'lowered';
    if (raised) poll.start(refresh, HELP_POLL_MS);
    else poll.stop();
    if (was && !raised && doneByInstructor) {
      helpResult.textContent = 'The instructor marked your question done.';
      say('The instructor marked your question done.');
    } else if (!raised) helpResult.textContent = '';
  };
  const refresh = () => {
    if (host.dataset.readOnly === 'true' || host.dataset.watch) return;
    void fetch(PATHS.me, { credentials: 'same-origin', cache: 'no-store' })
      .then(async (res) => (res.ok ? MeResponse.safeParse(await res.json()) : undefined))
      .then((me) => {
        // An older gateway does not say: leave the button as it is.
        if (!me?.success || me.data.help === undefined || !host.isConnected) return;
        const raised = me.data.help !== null;
        if (raised !== isRaised()) showHand(raised, !raised);
      })
      .catch(() => undefined);
  };
  document.addEventListener(
    'visibilitychange',
    () => {
      if (document.visibilityState === 'visible' && isRaised()) refresh();
    },
    { signal },
  );
  helpButton.addEventListener(
    'click',
    () => {
      if (isRaised()) {
        void ask({ lab, cancel: true }).then((ok) => {
          if (ok) showHand(false);
        });
        return;
      }
      helpForm.hidden = !helpForm.hidden;
      if (!helpForm.hidden) helpForm.querySelector('input')?.focus();
    },
    { signal },
  );
  helpForm.addEventListener(
    'submit',
    (ev) => {
      ev.preventDefault();
      const note = new FormData(helpForm).get('note');
      void ask({ lab, note: typeof note === 'string' ? note : '' }).then((ok) => {
        if (!ok) {
          helpResult.textContent = 'Not sent: the lab server did not answer. Try again.';
          return;
        }
        helpForm.hidden = true;
        helpForm.reset();
        helpResult.textContent = '';
        showHand(true);
        term.focus();
      });
    },
    { signal },
  );
  return { refresh };
}
