// Progress for the build steps `npm start` and `npm run build` run: a line saying what runs, then either a spinner
// with the seconds elapsed (a terminal) or a "still …" line every 15 s (a log), and a summary when it ends. The
// step's own output is kept and shown in full only if it fails (or summarised by the step's `summary`).
import { spawn } from 'node:child_process';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** Seconds, as people read them: `4.2 s`, `93 s`. */
export const seconds = (ms) =>
  ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${String(Math.round(ms / 1000))} s`;

/**
 * Runs one step and reports on it.
 * @param {object} step
 * @param {string} step.label what runs, as a learner reads it ("building the course site (first start, ~90 s)")
 * @param {string} step.cmd
 * @param {string[]} step.args
 * @param {string} [step.cwd]
 * @param {(output: string) => string | undefined} [step.summary] one line from the step's output, shown when done
 * @param {{ write(s: string): unknown, isTTY?: boolean }} [step.out] where to report (default: stdout)
 * @param {boolean} [step.tty] spinner (default: whether `out` is a terminal; XENLAB_PROGRESS=plain|tty forces it)
 * @param {number} [step.heartbeatMs] how often a log gets a "still …" line
 * @returns {Promise<{ ok: boolean, code: number | null, output: string, ms: number }>}
 */
export function runStep({ label, cmd, args, cwd, summary, out = process.stdout, tty, heartbeatMs = 15_000 }) {
  const forced = process.env.XENLAB_PROGRESS;
  const spinner = tty ?? (forced === 'tty' ? true : forced === 'plain' ? false : out.isTTY === true);
  const started = Date.now();
  let output = '';
  if (!spinner) out.write(`build: ${label}…\n`);
  let frame = 0;
  const tick = () => {
    const line = `${FRAMES[frame++ % FRAMES.length]} ${label} ${seconds(Date.now() - started)}`;
    out.write(`\r\x1b[2K${line}`);
  };
  if (spinner) tick();
  const timer = spinner
    ? setInterval(tick, 100)
    : setInterval(() => {
        out.write(`build: still ${label.replace(/ \(.*\)$/, '')} (${seconds(Date.now() - started)})\n`);
      }, heartbeatMs);
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const finish = (code) => {
      clearInterval(timer);
      const ms = Date.now() - started;
      const ok = code === 0;
      const name = label.replace(/ \(.*\)$/, '');
      const said = ok ? summary?.(output) : undefined;
      const line = ok
        ? `✓ ${name} (${seconds(ms)})${said ? `: ${said}` : ''}`
        : `✗ ${name} failed after ${seconds(ms)}`;
      out.write(spinner ? `\r\x1b[2K${line}\n` : `build: ${line}\n`);
      if (!ok && output.trim()) out.write(`${output.trimEnd()}\n`);
      resolvePromise({ ok, code, output, ms });
    };
    child.on('error', (err) => {
      output += String(err);
      finish(null);
    });
    child.on('close', finish);
  });
}

/** What Astro's build output says in one line: pages built and how long Astro took. */
export function astroSummary(output) {
  const pages = /(\d+) page\(s\) built/.exec(output);
  return pages ? `${pages[1]} pages` : undefined;
}

/** What `tsc` says in one line: nothing means no errors. */
export function tscSummary(output) {
  const errors = output.match(/error TS\d+/g)?.length ?? 0;
  return errors ? `${String(errors)} errors` : 'no type errors';
}
