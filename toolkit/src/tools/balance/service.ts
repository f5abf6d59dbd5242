/**
 * `balance start|stop|status`: the balancer as a service in the learner's environment (a jail with a home folder and
 * no systemd). `start` runs `xenlab-tools balance` detached (its own session, so closing the terminal does not stop
 * it), output appended to `<dir>/balance.log`; the running balancer writes `<dir>/service.json` (pid, policy, since)
 * once its first reading of the pool worked and removes it when it stops. `stop` sends SIGTERM — the balancer
 * finishes the move in flight and exits 0 — and waits for it; `status` says running or stopped and shows the last
 * decisions from `<dir>/decisions.jsonl`.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ToolContext } from '../context.js';
import { ToolError, ToolErrorCode } from '../errors.js';

/** Files of the service. */
export interface ServicePaths {
  readonly dir: string;
  /** Written by the running balancer: {@link ServiceInfo}. */
  readonly state: string;
  /** stdout and stderr of the detached balancer. */
  readonly out: string;
  /** One JSON line per decision (dry run or not). */
  readonly decisions: string;
}

/** What `service.json` holds. */
export interface ServiceInfo {
  readonly pid: number;
  readonly since: string;
  readonly policy: string;
  readonly dryRun: boolean;
  readonly interval: number;
  readonly url: string;
  readonly log: string;
  readonly originator: string;
}

/** One line of `decisions.jsonl`. */
export interface LoggedDecision {
  readonly at: string;
  readonly poolTime: number;
  readonly outcome: 'recommended' | 'moved' | 'failed' | 'not started';
  readonly vm: string;
  readonly vmUuid: string;
  readonly from: string;
  readonly to: string;
  readonly reason: string;
  readonly level: string;
  readonly why: Readonly<Record<string, unknown>>;
  readonly seconds?: number;
  readonly error?: string;
}

/** The service's files under `dir` (default `~/.xenlab/balance`). */
export function servicePaths(dir: string): ServicePaths {
  const d = resolve(dir);
  return {
    dir: d,
    state: join(d, 'service.json'),
    out: join(d, 'balance.log'),
    decisions: join(d, 'decisions.jsonl'),
  };
}

/** The environment variable that tells a balancer it runs as the service (its value: the service directory). */
export const SERVICE_ENV = 'XENLAB_BALANCE_SERVICE';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A recycled pid is someone else: on Linux, check it still runs the balancer.
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('balance');
  } catch {
    return true;
  }
}

/** The running service, if any (a stale `service.json` of a process gone counts as stopped). */
export function runningService(paths: ServicePaths): ServiceInfo | undefined {
  let info: ServiceInfo;
  try {
    info = JSON.parse(readFileSync(paths.state, 'utf8')) as ServiceInfo;
  } catch {
    return undefined;
  }
  return Number.isInteger(info.pid) && info.pid > 0 && alive(info.pid) ? info : undefined;
}

/** Called by the balancer once its first reading worked, when it runs as the service. */
export function markRunning(paths: ServicePaths, info: ServiceInfo): void {
  mkdirSync(paths.dir, { recursive: true });
  writeFileSync(paths.state, `${JSON.stringify(info, null, 2)}\n`);
}

/** Called by the balancer as it stops. */
export function markStopped(paths: ServicePaths, pid: number): void {
  try {
    const info = JSON.parse(readFileSync(paths.state, 'utf8')) as ServiceInfo;
    if (info.pid === pid) rmSync(paths.state, { force: true });
  } catch {
    // Already gone: nothing to clean.
  }
}

/** The last `n` lines of a text file ('' when it does not exist). */
function tail(path: string, n: number): string[] {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n);
  } catch {
    return [];
  }
}

/** The last decisions logged, newest last. */
export function lastDecisions(paths: ServicePaths, n: number): LoggedDecision[] {
  const out: LoggedDecision[] = [];
  for (const line of tail(paths.decisions, n)) {
    try {
      out.push(JSON.parse(line) as LoggedDecision);
    } catch {
      // A line cut by a crash: skip it.
    }
  }
  return out;
}

