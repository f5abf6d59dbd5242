/**
 * Processes inside a container: learners' terminals (`docker exec` with a TTY over a hijacked connection) and
 * checks (`docker exec` without a TTY, demultiplexed stdout/stderr, a timeout and an output cap).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { ExecResult, TerminalProcess } from '../types.js';
import { DOCKER_HOME } from './hardening.js';
import { XenlabError } from '../../errors/index.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/docker');

/** Longest output a check keeps per stream; a check never needs more, and a flood must not grow the gateway. */
export const EXEC_OUTPUT_CAP = 1024 * 1024;

/** What runs a terminal or a check: the container plus the environment variables and user. */
export interface ExecTarget {
  readonly container: Docker.Container;
  readonly env: Readonly<Record<string, string>>;
}

const envList = (env: Readonly<Record<string, string>>) => Object.entries(env).map(([k, v]) => `${k}=${v}`);

/** Raw result of {@link execRaw}: output as bytes (snapshots move tarballs through it). */
export interface RawExecResult {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly timedOut: boolean;
}

export interface RawExecOptions {
  readonly user?: string;
  readonly timeoutMs?: number;
  readonly input?: string | Uint8Array;
  /** Bytes kept per stream; the rest is read and dropped. */
  readonly cap?: number;
}

/** A Writable that keeps the first `cap` bytes. */
class Capped extends PassThrough {
  readonly chunks: Buffer[] = [];
  kept = 0;
  constructor(private readonly cap: number) {
    super();
    this.on('data', (d: Buffer) => {
      if (this.kept >= this.cap) return;
      const part = d.subarray(0, this.cap - this.kept);
      this.chunks.push(part);
      this.kept += part.length;
    });
  }
  get buffer(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }
}

/**
 * Runs argv in the container without a TTY. The command runs under coreutils `timeout` inside the container,
 * so a timed-out check is really killed there (the engine has no call to kill an exec); a host-side timer a few
 * seconds later gives up on the stream in case the container itself is stuck.
 */
export async function execRaw(
  target: ExecTarget,
  argv: readonly string[],
  options: RawExecOptions = {},
): Promise<RawExecResult> {
  if (argv.length === 0) throw new XenlabError('SANDBOX_ERR_BAD_COMMAND', 'exec needs a command');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
  const cap = options.cap ?? EXEC_OUTPUT_CAP;
  const hasInput = options.input !== undefined;
  let exec: Docker.Exec;
  let stream: Duplex;
  const started = Date.now();
  try {
    exec = await target.container.exec({
      // -k 2: a command that ignores SIGTERM gets SIGKILL two seconds later. Exit 124 = timed out.
      Cmd: ['timeout', '-k', '2', String(secs), ...argv],
      AttachStdin: hasInput,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      User: options.user ?? 'learner',
      WorkingDir: DOCKER_HOME,
      Env: envList(target.env),
    });
    stream = await exec.start({ hijack: true, stdin: hasInput });
  } catch (err) {
    // E.g. a container that is gone, or one whose pids are all taken (runc can't even start the check).
    throw new XenlabError(
      'SANDBOX_ERR_EXEC',
      `could not run ${argv[0] ?? ''}: ${(err as Error).message.trim()}`,
      {
        cause: err,
      },
    );
  }
  const out = new Capped(cap);
  const err = new Capped(cap);
  (target.container.modem as { demuxStream(s: Duplex, o: PassThrough, e: PassThrough): void }).demuxStream(
    stream,
    out,
    err,
  );
  if (hasInput) {
    stream.write(options.input);
    // Half-close: the engine closes the command's stdin on EOF (exec stdin always closes on EOF).
    stream.end();
  }
  const host = { timedOut: false };
  await new Promise<void>((resolve) => {
    const giveUp = setTimeout(() => {
      host.timedOut = true;
      stream.destroy();
      resolve();
    }, timeoutMs + 5000);
    const done = () => {
      clearTimeout(giveUp);
      resolve();
    };
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', done);
  });
  let code: number | null = null;
  if (!host.timedOut) {
    const info = await exec.inspect();
    code = info.ExitCode;
  }
  // timeout(1) exits 124 when it had to stop the command, 137 when it had to kill it after -k.
  const timedOut = host.timedOut || code === 124 || (code === 137 && Date.now() - started >= secs * 1000);
  return { code: timedOut ? null : code, stdout: out.buffer, stderr: err.buffer, timedOut };
}

/** {@link execRaw} with text output, as checks want it. */
export async function execText(
  target: ExecTarget,
  argv: readonly string[],
  options: RawExecOptions = {},
): Promise<ExecResult> {
  const r = await execRaw(target, argv, options);
  return {
    code: r.code,
    stdout: r.stdout.toString('utf8'),
    stderr: r.stderr.toString('utf8'),
    timedOut: r.timedOut,
  };
}

/** One docker terminal's state: its exec and stream once up, queued input, listeners, and how it stands. */
interface TerminalState {
  readonly target: ExecTarget;
  /** Every process of this terminal inherits XENLAB_TERM, which is how `xenlab-hangup` finds them to end them. */
  readonly termId: string;
  readonly onGone: (() => void) | undefined;
  readonly dataListeners: ((d: Buffer) => void)[];
  readonly exitListeners: ((code: number | null) => void)[];
  readonly drainListeners: (() => void)[];
  stream: Duplex | undefined;
  exec: Docker.Exec | undefined;
  /** Keystrokes not yet written to the stream (before the exec is up, or behind a resize in flight). */
  pending: (string | Uint8Array)[];
  pendingBytes: number;
  wantSize: { cols: number; rows: number };
  /** Resizes in flight. */
  resizing: number;
  // Fields of an object, not lets: they change in callbacks, which TypeScript's narrowing can't see.
  paused: boolean;
  killed: boolean;
  exited: boolean;
}

