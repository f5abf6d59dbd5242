import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pty from '@lydell/node-pty';
import { DEFAULT_LOCAL_LIMITS, EnvironmentCgroup, MAX_FILE_MB, cgroupVersion } from './limits.js';
import { learnerEnv, xeConfig, type PoolAccess, type PoolAddress } from '../pool-access.js';
import type {
  EnvironmentSpec,
  ExecOptions,
  ExecResult,
  Sandbox,
  SandboxLimits,
  SandboxDriver,
  SandboxSnapshot,
  TerminalProcess,
} from '../types.js';

/** Where the learner's home appears inside the jail. */
export const JAIL_HOME = '/home/learner';

export interface LocalDriverOptions {
  /** `auto` (default): jail with bubblewrap when it works here; `off`: plain shells (single-user only). */
  jail?: 'auto' | 'off' | 'required';
  /** Shell to run; bash by default. */
  shell?: string;
  /** Directories bound read-only into the jail at the same path (e.g. the toolkit, so `xe` works inside). */
  readOnlyBinds?: readonly string[];
  /** Directories put first on PATH inside the shell. */
  path?: readonly string[];
  /** Where snapshots of homes are kept (a folder per environment). */
  snapshotDir?: string;
  /** How often a home's size is checked against its quota while shells run (default 15 s). */
  quotaCheckMs?: number;
  /** Limits for environments whose spec sets none (default {@link DEFAULT_LOCAL_LIMITS}). */
  limits?: SandboxLimits;
}