/** One logged decision as a line. */
export function decisionLine(d: LoggedDecision): string {
  const what = d.reason === 'maintenance' ? 'maintenance' : `${d.reason} ${d.level}`;
  const outcome =
    d.outcome === 'moved'
      ? `moved${d.seconds === undefined ? '' : ` in ${d.seconds.toFixed(1)} s`}`
      : d.outcome === 'failed'
        ? `FAILED: ${d.error ?? ''}`
        : d.outcome;
  return `${d.at.slice(0, 19).replace('T', ' ')}Z  ${d.vm}: ${d.from} → ${d.to} (${what}) ${outcome}`;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `balance status`: 0 when running, 3 when stopped. */
export function serviceStatus(ctx: ToolContext, paths: ServicePaths, json: boolean): number {
  const info = runningService(paths);
  const last = lastDecisions(paths, 10);
  if (json) {
    ctx.io.stdout(
      `${JSON.stringify({ running: info !== undefined, ...(info ? { service: info } : {}), dir: paths.dir, lastDecisions: last }, null, 2)}\n`,
    );
    return info ? 0 : 3;
  }
  const lines = info
    ? [
        `balance: running (pid ${info.pid}, since ${info.since}${info.dryRun ? ', dry run' : ''})`,
        `  policy:   ${info.policy} (every ${info.interval} s)`,
        `  pool:     ${info.url} (sessions with originator ${info.originator})`,
        `  output:   ${paths.out}`,
        `  log:      ${info.log}`,
      ]
    : [`balance: stopped${existsSync(paths.out) ? ` (last output in ${paths.out})` : ''}`];
  lines.push(
    last.length ? 'last decisions:' : 'no decisions logged yet',
    ...last.map((d) => `  ${decisionLine(d)}`),
  );
  ctx.io.stdout(`${lines.join('\n')}\n`);
  return info ? 0 : 3;
}

/** `balance stop`: SIGTERM, then wait (the move in flight finishes first). */
export async function stopService(ctx: ToolContext, paths: ServicePaths, timeoutS: number): Promise<number> {
  const info = runningService(paths);
  if (!info) {
    ctx.io.stdout('balance: not running\n');
    return 0;
  }
  process.kill(info.pid, 'SIGTERM');
  const end = Date.now() + timeoutS * 1000;
  while (alive(info.pid)) {
    if (Date.now() > end)
      throw new ToolError(
        ToolErrorCode.conflict,
        `balance (pid ${info.pid}) still runs ${timeoutS} s after SIGTERM (a long migration?); wait, or kill -KILL ${info.pid}`,
      );
    await sleep(100);
  }
  ctx.io.stdout(`balance: stopped (pid ${info.pid})\n`);
  return 0;
}

/** The command a detached balancer runs: this toolkit's own `xenlab-tools`. */
function toolsBin(): string {
  // src/tools/balance and dist/tools/balance are both three levels below the toolkit.
  return fileURLToPath(new URL('../../../bin/xenlab-tools.mjs', import.meta.url));
}

/** What `start` passes on to the detached balancer. */
export interface StartOptions {
  readonly policy: string;
  readonly interval: number;
  readonly dryRun: boolean;
  readonly perHost: boolean;
  readonly log: string;
}

/** `balance start`: runs the balancer detached and waits until it has read the pool once (or failed). */
export async function startService(ctx: ToolContext, paths: ServicePaths, o: StartOptions): Promise<number> {
  const target = ctx.target;
  if (!target) throw new Error('balance start needs a pool');
  const running = runningService(paths);
  if (running)
    throw new ToolError(
      ToolErrorCode.conflict,
      `balance already runs (pid ${running.pid}, since ${running.since}); \`xenlab-tools balance stop\` first`,
    );
  mkdirSync(paths.dir, { recursive: true });
  rmSync(paths.state, { force: true });
  const fd = openSync(paths.out, 'a');
  const args = [
    toolsBin(),
    'balance',
    '--policy',
    resolve(o.policy),
    '--interval',
    String(o.interval),
    '--state-dir',
    paths.dir,
    '--log',
    resolve(o.log),
    ...(o.dryRun ? ['--dry-run'] : []),
    ...(o.perHost ? ['--per-host'] : []),
    ...(target.allowUnauthorized ? ['--insecure'] : []),
  ];
  let exited: number | null | undefined;
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    cwd: paths.dir,
    // The password travels in the environment, never on a command line others can read.
    env: {
      ...ctx.env,
      XENLAB_URL: target.url,
      XENLAB_USER: target.user,
      XENLAB_PASSWORD: target.password,
      [SERVICE_ENV]: paths.dir,
    },
  });
  closeSync(fd);
  child.on('exit', (code) => {
    exited = code;
  });
  child.unref();
  const pid = child.pid ?? 0;
  const end = Date.now() + 30_000;
  for (;;) {
    const info = runningService(paths);
    if (info?.pid === pid) {
      ctx.io.stdout(
        `balance: started (pid ${pid}${o.dryRun ? ', dry run' : ''}); output in ${paths.out}, decisions in ${resolve(o.log)}\n` +
          '  `xenlab-tools balance status` shows it, `xenlab-tools balance stop` stops it\n',
      );
      return 0;
    }
    if (exited !== undefined || Date.now() > end) {
      if (exited === undefined) process.kill(pid, 'SIGTERM');
      throw new ToolError(
        ToolErrorCode.conflict,
        exited === undefined
          ? `balance did not come up within 30 s; its output (${paths.out}):`
          : `balance exited (code ${String(exited)}) before it started; its output (${paths.out}):`,
        tail(paths.out, 8),
      );
    }
    await sleep(100);
  }
}
