/**
 * Runs `xenlab-tools` in-process against a real simulator on port 0, capturing what a user would see.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type RunningSimulator } from '../../../sandbox/src/sim/index.js';
import { localFiles, runTools } from '../../../toolkit/src/tools/index.js';
import { createClient, type XapiClient } from '../../../toolkit/src/xenapi/index.js';

/** What one run printed and returned. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A simulator plus helpers for running tools against it. */
export interface ToolsLab {
  readonly sim: RunningSimulator;
  readonly dir: string;
  readonly client: XapiClient;
  /** Runs a tool with the simulator as its pool (via XENLAB_* environment variables). */
  run(
    argv: readonly string[],
    options?: {
      env?: Record<string, string>;
      tty?: boolean;
      signal?: AbortSignal;
      keys?: AsyncIterable<string>;
    },
  ): Promise<RunResult>;
  /** Reruns a tool until its result satisfies `done` (metrics arrive every 5 s), failing after a deadline. */
  until(argv: readonly string[], done: (r: RunResult) => boolean, deadlineMs?: number): Promise<RunResult>;
  /** POSTs to the simulator's control API. */
  control(path: string, body?: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** Starts a seeded simulator and a scratch directory. */
export async function startLab(seed = 'tools'): Promise<ToolsLab> {
  const sim = await startSimulator({ port: 0, fast: true, seed });
  const dir = mkdtempSync(join(tmpdir(), 'xenlab-tools-'));
  const client = createClient({ url: sim.url, user: 'root', password: 'xenlab' });
  const lab: ToolsLab = {
    sim,
    dir,
    client,
    async run(argv, options = {}) {
      let stdout = '';
      let stderr = '';
      const code = await runTools(argv, {
        io: {
          stdout: (s) => (stdout += s),
          stderr: (s) => (stderr += s),
          stdoutIsTTY: options.tty ?? false,
          stderrIsTTY: options.tty ?? false,
          columns: 120,
          rows: 40,
        },
        files: localFiles,
        env: { XENLAB_URL: sim.url, XENLAB_PASSWORD: 'xenlab', ...options.env },
        now: () => performance.now(),
        createClient,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.keys ? { keys: options.keys } : {}),
      });
      return { code, stdout, stderr };
    },
    async until(argv, done, deadlineMs = 20_000) {
      const end = Date.now() + deadlineMs;
      for (;;) {
        const r = await lab.run(argv);
        if (done(r)) return r;
        if (Date.now() > end)
          throw new Error(
            `no run of ${argv.join(' ')} satisfied the condition; last:\n${r.stdout}${r.stderr}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    async control(path, body = {}) {
      const res = await fetch(new URL(path, sim.controlUrl), {
        method: 'POST',
        headers: { authorization: `Bearer ${sim.controlToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`control ${path}: ${res.status} ${text}`);
      return JSON.parse(text) as unknown;
    },
    async close() {
      await client.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return lab;
}
