/**
 * Helpers for the security tests: a learner's environment on the real local driver (bubblewrap, cgroups, and as
 * root the learner uid, home image and network namespace), commands typed in its shell, and what the host sees.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LocalDriverOptions } from '../../sandbox/src/drivers/local/index.js';
import { createLearnerLocalDriver } from '../../sandbox/src/drivers/local/learner-tools.js';
import { isMounted } from '../../sandbox/src/drivers/local/home-image.js';
import { netnsName } from '../../sandbox/src/drivers/local/network.js';
import type {
  EnvironmentSpec,
  Sandbox,
  SandboxDriver,
  TerminalProcess,
} from '../../sandbox/src/drivers/types.js';
import { stripAnsi } from '../helpers/terminal-client.js';

/** True when these tests run as root (the conference-room gateway); the root-mode protections need it. */
export const asRoot = process.getuid?.() === 0;

/** A gateway-like data folder (root's, 0700) and the learners' environments made in it; `cleanup` undoes all. */
export class Lab {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'xenlab-sec-'));
  readonly driver: SandboxDriver;
  readonly #made: { sandbox: Sandbox; spec: EnvironmentSpec }[] = [];

  constructor(options: LocalDriverOptions = {}) {
    this.driver = createLearnerLocalDriver({
      jail: 'required',
      toolBinDir: join(this.dataDir, 'bin'),
      quotaCheckMs: 500,
      ...options,
    });
  }

  /** The home an environment id gets (the gateway's layout: <data>/envs/<id>/home). */
  home(id: string): string {
    return join(this.dataDir, 'envs', id, 'home');
  }

  /** Brings an environment up (again, after a detach: as after a gateway restart). */
  async env(id: string, extra: Partial<EnvironmentSpec> = {}): Promise<Sandbox> {
    const spec: EnvironmentSpec = { id, home: this.home(id), ...extra };
    const sandbox = await this.driver.create(spec);
    this.#made.push({ sandbox, spec });
    return sandbox;
  }

  /** Destroys every environment, then removes anything left (mounts, namespaces) and the data folder. */
  async cleanup(): Promise<void> {
    for (const { sandbox } of this.#made) await sandbox.destroy().catch(() => undefined);
    for (const { spec } of this.#made) {
      for (const p of [spec.home, `${resolve(spec.home)}.migrate`])
        if (existsSync(p) && isMounted(p)) spawnSync('umount', ['-l', p]);
      const ns = netnsName(spec.id);
      if (existsSync(`/run/netns/${ns}`)) spawnSync('ip', ['netns', 'delete', ns]);
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Runs a bash script in the environment (the same jail as its terminals); stdout and stderr together. */
export async function inJail(
  sandbox: Sandbox,
  script: string,
  timeoutMs = 30_000,
): Promise<{ code: number | null; out: string }> {
  const r = await sandbox.exec(['bash', '-c', script], { timeoutMs });
  return { code: r.code, out: r.stdout + r.stderr };
}

/** A learner's terminal: type, wait for output. */
export class Shell {
  readonly term: TerminalProcess;
  output = '';

  constructor(sandbox: Sandbox) {
    this.term = sandbox.attachTerminal({ cols: 120, rows: 40 });
    this.term.onData((d) => (this.output += d.toString('utf8')));
  }

  /** Types a command line and waits until `done` (a regexp over the plain output) shows. */
  async run(line: string, done: RegExp, timeoutMs = 20_000): Promise<string> {
    this.term.write(`${line}\r`);
    const t0 = Date.now();
    while (!done.test(stripAnsi(this.output))) {
      if (Date.now() - t0 > timeoutMs)
        throw new Error(
          `timed out waiting for ${String(done)}; output:\n${stripAnsi(this.output).slice(-2000)}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
    return stripAnsi(this.output);
  }

  close(): void {
    this.term.kill();
  }
}

/** The host's view of a process: its uids (real, effective, saved, fs) from /proc/<pid>/status. */
export function hostUids(pid: number): number[] {
  const line = readFileSync(`/proc/${String(pid)}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Uid:'));
  return (line ?? '').split(/\s+/).slice(1).filter(Boolean).map(Number);
}

/** Every descendant of a process (host pids), with its command name. */
export function descendants(pid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  const walk = (p: number) => {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${String(p)}/task`);
    } catch {
      return;
    }
    for (const t of tasks) {
      let kids: number[] = [];
      try {
        kids = readFileSync(`/proc/${String(p)}/task/${t}/children`, 'utf8')
          .split(' ')
          .filter(Boolean)
          .map(Number);
      } catch {
        // gone
      }
      for (const k of kids) {
        try {
          out.push({ pid: k, comm: readFileSync(`/proc/${String(k)}/comm`, 'utf8').trim() });
        } catch {
          continue;
        }
        walk(k);
      }
    }
  };
  walk(pid);
  return out;
}
