/**
 * Runs `xe` in-process against a real simulator: `main()` with captured stdout/stderr and the toolkit's client.
 */
import { startSimulator, type RunningSimulator } from '../../../sandbox/src/sim/index.js';
import { createClient } from '../../../toolkit/src/xenapi/index.js';
import { main } from '../../../toolkit/src/xe/main.js';

/** The seed of the golden outputs: uuids and MACs depend on it. */
export const SEED = 'xe-golden';

/** What one `xe` run printed. */
export interface XeResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A simulator plus an `xe(...)` function bound to it (`-s`/`-p`/`-u`/`-pw` given as the real xe reads them). */
export interface XeHarness {
  readonly sim: RunningSimulator;
  readonly port: string;
  xe(...args: string[]): Promise<XeResult>;
  /** Like `xe`, but fails the test unless the exit code is 0; returns stdout. */
  ok(...args: string[]): Promise<string>;
  close(): Promise<void>;
}

/** Runs `xe` in-process with exactly these arguments, files and environment (no connection flags added). */
export async function runXe(
  argv: readonly string[],
  options: { files?: Record<string, string>; env?: Record<string, string>; input?: string } = {},
): Promise<XeResult> {
  let stdout = '';
  let stderr = '';
  const files = options.files ?? {};
  const code = await main({
    argv,
    io: {
      stdout: (s) => {
        stdout += s;
      },
      stderr: (s) => {
        stderr += s;
      },
    },
    env: options.env ?? {},
    readFile: (p) => files[p],
    readLine: () => Promise.resolve(options.input ?? ''),
    createClient: (o) => createClient(o),
  });
  return { code, stdout, stderr };
}

export async function startXe(
  options: { seed?: string; files?: Record<string, string>; env?: Record<string, string> } = {},
): Promise<XeHarness> {
  const sim = await startSimulator({ port: 0, fast: true, seed: options.seed ?? SEED });
  const port = new URL(sim.url).port;
  const files = options.files ?? {};
  const xe = (...args: string[]): Promise<XeResult> =>
    runXe(['-s', '127.0.0.1', '-p', port, '-u', 'root', '-pw', 'xenlab', ...args], {
      files,
      env: { HOME: '/nonexistent-home', ...(options.env ?? {}) },
      input: 'yes\n',
    });
  return {
    sim,
    port,
    xe,
    async ok(...args) {
      const r = await xe(...args);
      if (r.code !== 0) throw new Error(`xe ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    close: () => sim.close(),
  };
}

/**
 * The transcript of a golden test over several pools: each `xe` run as root on one simulator, its line tagged with
 * the pool (`[east] $ xe …`), then what it printed and its exit code; ports masked in {@link text}.
 * @example
 * const t = new PoolsTranscript();
 * const e = (...a: string[]) => t.run('east', east, 'east-pw', ...a);
 */
export class PoolsTranscript {
  #text = '';

  async run(where: string, on: RunningSimulator, password: string, ...args: string[]): Promise<string> {
    const port = new URL(on.url).port;
    const r = await runXe(['-s', '127.0.0.1', '-p', port, '-u', 'root', '-pw', password, ...args], {
      env: { HOME: '/nonexistent-home' },
    });
    this.#text += `[${where}] $ xe ${args.map((a) => (/[\s;<>]/.test(a) ? `'${a}'` : a)).join(' ')}\n`;
    this.#text += r.stdout;
    if (r.stderr !== '') this.#text += `[stderr]\n${r.stderr}`;
    this.#text += `[exit ${String(r.code)}]\n\n`;
    return r.stdout;
  }

  get text(): string {
    return this.#text.replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:<port>');
  }
}
