/**
 * The panels above the screen while there is no shell yet: an environment coming up (what starts, about how long
 * is left, how long the page has waited), a lab that cannot run on this machine (which driver, why, what to do),
 * and a page that cannot read what the lab server sent (reload it).
 * @module
 */
import type { Terminal } from '@xterm/xterm';
import type { ServerMessage } from '@xenlab/sandbox/protocol';
import { inlineNodes } from '../components/lab/inline-text.ts';
import { Every, type Parts } from './parts.ts';

/** What each driver starts, for "Starting a nested Xen host…". */
const STARTS: Record<string, string> = {
  'qemu-xen': 'a nested Xen host',
  docker: 'a lab container',
  local: 'the lab',
};

/** "45 s", "2 min 5 s". */
export function formatSeconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 120
    ? `${String(Math.floor(s / 60))} min${s % 60 ? ` ${String(s % 60)} s` : ''}`
    : `${String(s)} s`;
}

export type StartPhase = Extract<ServerMessage, { type: 'env.starting' }>;
export type QueuePlace = Extract<ServerMessage, { type: 'env.queued' }>;

/** "1st", "2nd", "3rd", "4th", "11th", "22nd". */
export function ordinal(n: number): string {
  const tens = n % 100;
  const suffix =
    tens >= 11 && tens <= 13 ? 'th' : n % 10 === 1 ? 'st' : n % 10 === 2 ? 'nd' : n % 10 === 3 ? 'rd' : 'th';
  return `${String(n)}${suffix}`;
}

/** "about 6 minutes", "about 1 minute", "under a minute", "about 2 hours". */
export function aboutText(ms: number): string {
  const min = Math.round(ms / 60_000);
  if (min < 1) return 'under a minute';
  if (min < 90) return `about ${String(min)} minute${min === 1 ? '' : 's'}`;
  return `about ${String(Math.round(min / 60))} hours`;
}

/**
 * The lines shown while the environment waits in line (the room is full for its driver): the place and about how
 * long (counted down from when the gateway said it), and what runs.
 * @example
 * queueText({ place: 4, etaMs: 360_000, running: 6, capacity: 6, waiting: 9, driver: 'qemu-xen' }, t, t)
 * // { title: 'You are 4th in line, about 6 minutes', detail: 'The room is full: 6 of 6 nested Xen hosts run…' }
 */
export function queueText(
  q: Omit<QueuePlace, 'type'>,
  receivedAt: number,
  now: number,
): { title: string; detail: string } {
  const left = Math.max(0, q.etaMs - (now - receivedAt));
  const noun = q.driver === 'qemu-xen' ? 'nested Xen hosts' : 'lab environments';
  return {
    title: `You are ${q.place === 1 ? 'next' : `${ordinal(q.place)} in line`}, ${aboutText(left)}`,
    detail: `The room is full: ${String(q.running)} of ${String(q.capacity)} ${noun} run on this machine. Your lab starts by itself when a place frees; keep this page open (leaving it leaves the line).`,
  };
}

/**
 * The lines shown while an environment comes up: what is starting and about how long is left (the current
 * phase's ETA), and how long the page has been waiting.
 * @example
 * startingText({ driver: 'qemu-xen', what: 'booting a Xen host', startedAt: t, etaMs: 90_000 }, t, t + 20_000)
 * // { title: 'Starting a nested Xen host… about 70 s', detail: 'booting a Xen host · 20 s elapsed', fraction: 0.22 }
 */
export function startingText(
  phase: Omit<StartPhase, 'type'> | undefined,
  since: number,
  now: number,
): { title: string; detail: string; fraction: number | undefined } {
  const elapsed = `${formatSeconds(now - since)} elapsed`;
  if (!phase) return { title: 'Starting the environment…', detail: elapsed, fraction: undefined };
  const noun = STARTS[phase.driver] ?? (phase.driver ? `the ${phase.driver} environment` : 'the environment');
  let title = `Starting ${noun}…`;
  let fraction: number | undefined;
  if (phase.etaMs !== undefined && phase.etaMs > 0) {
    const left = phase.startedAt + phase.etaMs - now;
    title += left > 0 ? ` about ${formatSeconds(left)}` : ' taking longer than usual';
    fraction = Math.min(0.99, Math.max(0, (now - phase.startedAt) / phase.etaMs));
  }
  return { title, detail: `${phase.what} · ${elapsed}`, fraction };
}

/** A permanent error's text without its stable code prefix, and the code. */
function splitCode(message: string): { code: string | undefined; text: string } {
  const m = /^([A-Z][A-Z0-9_]+): ([\s\S]*)$/.exec(message);
  const text = m?.[2] ?? message;
  return { code: m?.[1], text: text.charAt(0).toUpperCase() + text.slice(1) };
}

