/**
 * The markup of `<xenlab-terminal>` (rendered by components/Terminal.astro): the parts the element drives, found
 * once; the live region that speaks to screen readers; a repeating timer that stops with the element.
 * @module
 */

/** The element's parts. Newer ones are optional or made here, so an older page's markup still works. */
export interface Parts {
  readonly screen: HTMLDivElement;
  /** The status line of the bar: the connection's state in words. */
  readonly status: HTMLSpanElement;
  /** The screen reader mode toggle. */
  readonly srButton: HTMLButtonElement;
  /** The idle countdown, an instructor's message, the paused notice (banner.ts). */
  readonly banner: HTMLDivElement;
  readonly bannerText: HTMLSpanElement;
  readonly extend: HTMLButtonElement;
  /** The course code form, shown while the connection waits for the learner to join. */
  readonly joinForm: HTMLFormElement;
  readonly joinError: HTMLSpanElement;
  /** The raised hand (help.ts). */
  readonly helpButton: HTMLButtonElement;
  readonly helpForm: HTMLFormElement;
  readonly helpResult: HTMLSpanElement;
  /** A polite live region (optional). */
  readonly announce: HTMLElement | null;
  /** The keyboard hint in the bar and its full sentence (optional). */
  readonly keysHint: HTMLElement | null;
  readonly keysDesc: HTMLElement | null;
  /** While the environment comes up: what starts, the time left and the time elapsed (made if missing). */
  readonly progress: HTMLElement;
  /** The lab cannot run on this machine: which driver, why, what to do (made if missing). */
  readonly unavailable: HTMLElement;
  /** The instructor's countdown, in the bar (made if missing; banner.ts). */
  readonly timer: HTMLElement;
  /** The instructor locked this lab: shown instead of the screen until it is unlocked (made if missing). */
  readonly locked: HTMLElement;
}

function need<K extends keyof HTMLElementTagNameMap>(
  root: Element,
  tag: K,
  cls: string,
): HTMLElementTagNameMap[K] {
  const el = root.querySelector(`${tag}.${cls}`);
  if (!el) throw new Error(`xenlab-terminal: missing ${tag}.${cls}`);
  return el as HTMLElementTagNameMap[K];
}

/** A part of the markup, made (before `at`, or after it) when an older page's markup lacks it. */
function part(
  root: Element,
  at: Element,
  cls: string,
  html: string,
  where: 'before' | 'after' = 'before',
): HTMLElement {
  const found = root.querySelector<HTMLElement>(`.${cls}`);
  if (found) return found;
  const tpl = document.createElement('template');
  tpl.innerHTML = html;
  const el = tpl.content.firstElementChild as HTMLElement;
  if (where === 'before') at.before(el);
  else at.after(el);
  return el;
}

/** Finds the parts of `root` (throws when a required one is missing). */
export function findParts(root: HTMLElement): Parts {
  const screen = need(root, 'div', 'xt-screen');
  const status = need(root, 'span', 'xt-status');
  return {
    screen,
    status,
    srButton: need(root, 'button', 'xt-sr'),
    banner: need(root, 'div', 'xt-banner'),
    bannerText: need(root, 'span', 'xt-banner-text'),
    extend: need(root, 'button', 'xt-extend'),
    joinForm: need(root, 'form', 'xt-join'),
    helpButton: need(root, 'button', 'xt-help'),
    helpForm: need(root, 'form', 'xt-help-form'),
    helpResult: need(root, 'span', 'xt-help-result'),
    joinError: need(root, 'span', 'xt-join-error'),
    announce: root.querySelector<HTMLElement>('.xt-announce'),
    keysHint: root.querySelector<HTMLElement>('.xt-keys'),
    keysDesc: root.querySelector<HTMLElement>('.xt-keys-desc'),
    // Not a live region: the status line says it once per phase.
    progress: part(
      root,
      screen,
      'xt-progress',
      '<div class="xt-progress" hidden><span class="xt-progress-title"></span> ' +
        '<span class="xt-progress-detail"></span><progress class="xt-progress-bar" max="1"></progress></div>',
    ),
    unavailable: part(
      root,
      screen,
      'xt-unavailable',
      '<div class="xt-unavailable" role="alert" hidden><strong class="xt-unavailable-title"></strong>' +
        '<p class="xt-unavailable-text"></p><p class="xt-unavailable-code"></p></div>',
    ),
    // A timer role is not read out every second; banner.ts says the start and the end once.
    timer: part(
      root,
      status,
      'xt-timer',
      '<span class="xt-timer" role="timer" hidden><span class="xt-timer-label"></span> ' +
        '<span class="xt-timer-time"></span></span>',
      'after',
    ),
    locked: part(
      root,
      screen,
      'xt-locked',
      '<div class="xt-locked" role="status" hidden><strong class="xt-locked-title"></strong>' +
        '<p class="xt-locked-text">Read the guide meanwhile: this page opens the lab by itself, no need to ' +
        'reload.</p></div>',
    ),
  };
}

/** Says a sentence to screen readers through the live region (if the markup has one). */
export type Say = (text: string) => void;

export function announcer(announce: HTMLElement | null): Say {
  return (text) => {
    if (!announce) return;
    // Cleared first, so the same sentence twice is read twice.
    announce.textContent = '';
    window.setTimeout(() => {
      announce.textContent = text;
    }, 50);
  };
}

/** A repeating timer: `start` replaces the running one; once `signal` aborts (the element is torn down) it never runs. */
export class Every {
  #id = 0;
  readonly #signal: AbortSignal;

  constructor(signal: AbortSignal) {
    this.#signal = signal;
    signal.addEventListener(
      'abort',
      () => {
        this.stop();
      },
      { once: true },
    );
  }

  start(tick: () => void, ms: number): void {
    this.stop();
    if (!this.#signal.aborted) this.#id = window.setInterval(tick, ms);
  }

  stop(): void {
    window.clearInterval(this.#id);
  }
}
