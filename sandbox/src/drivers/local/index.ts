import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pty from '@lydell/node-pty';
import { DEFAULT_LOCAL_LIMITS, EnvironmentCgroup, MAX_FILE_MB, cgroupVersion } from './limits.js';
import { freeBytes, isMounted, loopDevicesWork, mountHome, unmountHome } from './home-image.js';
import { PROBE_UID, learnerUid } from './learner-uid.js';
import { EnvironmentNetwork, netnsWork } from './network.js';
import { UnsafePathError, chownTree, createFileInside, writeFileInside, type Owner } from './safe-fs.js';
import { PtyWriter } from './pty-writer.js';
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
import { XenlabError } from '../../errors/index.js';

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
  /** Variables every shell gets (e.g. PYTHONPATH); the environment spec's own `env` wins over them. */
  env?: Readonly<Record<string, string>>;
  /** Where snapshots of homes are kept (a folder per environment). */
  snapshotDir?: string;
  /** How often a home's size is checked against its quota while shells run (default 15 s). */
  quotaCheckMs?: number;
  /** Limits for environments whose spec sets none (default {@link DEFAULT_LOCAL_LIMITS}). */
  limits?: SandboxLimits;
  /**
   * The protections used when the gateway runs as root, each on by default where this machine supports it; set one
   * to false to go without it (the driver's notice then says it is missing).
   */
  protections?: Partial<RootProtections>;
}

/** What keeps learners apart and away from the host when the gateway is root (see {@link rootProtections}). */
export interface RootProtections {
  /** Shells run as a host uid of their own (never root), dropped to before bubblewrap (setpriv + user namespaces). */
  dropUid: boolean;
  /** The home is a size-limited filesystem (a loop-mounted ext4 image): the quota holds while writing. */
  homeImage: boolean;
  /** The environment has a network namespace of its own that reaches only its pool. */
  network: boolean;
}

/** What each missing protection means for learners, for the driver's notice. */
const MISSING: Record<keyof RootProtections, string> = {
  dropUid:
    'shells would run as root on this machine (setpriv or unprivileged user namespaces are unavailable)',
  homeImage:
    'the home quota is only checked every 15 s, not enforced while writing (no loop devices or mkfs.ext4)',
  network:
    "shells share this machine's network: they can reach the gateway, other learners' pools and local services (no `ip netns`)",
};

/** True when the gateway runs as root (then the learner must not). */
const runningAsRoot = (): boolean => process.getuid?.() === 0;

/** The setpriv arguments that drop a root process to `uid` for good: no groups, no capabilities, no new privileges. */
export function dropArgs(uid: number): string[] {
  return [
    'setpriv',
    `--reuid=${String(uid)}`,
    `--regid=${String(uid)}`,
    '--clear-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    '--',
  ];
}

