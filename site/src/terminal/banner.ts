/**
 * The banner above the screen: the idle countdown (`env.idle`, with the Extend button), an instructor's broadcast
 * (`env.message`, for two minutes) and the notice that the lab was paused (`env.culled`).
 * @module
 */
import { Every, type Parts } from './parts.ts';

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
}

export function createBanner(
  { banner, bannerText, extend }: Pick<Parts, 'banner' | 'bannerText' | 'extend'>,
  signal: AbortSignal,
): Banner {
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
  };
}