/** Bytes used by a folder (du; resolves 0 when it can not tell). */
function homeBytes(dir: string): Promise<number> {
  return new Promise((resolve) => {
    const du = spawn('du', ['-sxb', dir], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    du.stdout.on('data', (d: Buffer) => (out += d.toString()));
    du.on('error', () => {
      resolve(0);
    });
    du.on('close', () => {
      resolve(Number.parseInt(out, 10) || 0);
    });
  });
}

/** Longest output `exec` keeps per stream; a check never needs more, and a flood must not grow the gateway. */
const EXEC_OUTPUT_CAP = 1024 * 1024;

const DEFAULT_BASHRC = `# xenlab: your shell's settings. Edit freely; this file is yours.
PS1='\\[\\e[1;32m\\]learner@xenlab\\[\\e[0m\\]:\\[\\e[1;34m\\]\\w\\[\\e[0m\\]\\$ '
alias ls='ls --color=auto'
`;

/** True when bubblewrap exists and can create the namespaces we use (some kernels forbid user namespaces). */
export function bubblewrapWorks(): boolean {
  const r = spawnSync('bwrap', [...jailArgs('/tmp', []), 'true'], { stdio: 'ignore', timeout: 5000 });
  return r.status === 0;
}

/**
 * The jail's own /etc/passwd and /etc/group, so uid 1000 is "learner" whatever this machine calls it
 * (and the host's account names are not shown to learners).
 */
function jailIdentityFiles(): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'xenlab-jail-etc-'));
  writeFileSync(
    join(dir, 'passwd'),
    `root:x:0:0:root:/root:/bin/bash\nlearner:x:1000:1000:xenlab learner:${JAIL_HOME}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
  );
  writeFileSync(join(dir, 'group'), 'root:x:0:\nlearner:x:1000:\nnogroup:x:65534:\n');
  return ['--ro-bind', join(dir, 'passwd'), '/etc/passwd', '--ro-bind', join(dir, 'group'), '/etc/group'];
}

function jailArgs(
  home: string,
  binds: readonly string[],
  identity: readonly string[] = [],
  tmpMb = 64,
): string[] {
  const ro = (p: string) => (existsSync(p) ? ['--ro-bind', p, p] : []);
  const link = (target: string, at: string) => (existsSync(at) ? ['--symlink', target, at] : []);
  return [
    // The system read-only; the learner's home and /tmp private. Debian has merged /usr, so /bin etc. are links.
    ...ro('/usr'),
    ...ro('/etc'),
    ...identity,
    ...link('usr/bin', '/bin'),
    ...link('usr/sbin', '/sbin'),
    ...link('usr/lib', '/lib'),
    ...link('usr/lib64', '/lib64'),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    // A sized /tmp: filling it gives the learner "No space left on device", nothing more.
    '--size',
    String(tmpMb * 1024 * 1024),
    '--tmpfs',
    '/tmp',
    // After /tmp, so tools kept under a temporary folder (tests) are not hidden by the jail's own /tmp.
    ...binds.flatMap(ro),
    '--bind',
    home,
    JAIL_HOME,
    // Own user (uid 1000, no capabilities), mount, pid, ipc and uts namespaces.
    '--unshare-user',
    '--uid',
    '1000',
    '--gid',
    '1000',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    '--hostname',
    'xenlab',
    '--die-with-parent',
    '--chdir',
    JAIL_HOME,
  ];
}

/** A terminal process of the local driver: can also show the learner a notice from xenlab. */
interface LocalTerminal extends TerminalProcess {
  notify(text: string): void;
}

/** Wraps a node-pty process as a TerminalProcess. */
function wrapPty(p: pty.IPty): LocalTerminal {
  let killed = false;
  const listeners: ((d: Buffer) => void)[] = [];
  return {
    notify: (text) => {
      const b = Buffer.from(`\r\n\x1b[1;33m[xenlab] ${text}\x1b[0m\r\n`);
      for (const l of listeners) l(b);
    },
    pid: p.pid,
    write: (data) => {
      // node-pty's types say string, but it writes to a socket that takes bytes as they are.
      p.write(
        typeof data === 'string'
          ? data
          : (Buffer.from(data.buffer, data.byteOffset, data.byteLength) as unknown as string),
      );
    },
    resize: (cols, rows) => {
      if (!killed) p.resize(cols, rows);
    },
    pause: () => {
      p.pause();
    },
    resume: () => {
      p.resume();
    },
    kill: () => {
      if (killed) return;
      killed = true;
      // destroy(), not kill(): kill() leaves the pty master fd open (a leak per terminal, node-pty #642);
      // destroy() closes it and then SIGHUPs the shell. In the jail, bwrap's --die-with-parent takes down
      // the whole pid namespace, including anything the learner left running with setsid/nohup.
      (p as unknown as { destroy(): void }).destroy();
    },
    onData: (listener) => {
      listeners.push(listener);
      p.onData((d) => {
        listener(d as unknown as Buffer);
      });
    },
    onExit: (listener) => {
      p.onExit(({ exitCode, signal }) => {
        listener(signal ? null : exitCode);
      });
    },
  };
}

/** Empties a folder without removing it (the jail has it bind-mounted). */
function emptyDir(dir: string): void {
  for (const e of readdirSync(dir)) rmSync(join(dir, e), { recursive: true, force: true });
}

/**
 * The embedded default driver: a real bash on this machine, jailed with bubblewrap when possible.
 * Without bubblewrap the gateway still works for one person on their own laptop, and says so.
 */
export function createLocalDriver(options: LocalDriverOptions = {}): SandboxDriver {
  const mode = options.jail ?? 'auto';
  const jailed = mode !== 'off' && bubblewrapWorks();
  if (mode === 'required' && !jailed) {
    throw new Error(
      'SANDBOX_ERR_NO_JAIL: bubblewrap is required (apt-get install bubblewrap) but does not work here',
    );
  }
  const identity = jailed ? jailIdentityFiles() : [];
  const shell = options.shell ?? 'bash';
  const binds = options.readOnlyBinds ?? [];
  const notice = jailed
    ? undefined
    : 'This shell is not jailed (bubblewrap is missing or disabled): single-user mode, for your own machine only.';
  const live = new Map<string, Sandbox>();

  const cgroups = cgroupVersion();

  /**
   * The command line that runs argv inside the environment: a tiny sh joins the environment's cgroups (it runs
   * as root on the host, before the jail), prlimit caps the size of any one file, then bwrap builds the jail.
   */
  const command = (
    spec: EnvironmentSpec,
    argv: readonly string[],
    env: Record<string, string>,
    cgroup: EnvironmentCgroup,
    limits: Required<SandboxLimits>,
  ): [string, string[]] => {
    const inner = jailed
      ? [
          'bwrap',
          ...jailArgs(spec.home, binds, identity, Math.max(1, Math.min(64, Math.floor(limits.diskMb / 2)))),
          ...Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v]),
          ...argv,
        ]
      : [...argv];
    const fsize = String(Math.min(MAX_FILE_MB, limits.diskMb) * 1024 * 1024);
    return [
      'sh',
      [
        '-c',
        'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"',
        'xenlab-enter',
        String(cgroup.procsFiles.length),
        ...cgroup.procsFiles,
        'prlimit',
        `--fsize=${fsize}`,
        '--',
        ...inner,
      ],
    ];
  };

  const environment = (spec: EnvironmentSpec): Record<string, string> => {
    const home = jailed ? JAIL_HOME : spec.home;
    return learnerEnv(home, options.path ?? [], spec, spec.pool ? loopback(spec.pool) : undefined);
  };

  /** The jail shares the host's network: the pool is where the gateway sees it. */
  const loopback = (pool: PoolAccess): PoolAddress => ({ host: '127.0.0.1', port: pool.port });

  const prepareHome = (spec: EnvironmentSpec) => {
    mkdirSync(spec.home, { recursive: true, mode: 0o700 });
    const rc = join(spec.home, '.bashrc');
    if (!existsSync(rc)) writeFileSync(rc, DEFAULT_BASHRC);
    // Written each time: the pool's port changes when the gateway restarts, and a restored snapshot has an old one.
    if (spec.pool)
      writeFileSync(join(spec.home, '.xe'), xeConfig(spec.pool, loopback(spec.pool)), { mode: 0o600 });
  };

  const createSandbox = (spec: EnvironmentSpec): Sandbox => {
    prepareHome(spec);
    const limits = { ...DEFAULT_LOCAL_LIMITS, ...options.limits, ...spec.limits };
    const cgroup = new EnvironmentCgroup(cgroups, spec.id, limits);
    const terminals = new Set<LocalTerminal>();
    const killAll = () => {
      for (const t of terminals) t.kill();
      terminals.clear();
    };
    let destroyed = false;
    // The home has a quota: checked while shells run (du is cheap next to what a learner types); over it, the
    // environment's processes are stopped and the learner told why. Single files are capped by RLIMIT_FSIZE.
    const quota = setInterval(() => {
      if (terminals.size === 0) return;
      void homeBytes(spec.home).then((bytes) => {
        if (bytes <= limits.diskMb * 1024 * 1024) return;
        for (const t of terminals) {
          t.notify(
            `Your home folder holds ${Math.round(bytes / 1048576)} MB, over its ${limits.diskMb} MB quota. ` +
              'Your programs were stopped; delete some files (ls -la ~, du -sh ~/*) and carry on.',
          );
        }
        cgroup.destroy();
        killAll();
      });
    }, options.quotaCheckMs ?? 15_000);
    quota.unref();
    const sandbox: Sandbox = {
      id: spec.id,
      nodes: ['main'],
      pool: spec.pool ? loopback(spec.pool) : undefined,
      attachTerminal(size) {
        if (destroyed) throw new Error(`SANDBOX_ERR_DESTROYED: environment ${spec.id} was destroyed`);
        prepareHome(spec);
        const env = environment(spec);
        const [file, args] = command(
          spec,
          [shell, '--noprofile', '--rcfile', `${env.HOME ?? ''}/.bashrc`, '-i'],
          env,
          cgroup,
          limits,
        );
        const p = pty.spawn(file, args, {
          name: 'xterm-256color',
          cols: size.cols,
          rows: size.rows,
          cwd: spec.home,
          env,
          // Raw bytes, not strings: output goes to the browser as binary frames without a decode/encode round trip.
          encoding: null,
        });
        const t = wrapPty(p);
        terminals.add(t);
        t.onExit(() => terminals.delete(t));
        return t;
      },
      exec(argv, opts: ExecOptions = {}) {
        const env = environment(spec);
        const [file, args] = command(spec, argv, env, cgroup, limits);
        return new Promise<ExecResult>((resolve) => {
          const child = spawn(file, args, { cwd: spec.home, env, stdio: ['pipe', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          let timedOut = false;
          const cap = (acc: string, d: Buffer) =>
            acc.length >= EXEC_OUTPUT_CAP ? acc : acc + d.toString('utf8');
          child.stdout.on('data', (d: Buffer) => (stdout = cap(stdout, d)));
          child.stderr.on('data', (d: Buffer) => (stderr = cap(stderr, d)));
          const timer = setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs ?? 30_000);
          child.on('error', (err) => {
            clearTimeout(timer);
            resolve({ code: null, stdout, stderr: stderr + String(err), timedOut });
          });
          child.on('close', (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr, timedOut });
          });
          child.stdin.on('error', () => undefined);
          child.stdin.end(opts.input ?? '');
        });
      },
      reset() {
        killAll();
        emptyDir(spec.home);
        prepareHome(spec);
        return Promise.resolve();
      },
      snapshot() {
        const base = options.snapshotDir ?? join(spec.home, '..', '.snapshots');
        const createdAt = new Date().toISOString();
        const ref = join(base, `${spec.id.replace(/[^A-Za-z0-9_-]/g, '_')}-${Date.now().toString(36)}`);
        mkdirSync(ref, { recursive: true, mode: 0o700 });
        cpSync(spec.home, ref, { recursive: true });
        return Promise.resolve({ driver: 'local', id: spec.id, ref, createdAt });
      },
      restore(snapshot: SandboxSnapshot) {
        if (snapshot.driver !== 'local' || !existsSync(snapshot.ref)) {
          return Promise.reject(
            new Error(`SANDBOX_ERR_BAD_SNAPSHOT: ${snapshot.ref} is not a local snapshot`),
          );
        }
        killAll();
        emptyDir(spec.home);
        cpSync(snapshot.ref, spec.home, { recursive: true });
        prepareHome(spec);
        return Promise.resolve();
      },
      destroy() {
        destroyed = true;
        clearInterval(quota);
        killAll();
        cgroup.destroy();
        live.delete(spec.id);
        return Promise.resolve();
      },
      // Shells can't outlive the gateway; the home folder is all there is to keep, and it stays.
      detach() {
        return sandbox.destroy();
      },
    };
    return sandbox;
  };

  return {
    name: 'local',
    jailed,
    notice,
    create(spec) {
      const existing = live.get(spec.id);
      if (existing) return Promise.resolve(existing);
      const s = createSandbox(spec);
      live.set(spec.id, s);
      return Promise.resolve(s);
    },
    list() {
      return Promise.resolve([...live.keys()]);
    },
  };
}