/** Which root-mode protections work on this machine (all false when not root). */
export function rootProtections(): RootProtections {
  if (!runningAsRoot()) return { dropUid: false, homeImage: false, network: false };
  return { dropUid: bubblewrapWorks(true), homeImage: loopDevicesWork(), network: netnsWork() };
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

/**
 * True when bubblewrap exists and can create the namespaces we use (some kernels forbid user namespaces). With
 * `dropped`, as root: whether it still works after dropping to an unprivileged uid, as learners' shells do (this
 * needs unprivileged user namespaces: `user.max_user_namespaces` > 0, `kernel.unprivileged_userns_clone` = 1).
 */
export function bubblewrapWorks(dropped = false): boolean {
  const argv = [...(dropped ? dropArgs(PROBE_UID).slice(1) : []), 'bwrap', ...jailArgs('/tmp', []), 'true'];
  const r = spawnSync(dropped ? 'setpriv' : 'bwrap', dropped ? argv : argv.slice(1), {
    stdio: 'ignore',
    timeout: 5000,
  });
  return r.status === 0;
}

/**
 * The jail's own /etc/passwd and /etc/group, so uid 1000 is "learner" whatever this machine calls it
 * (and the host's account names are not shown to learners).
 */
function jailIdentityDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xenlab-jail-etc-'));
  writeFileSync(
    join(dir, 'passwd'),
    `root:x:0:0:root:/root:/bin/bash\nlearner:x:1000:1000:xenlab learner:${JAIL_HOME}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
  );
  writeFileSync(join(dir, 'group'), 'root:x:0:\nlearner:x:1000:\nnogroup:x:65534:\n');
  chmodSync(dir, 0o755);
  return dir;
}

const identityArgs = (dir: string): string[] => [
  '--ro-bind',
  join(dir, 'passwd'),
  '/etc/passwd',
  '--ro-bind',
  join(dir, 'group'),
  '/etc/group',
];

/**
 * Where folders the jail binds are mounted again, in a private mount namespace of each shell, for a learner uid that
 * can not reach them by their own path (the gateway's data folder is root's): `<STAGE>/<n>`.
 */
const STAGE = '/run/xenlab-stage';

/**
 * The root side of a shell, after it joined the cgroups: `s k src… -- cmd…` mounts a small tmpfs on `s`, binds each
 * `src` at `s/<i>`, then runs cmd (in a mount namespace of its own: `unshare --mount --propagation private`).
 */
const STAGE_SCRIPT =
  's=$1; k=$2; shift 2; mount -t tmpfs -o mode=0755,size=64k,nosuid,nodev xenlab-stage "$s" || exit 125; i=0; ' +
  'while [ "$i" -lt "$k" ]; do if [ -d "$1" ]; then mkdir "$s/$i"; else : > "$s/$i"; fi && ' +
  'mount --bind "$1" "$s/$i" || exit 125; shift; i=$((i+1)); done; exec "$@"';

function jailArgs(
  home: string,
  binds: readonly string[],
  identity: readonly string[] = [],
  tmpMb = 64,
  source: (p: string) => string = (p) => p,
): string[] {
  const ro = (p: string) => (existsSync(p) ? ['--ro-bind', source(p), p] : []);
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
    // The kernel's knobs stay read-only even where the jail's user could write them (core_pattern, sysrq).
    '--ro-bind',
    '/proc/sys',
    '/proc/sys',
    '--ro-bind-try',
    '/proc/sysrq-trigger',
    '/proc/sysrq-trigger',
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
    source(home),
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
  // Not p.write(): node-pty's stream spins until the pty takes everything, freezing the gateway (see pty-writer.ts).
  let writer: PtyWriter;
  try {
    writer = new PtyWriter(p);
  } catch (err) {
    (p as unknown as { destroy(): void }).destroy();
    throw err;
  }
  p.onExit(() => {
    writer.close();
  });
  return {
    notify: (text) => {
      const b = Buffer.from(`\r\n\x1b[1;33m[xenlab] ${text}\x1b[0m\r\n`);
      for (const l of listeners) l(b);
    },
    pid: p.pid,
    write: (data) => {
      if (!killed) writer.write(data);
    },
    inputBacklog: () => writer.backlog,
    onInputDrain: (listener) => {
      writer.onDrain(listener);
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
      writer.close();
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

/** The drop to `uid` as a shell word list (numbers and fixed words only: safe to put in a script). */
const dropWords = (uid: number): string => dropArgs(uid).join(' ');

/**
 * Runs a shell script as the learner's uid in `cwd` (entered as root, so the learner needs no way to the folder):
 * what the gateway does to a learner's files it does with the learner's rights, so a symlink the learner planted
 * leads nowhere the learner could not go already.
 */
function runAsLearner(uid: number, cwd: string, script: string): void {
  const r = spawnSync('sh', ['-c', `cd "$1" || exit 1; exec ${dropWords(uid)} sh -c "$0"`, script, cwd], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0)
    throw new XenlabError('SANDBOX_ERR_HOME', `${script} in ${cwd}: ${(r.stderr || String(r.error)).trim()}`);
}

/** Copies the contents of `from` into `to` (both entered as root), reading and writing as the learner's uid. */
function copyAsLearner(uid: number, from: string, to: string): void {
  const drop = dropWords(uid);
  const r = spawnSync(
    'sh',
    [
      '-c',
      `cd "$1" || exit 1; ${drop} tar -cf - . | { cd "$2" || exit 1; ${drop} tar -xpf -; }`,
      'xenlab',
      from,
      to,
    ],
    { encoding: 'utf8', timeout: 300_000 },
  );
  if (r.status !== 0)
    throw new XenlabError(
      'SANDBOX_ERR_HOME',
      `copy ${from} to ${to}: ${(r.stderr || String(r.error)).trim()}`,
    );
}

/**
 * The embedded default driver: a real bash on this machine, jailed with bubblewrap when possible.
 * Without bubblewrap the gateway still works for one person on their own laptop, and says so.
 *
 * As root (a conference room's gateway), each environment also gets a host uid of its own (shells never run as
 * root), a home that is a size-limited filesystem, and a network namespace that reaches only its pool; whatever of
 * these this machine can not do is named in the driver's notice, and `jail: 'required'` refuses to start without it.
 */
export function createLocalDriver(options: LocalDriverOptions = {}): SandboxDriver {
  const mode = options.jail ?? 'auto';
  const jailed = mode !== 'off' && bubblewrapWorks();
  if (mode === 'required' && !jailed) {
    throw new XenlabError(
      'SANDBOX_ERR_NO_JAIL',
      'bubblewrap is required (apt-get install bubblewrap) but does not work here',
    );
  }
  const root = jailed && runningAsRoot();
  const wanted = options.protections ?? {};
  const protections: RootProtections = {
    dropUid: root && wanted.dropUid !== false && bubblewrapWorks(true),
    homeImage: root && wanted.homeImage !== false && loopDevicesWork(),
    network: root && wanted.network !== false && netnsWork(),
  };
  const missing = root
    ? (Object.keys(MISSING) as (keyof RootProtections)[]).filter((k) => !protections[k])
    : [];
  if (mode === 'required' && missing.length > 0) {
    throw new XenlabError(
      'SANDBOX_ERR_NO_JAIL',
      `the gateway runs as root, and then the jail needs every protection, but here ${missing.map((k) => MISSING[k]).join('; ')}`,
    );
  }
  const identityDir = jailed ? jailIdentityDir() : '';
  const shell = options.shell ?? 'bash';
  const binds = options.readOnlyBinds ?? [];
  const notice = !jailed
    ? 'This shell is not jailed (bubblewrap is missing or disabled): single-user mode, for your own machine only.'
    : !root
      ? "The gateway does not run as root, so this jail runs as the gateway's own user, shares this machine's network, and checks the home quota every 15 s instead of enforcing it: for your own machine."
      : missing.length > 0
        ? `Missing protection on this machine: ${missing.map((k) => MISSING[k]).join('; ')}.`
        : undefined;
  if (protections.dropUid) mkdirSync(STAGE, { recursive: true, mode: 0o755 });
  const live = new Map<string, Sandbox>();
  const opening = new Map<string, Promise<Sandbox>>();
  const uids = new Set<number>();

  const cgroups = cgroupVersion();

  /**
   * The command line that runs argv inside the environment: a tiny sh joins the environment's cgroups (it runs
   * as root on the host, before the jail); as root it then enters the environment's network namespace and, in a
   * mount namespace of its own, binds what the jail needs where the learner's uid can reach it; prlimit caps the
   * size of any one file; setpriv drops to the learner's uid for good; then bwrap builds the jail.
   */
  const command = (
    spec: EnvironmentSpec,
    argv: readonly string[],
    env: Record<string, string>,
    cgroup: EnvironmentCgroup,
    limits: Required<SandboxLimits>,
    uid: number | undefined,
    net: EnvironmentNetwork | undefined,
  ): [string, string[]] => {
    const staged = uid === undefined ? [] : [spec.home, identityDir, ...binds.filter((b) => existsSync(b))];
    const source = (p: string) => (staged.includes(p) ? `${STAGE}/${String(staged.indexOf(p))}` : p);
    const inner = jailed
      ? [
          'bwrap',
          ...jailArgs(
            spec.home,
            binds,
            identityArgs(source(identityDir)),
            Math.max(1, Math.min(64, Math.floor(limits.diskMb / 2))),
            source,
          ),
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
        ...(net ? ['nsenter', `--net=${net.path}`, '--'] : []),
        ...(uid === undefined
          ? []
          : [
              'unshare',
              '--mount',
              '--propagation',
              'private',
              '--',
              'sh',
              '-c',
              STAGE_SCRIPT,
              'xenlab-stage',
              STAGE,
              String(staged.length),
              ...staged,
            ]),
        'prlimit',
        `--fsize=${fsize}`,
        '--',
        ...(uid === undefined ? [] : dropArgs(uid)),
        ...inner,
      ],
    ];
  };

  const environment = (spec: EnvironmentSpec): Record<string, string> => {
    const home = jailed ? JAIL_HOME : spec.home;
    const env = learnerEnv(home, options.path ?? [], spec, spec.pool ? loopback(spec.pool) : undefined);
    return { ...env, ...options.env, ...spec.env };
  };

  /** Inside, the pool is at 127.0.0.1:<its port>: the host's loopback, or the relay in the environment's network. */
  const loopback = (pool: PoolAccess): PoolAddress => ({ host: '127.0.0.1', port: pool.port });

  /**
   * The files xenlab keeps in a home. Never written through a learner's symlink: `.xe` is replaced (a new file
   * renamed over it), `.bashrc` made only when nothing has that name; both belong to the home's owner.
   */
  const prepareHome = (spec: EnvironmentSpec) => {
    mkdirSync(spec.home, { recursive: true, mode: 0o700 });
    try {
      createFileInside(spec.home, '.bashrc', DEFAULT_BASHRC);
      // Written each time: the pool's port changes when the gateway restarts, and a restored snapshot has an old one.
      if (spec.pool)
        writeFileInside(spec.home, '.xe', xeConfig(spec.pool, loopback(spec.pool)), { mode: 0o600 });
    } catch (err) {
      // The learner made one of them a folder: theirs to fix (XE_EXTRA_ARGS still points `xe` at the pool).
      if (!(err instanceof UnsafePathError)) throw err;
    }
  };

  /**
   * Root mode: gives the environment its uid (kept as the owner of its home) and, with home images, mounts the
   * home's image; a home from before is given to that uid (lchown, never following symlinks).
   */
  const claimHome = (spec: EnvironmentSpec, limits: Required<SandboxLimits>): number | undefined => {
    mkdirSync(spec.home, { recursive: true, mode: 0o700 });
    if (!protections.dropUid) {
      if (protections.homeImage) mountHome(spec.home, limits.diskMb, { uid: 0, gid: 0 });
      return undefined;
    }
    const uid = learnerUid(spec.home, spec.id, uids);
    const owner: Owner = { uid, gid: uid };
    if (protections.homeImage && !isMounted(spec.home)) {
      chownSync(spec.home, uid, uid);
      mountHome(spec.home, limits.diskMb, owner);
    } else if (lstatSync(spec.home).uid !== uid) {
      chownTree(spec.home, owner);
    }
    chmodSync(spec.home, 0o700);
    uids.add(uid);
    return uid;
  };

  const createSandbox = async (spec: EnvironmentSpec): Promise<Sandbox> => {
    const limits = { ...DEFAULT_LOCAL_LIMITS, ...options.limits, ...spec.limits };
    spec = { ...spec, home: resolve(spec.home) };
    const uid = claimHome(spec, limits);
    const imaged = protections.homeImage && isMounted(spec.home);
    let net: EnvironmentNetwork | undefined;
    try {
      net = protections.network
        ? await EnvironmentNetwork.open(spec.id, spec.pool?.port, spec.otherPoolPorts)
        : undefined;
    } catch (err) {
      if (imaged) unmountHome(spec.home);
      if (uid !== undefined) uids.delete(uid);
      throw err;
    }
    prepareHome(spec);
    const cgroup = new EnvironmentCgroup(cgroups, spec.id, limits);
    const terminals = new Set<LocalTerminal>();
    const killAll = () => {
      for (const t of terminals) t.kill();
      terminals.clear();
    };
    let destroyed = false;
    let toldFull = false;
    // The home has a quota. With an image the filesystem holds it while writing (a learner only gets told when it
    // is full); otherwise it is checked while shells run (du is cheap next to what a learner types) and, over it,
    // the environment's processes are stopped and the learner told why. Single files are capped by RLIMIT_FSIZE.
    const quota = setInterval(() => {
      if (terminals.size === 0) return;
      if (imaged) {
        const full = freeBytes(spec.home) < 1024 * 1024;
        if (full && !toldFull) {
          for (const t of terminals)
            t.notify(
              `Your home folder is full (its quota is ${String(limits.diskMb)} MB): writes fail with "No space left on device". ` +
                'Delete some files (ls -la ~, du -sh ~/*) and carry on.',
            );
        }
        toldFull = full;
        return;
      }
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
    /** Empties the home: as the learner's uid when there is one (never following their symlinks as root). */
    const empty = () => {
      if (uid === undefined) emptyDir(spec.home);
      else runAsLearner(uid, spec.home, 'find . -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +');
    };
    const end = () => {
      destroyed = true;
      clearInterval(quota);
      killAll();
      cgroup.destroy();
      net?.remove();
      if (imaged) unmountHome(spec.home);
      if (uid !== undefined) uids.delete(uid);
      live.delete(spec.id);
      return Promise.resolve();
    };
    const sandbox: Sandbox = {
      id: spec.id,
      nodes: ['main'],
      pool: spec.pool ? loopback(spec.pool) : undefined,
      attachTerminal(size) {
        if (destroyed) throw new XenlabError('SANDBOX_ERR_DESTROYED', `environment ${spec.id} was destroyed`);
        prepareHome(spec);
        const env = environment(spec);
        const [file, args] = command(
          spec,
          [shell, '--noprofile', '--rcfile', `${env.HOME ?? ''}/.bashrc`, '-i'],
          env,
          cgroup,
          limits,
          uid,
          net,
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
        const [file, args] = command(spec, argv, env, cgroup, limits, uid, net);
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
        empty();
        prepareHome(spec);
        return Promise.resolve();
      },
      snapshot() {
        const base = options.snapshotDir ?? join(spec.home, '..', '.snapshots');
        const createdAt = new Date().toISOString();
        const ref = join(base, `${spec.id.replace(/[^A-Za-z0-9_-]/g, '_')}-${Date.now().toString(36)}`);
        mkdirSync(ref, { recursive: true, mode: 0o700 });
        if (uid === undefined) cpSync(spec.home, ref, { recursive: true, verbatimSymlinks: true });
        else {
          chownSync(ref, uid, uid);
          copyAsLearner(uid, spec.home, ref);
        }
        return Promise.resolve({ driver: 'local', id: spec.id, ref, createdAt });
      },
      restore(snapshot: SandboxSnapshot) {
        if (snapshot.driver !== 'local' || !existsSync(snapshot.ref)) {
          return Promise.reject(
            new XenlabError('SANDBOX_ERR_BAD_SNAPSHOT', `${snapshot.ref} is not a local snapshot`),
          );
        }
        killAll();
        empty();
        if (uid === undefined) cpSync(snapshot.ref, spec.home, { recursive: true, verbatimSymlinks: true });
        else copyAsLearner(uid, snapshot.ref, spec.home);
        prepareHome(spec);
        return Promise.resolve();
      },
      destroy: end,
      // Shells can't outlive the gateway; the home (its image) is all there is to keep, and it stays.
      detach: end,
    };
    return sandbox;
  };

  return {
    name: 'local',
    jailed,
    notice,
    async create(spec) {
      const existing = live.get(spec.id) ?? opening.get(spec.id);
      if (existing) return existing;
      const p = createSandbox(spec);
      opening.set(spec.id, p);
      try {
        const s = await p;
        live.set(spec.id, s);
        return s;
      } finally {
        opening.delete(spec.id);
      }
    },
    list() {
      return Promise.resolve([...live.keys()]);
    },
  };
}
