/**
 * The banner above the screen: the idle countdown (`env.idle`, with the Extend button), an instructor's broadcast
 * (`env.message`, for two minutes) and the notice that the lab was paused (`env.culled`). Besides it, the
 * instructor's pacing (issue #16): the countdown in the bar (mm:ss, then "Time's up") and the panel shown instead
 * of the screen while the instructor has the lab locked.
 * @module
 */
import './pace.css';
import { mmss, onPace, timeLeft, type PaceSnapshot } from './pace.ts';
import { Every, announcer, type Parts } from './parts.ts';

/** How long an instructor's message stays, unless something else takes the banner meanwhile. */
const MESSAGE_MS = 120_000;

export interface Banner {
  /** The learner has been away: count down to the pause, with Extend. */
  idle(cullAt: number): void;
  /** An instructor's broadcast. */
  message(text: string): void;
  /** The lab was paused to free the machine. */
  culled(): void;
  /** The shell is back (`term.ready`): a notice goes, a countdown (Extend shown) stays until `env.active`. */
  ready(): void;
  hide(): void;
  /** The instructor has this lab locked (the text says so), or no longer (null). */
  locked(text: string | null): void;
}

/** Under this much time left (ms) the countdown changes colour. */
const LOW_MS = 60_000;

/**
 * The instructor's countdown in the bar: from the page's pacing (pushed on the socket or polled), counted down on
 * this page's clock. The first terminal of a page says the start and "Time's up" to screen readers, once.
 */
function attachTimer(timer: HTMLElement, announce: HTMLElement | null, signal: AbortSignal): void {
  const label = timer.querySelector<HTMLElement>('.xt-timer-label');
  const time = timer.querySelector<HTMLElement>('.xt-timer-time');
  const say = announcer(announce);
  const ticking = new Every(signal);
  const speaks = () => timer.closest('xenlab-terminal') === document.querySelector('xenlab-terminal');
  let last: PaceSnapshot | undefined;
  let wasUp = false;
  /** The countdown shown (its length and label): a new one is said once. */
  let shown: string | undefined;
  const set = (el: HTMLElement | null, text: string) => {
    if (el && el.textContent !== text) el.textContent = text;
  };
  const render = () => {
    const s = last;
    const left = s ? timeLeft(s) : undefined;
    const t = s?.pace.timer;
    if (left === undefined || !t) {
      ticking.stop();
      timer.hidden = true;
      wasUp = false;
      shown = undefined;
      return;
    }
    const up = left <= 0;
    set(label, t.label);
    set(time, up ? "Time's up" : mmss(left));
    timer.dataset.state = up ? 'up' : left <= LOW_MS ? 'low' : 'running';
    timer.setAttribute(
      'aria-label',
      `${t.label ? `${t.label}: ` : ''}${up ? "time's up" : `${mmss(left)} left`}`,
    );
    timer.hidden = false;
    const key = `${String(t.durationMs)}\n${t.label}`;
    if (shown !== key && !up && speaks())
      say(`Your instructor started a countdown: ${mmss(left)}${t.label ? ` for ${t.label}` : ''}.`);
    shown = key;
    if (up && !wasUp) {
      ticking.stop();
      if (speaks()) say(`Time's up${t.label ? `: ${t.label}` : ''}.`);
    }
    wasUp = up;
  };
  const stop = onPace((s) => {
    last = s;
    render();
    if (s.pace.timer && (timeLeft(s) ?? 0) > 0) ticking.start(render, 250);
  });
  signal.addEventListener('abort', stop, { once: true });
}

export function createBanner(
  {
    banner,
    bannerText,
    extend,
    timer,
    locked,
    announce,
  }: Pick<Parts, 'banner' | 'bannerText' | 'extend' | 'timer' | 'locked' | 'announce'>,
  signal: AbortSignal,
): Banner {
  attachTimer(timer, announce, signal);
  const countdown = new Every(signal);
  const hide = () => {
    countdown.stop();
    banner.hidden = true;
  };
  const show = (text: string, withExtend: boolean) => {
    bannerText.textContent = text;
    extend.hidden = !withExtend;
    banner.hidden = false;
  };
  return {
    idle: (cullAt) => {
      const tick = () => {
        const s = Math.max(0, Math.round((cullAt - Date.now()) / 1000));
        const left = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
        show(
          `You have been away a while: this lab pauses in ${left} to free the machine. Your files are kept.`,
          true,
        );
      };
      countdown.stop();
      tick();
      countdown.start(tick, 1000);
    },
    message: (text) => {
      countdown.stop();
      const shown = `Instructor: ${text}`;
      show(shown, false);
      window.setTimeout(() => {
        if (bannerText.textContent === shown) hide();
      }, MESSAGE_MS);
    },
    culled: () => {
      countdown.stop();
      show('This lab was paused to free the machine. It comes back as you left it.', false);
    },
    ready: () => {
      if (extend.hidden) hide();
    },
    hide,
    locked: (text) => {
      const title = locked.querySelector('.xt-locked-title');
      if (title && text !== null) title.textContent = text;
      locked.hidden = text === null;
    },
  };
}
