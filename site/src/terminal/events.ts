/**
 * What the connection's events do to the page: output to xterm.js, the gateway's messages to the screen, the bar,
 * the banner and the panels, and the connection's state to the status line.
 * @module
 */
import type { Terminal } from '@xterm/xterm';
import { PERMANENT_ERRORS, type ServerMessage } from '@xenlab/sandbox/protocol';
import type { Banner } from './banner.ts';
import type { ConnectionEvents, ConnectionState } from './connection.ts';
import type { Parts } from './parts.ts';
import { MISMATCH_TEXT, type StartingPanels } from './starting.ts';

export interface View {
  readonly host: HTMLElement;
  readonly parts: Parts;
  readonly term: Terminal;
  readonly banner: Banner;
  readonly starting: StartingPanels;
  /** Stops refitting the screen to the element (a watcher shows the learner's size). */
  readonly stopFitting: () => void;
}

/** The events a `TerminalConnection` reports, as this view shows them. */
export function connectionEvents(view: View): ConnectionEvents {
  // The message of a permanent refusal, shown in the panel once the connection says `unavailable`.
  const refusal: { message?: string } = {};
  return {
    output: (data, done) => {
      view.term.write(data, done);
    },
    reset: () => {
      view.term.reset();
    },
    message: (msg) => {
      onMessage(view, msg, refusal);
    },
    state: (state, detail) => {
      onState(view, state, detail, refusal.message);
    },
  };
}

function onMessage(view: View, msg: ServerMessage, refusal: { message?: string }): void {
  const { host, parts, term, banner, starting } = view;
  switch (msg.type) {
    case 'term.ready':
      starting.ready();
      banner.ready();
      if (msg.notice) term.write(`\x1b[33m${msg.notice}\x1b[0m\r\n`);
      if (msg.readOnly) {
        parts.status.textContent = 'Watching (read only)';
        host.dataset.readOnly = 'true';
        parts.helpButton.hidden = true;
        // The learner's size, not this window's: their lines wrap where they wrap for them.
        if (msg.size) {
          view.stopFitting();
          term.resize(msg.size.cols, msg.size.rows);
        }
      }
      break;
    case 'term.size':
      if (host.dataset.readOnly === 'true') term.resize(msg.cols, msg.rows);
      break;
    case 'env.message':
      banner.message(msg.text);
      break;
    case 'error':
      if (PERMANENT_ERRORS.includes(msg.code)) {
        // Said once, plainly, where the learner looks; the socket closes next and nothing retries.
        refusal.message = msg.message;
        term.write(
          `\r\n\x1b[1;31m[xenlab] This lab cannot run on this machine.\x1b[0m\r\n` +
            `\x1b[31m${msg.message}\x1b[0m\r\n\x1b[2mReload this page once it is fixed.\x1b[0m\x1b[?25l\r\n`,
        );
        break;
      }
      term.write(`\r\n\x1b[31m[xenlab] ${msg.message}\x1b[0m\r\n`);
      break;
    case 'env.starting':
      starting.phase(msg);
      break;
    case 'env.queued':
      starting.queued(msg);
      break;
    case 'env.seat':
      // The instructor's mode for this lab: a shared demo (watching, read only) or a table (who shares it).
      host.dataset.seat = msg.mode;
      parts.status.textContent = msg.text;
      if (msg.readOnly) {
        host.dataset.readOnly = 'true';
        parts.helpButton.hidden = true;
      }
      break;
    case 'term.exit':
      term.write('\r\n\x1b[2m[shell exited — press Enter for a new one]\x1b[0m\r\n');
      break;
    case 'env.idle':
      banner.idle(msg.cullAt);
      break;
    case 'env.active':
      banner.hide();
      break;
    case 'env.culled':
      banner.culled();
      break;
    case 'room.pace':
      // The connection fed the page's pacing store (pace.ts); the bar's countdown and the page's banner follow it.
      break;
    case 'pong':
      break;
  }
}

function onState(view: View, state: ConnectionState, detail: string, refusal: string | undefined): void {
  const { host, parts, starting } = view;
  parts.status.dataset.state = state;
  parts.status.textContent = detail;
  host.dataset.state = state;
  parts.joinForm.hidden = state !== 'join';
  view.banner.locked(state === 'locked' ? detail : null);
  if (state === 'locked') {
    starting.hide();
    parts.status.textContent = 'Waiting for your instructor to unlock this lab';
  } else if (state === 'starting') {
    // Read out once per phase; the panel above the screen counts the seconds.
    parts.status.textContent = starting.show();
  } else if (state === 'unavailable') {
    starting.unavailable(refusal);
    parts.status.textContent = 'This lab cannot run on this machine';
  } else if (state === 'mismatch') {
    // The detail (which message, which field) goes in the panel's small print; the console has the rest.
    starting.mismatch(detail);
    parts.status.textContent = MISMATCH_TEXT;
    view.term.write(`\r\n\x1b[1;31m[xenlab] ${MISMATCH_TEXT}.\x1b[0m\x1b[?25l\r\n`);
  } else if (state !== 'connecting') starting.hide();
}
