/**
 * A progress bar for long work, drawn on stderr only when stderr is a terminal (pipes and logs stay clean), at most
 * ten times a second, and erased when the work ends so the summary that follows starts on a clean line.
 */
import type { ToolIo } from './context.js';

/** A running progress bar. */
export interface Progress {
  /** Counts `n` finished items (failed ones too: they are done). */
  tick(n?: number): void;
  /** Changes the label (e.g. the phase). */
  label(text: string): void;
  /** Erases the bar. */
  done(): void;
}

const WIDTH = 24;

/**
 * Starts a progress bar of `total` items.
 * @example
 * const bar = createProgress(io, 'cloning', 1000, () => performance.now());
 * bar.tick(); bar.done();
 */
export function createProgress(io: ToolIo, label: string, total: number, now: () => number): Progress {
  const started = now();
  let count = 0;
  let text = label;
  let lastDraw = -Infinity;
  let drawn = false;
  const draw = (force: boolean): void => {
    if (!io.stderrIsTTY) return;
    const t = now();
    if (!force && t - lastDraw < 100) return;
    lastDraw = t;
    const frac = total > 0 ? Math.min(1, count / total) : 1;
    const filled = Math.round(frac * WIDTH);
    const secs = (t - started) / 1000;
    const rate = secs > 0 ? count / secs : 0;
    const eta = rate > 0 ? Math.ceil((total - count) / rate) : undefined;
    const line =
      `${text} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ` +
      `${count}/${total} ${rate.toFixed(1)}/s${eta === undefined ? '' : ` eta ${eta}s`}`;
    io.stderr(`\r\x1b[K${line.slice(0, Math.max(20, io.columns - 1))}`);
    drawn = true;
  };
  draw(true);
  return {
    tick(n = 1) {
      count += n;
      draw(count >= total);
    },
    label(next) {
      text = next;
      draw(true);
    },
    done() {
      if (drawn) io.stderr('\r\x1b[K');
      drawn = false;
    },
  };
}