/** The status line, the screen and the panel's title when the page cannot read the lab server's messages. */
export const MISMATCH_TEXT = 'The page and the lab server disagree — reload the page';

export interface StartingPanels {
  /** The gateway said what is starting now (`env.starting`). */
  phase(msg: StartPhase): void;
  /** The environment waits in line (`env.queued`): its place and about how long. */
  queued(msg: QueuePlace): void;
  /** Shows the progress panel (counting the seconds) and returns its title, for the status line. */
  show(): string;
  hide(): void;
  /** The shell is there (`term.ready`): no panel, and the next wait starts afresh. */
  ready(): void;
  /** The lab cannot run here: the message (with its code) in place of the progress, and no input. */
  unavailable(message: string | undefined): void;
  /**
   * The page cannot read a message the lab server sent (`mismatch`): what to do, a Reload button, and `detail`
   * (which message, which field) for whoever debugs it; no input.
   */
  mismatch(detail: string): void;
}

export function startingPanels(
  host: HTMLElement,
  { progress, unavailable }: Pick<Parts, 'progress' | 'unavailable'>,
  term: Terminal,
  signal: AbortSignal,
): StartingPanels {
  // The current phase (from env.starting) and when the page began waiting.
  let phase: StartPhase | undefined;
  let waitingSince: number | undefined;
  let queue: { place: QueuePlace; at: number } | undefined;
  const timer = new Every(signal);
  const render = () => {
    const now = Date.now();
    const since = Math.min(waitingSince ?? now, phase?.startedAt ?? now);
    const { title, detail, fraction } = queue
      ? { ...queueText(queue.place, queue.at, now), fraction: undefined }
      : startingText(phase, since, now);
    host.dataset.queued = queue ? String(queue.place.place) : '';
    const [titleEl, detailEl, bar] = ['.xt-progress-title', '.xt-progress-detail', '.xt-progress-bar'].map(
      (sel) => progress.querySelector<HTMLElement>(sel),
    );
    if (titleEl) titleEl.textContent = title;
    if (detailEl) detailEl.textContent = detail;
    if (bar instanceof HTMLProgressElement) {
      if (fraction === undefined) bar.removeAttribute('value');
      else bar.value = fraction;
    }
    return title;
  };
  const noInput = () => {
    term.options.cursorBlink = false;
    term.options.disableStdin = true;
  };
  const hide = () => {
    timer.stop();
    progress.hidden = true;
    delete host.dataset.starting;
  };
  return {
    phase: (msg) => {
      phase = msg;
      queue = undefined;
    },
    queued: (msg) => {
      queue = { place: msg, at: Date.now() };
    },
    show: () => {
      waitingSince ??= Date.now();
      progress.hidden = false;
      host.dataset.starting = phase?.driver ?? '';
      timer.start(render, 1000);
      return render();
    },
    hide,
    ready: () => {
      hide();
      phase = undefined;
      queue = undefined;
      delete host.dataset.queued;
      waitingSince = undefined;
    },
    unavailable: (message) => {
      hide();
      const { code, text } = splitCode(message ?? 'The lab server cannot run this lab on this machine.');
      const title = unavailable.querySelector('.xt-unavailable-title');
      const body = unavailable.querySelector('.xt-unavailable-text');
      const codeEl = unavailable.querySelector('.xt-unavailable-code');
      if (title) title.textContent = 'This lab cannot run on this machine';
      body?.replaceChildren(...inlineNodes(text));
      if (codeEl)
        codeEl.textContent = code
          ? `${code} · reload this page once it is fixed`
          : 'Reload this page once it is fixed.';
      unavailable.hidden = false;
      noInput();
    },
    mismatch: (detail) => {
      hide();
      const title = unavailable.querySelector('.xt-unavailable-title');
      const body = unavailable.querySelector('.xt-unavailable-text');
      const codeEl = unavailable.querySelector('.xt-unavailable-code');
      if (title) title.textContent = MISMATCH_TEXT;
      body?.replaceChildren(
        'This page could not read a message from the lab server, so the terminal cannot go on. Reloading gets ' +
          'the page that matches the server; if this comes back, tell your instructor (it is a bug).',
        reloadButton(signal),
      );
      if (codeEl) codeEl.textContent = detail;
      unavailable.hidden = false;
      noInput();
    },
  };
}

/** "Reload the page": a button in the panel's text. */
function reloadButton(signal: AbortSignal): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'xt-reload';
  button.textContent = 'Reload the page';
  button.addEventListener(
    'click',
    () => {
      location.reload();
    },
    { signal },
  );
  return button;
}
