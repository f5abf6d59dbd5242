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
  // Every process of this terminal inherits XENLAB_TERM, which is how `xenlab-hangup` finds them to end them.
  const termId = randomBytes(8).toString('hex');
  const dataListeners: ((d: Buffer) => void)[] = [];
  const exitListeners: ((code: number | null) => void)[] = [];
  let stream: Duplex | undefined;
  let exec: Docker.Exec | undefined;
  let pending: (string | Uint8Array)[] = [];
  let pendingBytes = 0;
  const drainListeners: (() => void)[] = [];
  // Input not yet taken by the engine: queued here (before the exec is up, behind a resize) or in the socket's
  // write buffer (the shell is not reading, so the engine stops reading us). SharedTerminal bounds it.
  const inputBacklog = () => pendingBytes + (stream?.writableLength ?? 0);
  const drained = () => {
    if (inputBacklog() === 0) for (const l of drainListeners) l();
  };
  let wantSize = size;
  // An object, not two lets: they change in callbacks, which TypeScript's narrowing can't see.
  const flags = { paused: false, killed: false };
  let exited = false;

  const exit = (code: number | null) => {
    if (exited) return;
    exited = true;
    for (const l of exitListeners) l(code);
    onGone?.();
  };
  // Keystrokes wait behind a resize in flight, as they would behind a local pty's synchronous ioctl: a
  // command typed right after a resize (`stty size`) must see the new size.
  let resizing = 0;
  const flush = () => {
    if (!stream || resizing > 0 || flags.killed) return;
    for (const p of pending) stream.write(p);
    pending = [];
    pendingBytes = 0;
    drained();
  };
  const resizeNow = () => {
    if (!exec || exited) return;
    resizing++;
    exec
      .resize({ h: wantSize.rows, w: wantSize.cols })
      .catch(() => undefined) // deliberate: the exec ended meanwhile
      .finally(() => {
        resizing--;
        flush();
      });
  };

  const hangup = () => {
    void execRaw(target, ['/usr/local/bin/xenlab-hangup', termId], { timeoutMs: 5000 })
      .catch((err: unknown) => {
        log.debug('hanging up a docker terminal failed; closing its stream', { termId, err });
      })
      .finally(() => {
        stream?.destroy();
      });
  };

  void (async () => {
    try {
      // E.g. freeing a container whose pids a fork bomb took (recover.ts); what it returns is shown first.
      const notice = await before?.().catch((err: unknown) => {
        log.warn('preparing the container before a terminal failed', { err });
        return undefined;
      });
      if (notice) for (const l of dataListeners) l(Buffer.from(notice));
      exec = await target.container.exec({
        Cmd: ['/usr/local/bin/xenlab-shell'],
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: true,
        User: 'learner',
        WorkingDir: DOCKER_HOME,
        Env: envList({ ...target.env, XENLAB_TERM: termId }),
      });
      const s = await exec.start({ hijack: true, stdin: true, Tty: true });
      stream = s;
      s.on('data', (d: Buffer) => {
        for (const l of dataListeners) l(d);
      });
      const ended = () => {
        if (exited) return;
        if (!exec) {
          exit(null);
          return;
        }
        exec.inspect().then(
          (i) => {
            exit(i.Running ? null : i.ExitCode);
          },
          () => {
            exit(null);
          },
        );
      };
      s.on('drain', drained);
      s.on('end', ended);
      s.on('close', ended);
      s.on('error', ended);
      if (flags.paused) s.pause();
      // The browser's size before any queued keystroke (API 1.41 has no ConsoleSize at exec create).
      resizeNow();
      if (flags.killed) hangup();
    } catch (err) {
      log.warn('starting a docker terminal failed', { err });
      exit(null);
    }
  })();

  return {
    get pid() {
      return 0;
    },
    write(data) {
      if (flags.killed || exited) return;
      pending.push(data);
      pendingBytes += typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
      flush();
    },
    inputBacklog,
    onInputDrain(listener) {
      drainListeners.push(listener);
    },
    resize(cols, rows) {
      wantSize = { cols, rows };
      resizeNow();
    },
    pause() {
      flags.paused = true;
      stream?.pause();
    },
    resume() {
      flags.paused = false;
      stream?.resume();
    },
    kill() {
      if (flags.killed) return;
      flags.killed = true;
      if (stream) hangup();
    },
    onData(listener) {
      dataListeners.push(listener);
    },
    onExit(listener) {
      exitListeners.push(listener);
    },
  };
}