// Input not yet taken by the engine: queued here (before the exec is up, behind a resize) or in the socket's
// write buffer (the shell is not reading, so the engine stops reading us). SharedTerminal bounds it.
const inputBacklog = (t: TerminalState): number => t.pendingBytes + (t.stream?.writableLength ?? 0);

function drained(t: TerminalState): void {
  if (inputBacklog(t) === 0) for (const l of t.drainListeners) l();
}

function exitTerminal(t: TerminalState, code: number | null): void {
  if (t.exited) return;
  t.exited = true;
  for (const l of t.exitListeners) l(code);
  t.onGone?.();
}

// Keystrokes wait behind a resize in flight, as they would behind a local pty's synchronous ioctl: a
// command typed right after a resize (`stty size`) must see the new size.
function flush(t: TerminalState): void {
  const stream = t.stream;
  if (!stream || t.resizing > 0 || t.killed) return;
  for (const p of t.pending) stream.write(p);
  t.pending = [];
  t.pendingBytes = 0;
  drained(t);
}

function resizeNow(t: TerminalState): void {
  if (!t.exec || t.exited) return;
  t.resizing++;
  t.exec
    .resize({ h: t.wantSize.rows, w: t.wantSize.cols })
    .catch(() => undefined) // deliberate: the exec ended meanwhile
    .finally(() => {
      t.resizing--;
      flush(t);
    });
}

function hangup(t: TerminalState): void {
  void execRaw(t.target, ['/usr/local/bin/xenlab-hangup', t.termId], { timeoutMs: 5000 })
    .catch((err: unknown) => {
      log.debug('hanging up a docker terminal failed; closing its stream', { termId: t.termId, err });
    })
    .finally(() => {
      t.stream?.destroy();
    });
}

/** The stream ended: the terminal exits with the shell's code (null when it can't be told). */
function streamEnded(t: TerminalState): void {
  if (t.exited) return;
  if (!t.exec) {
    exitTerminal(t, null);
    return;
  }
  t.exec.inspect().then(
    (i) => {
      exitTerminal(t, i.Running ? null : i.ExitCode);
    },
    () => {
      exitTerminal(t, null);
    },
  );
}

/** Starts the shell (after `before`), wires its stream to the terminal, then applies what was asked meanwhile. */
async function startShell(t: TerminalState, before: (() => Promise<string | undefined>) | undefined) {
  try {
    // E.g. freeing a container whose pids a fork bomb took (recover.ts); what it returns is shown first.
    const notice = await before?.().catch((err: unknown) => {
      log.warn('preparing the container before a terminal failed', { err });
      return undefined;
    });
    if (notice) for (const l of t.dataListeners) l(Buffer.from(notice));
    t.exec = await t.target.container.exec({
      Cmd: ['/usr/local/bin/xenlab-shell'],
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: true,
      User: 'learner',
      WorkingDir: DOCKER_HOME,
      Env: envList({ ...t.target.env, XENLAB_TERM: t.termId }),
    });
    const s = await t.exec.start({ hijack: true, stdin: true, Tty: true });
    t.stream = s;
    s.on('data', (d: Buffer) => {
      for (const l of t.dataListeners) l(d);
    });
    const ended = () => {
      streamEnded(t);
    };
    s.on('drain', () => {
      drained(t);
    });
    s.on('end', ended);
    s.on('close', ended);
    s.on('error', ended);
    if (t.paused) s.pause();
    // The browser's size before any queued keystroke (API 1.41 has no ConsoleSize at exec create).
    resizeNow(t);
    if (t.killed) hangup(t);
  } catch (err) {
    log.warn('starting a docker terminal failed', { err });
    exitTerminal(t, null);
  }
}

/**
 * A learner's terminal: `docker exec -it xenlab-shell` as the learner. The TerminalProcess is returned at once
 * (the gateway's interface is synchronous); keystrokes and resizes made before the exec is up are queued.
 * Output arrives as Buffers straight from the hijacked socket (a TTY exec is not multiplexed); pausing the
 * socket stops the engine copying from the pty, so a flooding process blocks once the pty buffer fills.
 * `before` runs ahead of the exec; text it returns is the terminal's first output.
 */
export function attachTerminal(
  target: ExecTarget,
  size: { cols: number; rows: number },
  onGone?: () => void,
  before?: () => Promise<string | undefined>,
): TerminalProcess {
  const t: TerminalState = {
    target,
    termId: randomBytes(8).toString('hex'),
    onGone,
    dataListeners: [],
    exitListeners: [],
    drainListeners: [],
    stream: undefined,
    exec: undefined,
    pending: [],
    pendingBytes: 0,
    wantSize: size,
    resizing: 0,
    paused: false,
    killed: false,
    exited: false,
  };
  void startShell(t, before);

  return {
    get pid() {
      return 0;
    },
    write(data) {
      if (t.killed || t.exited) return;
      t.pending.push(data);
      t.pendingBytes += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
      flush(t);
    },
    inputBacklog: () => inputBacklog(t),
    onInputDrain(listener) {
      t.drainListeners.push(listener);
    },
    resize(cols, rows) {
      t.wantSize = { cols, rows };
      resizeNow(t);
    },
    pause() {
      t.paused = true;
      t.stream?.pause();
    },
    resume() {
      t.paused = false;
      t.stream?.resume();
    },
    kill() {
      if (t.killed) return;
      t.killed = true;
      if (t.stream) hangup(t);
    },
    onData(listener) {
      t.dataListeners.push(listener);
    },
    onExit(listener) {
      t.exitListeners.push(listener);
    },
  };
}
