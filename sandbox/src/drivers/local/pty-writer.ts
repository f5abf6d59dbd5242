/**
 * Input to a pty that never blocks the gateway's event loop.
 *
 * node-pty writes through a `tty.ReadStream` on the pty master. libuv cannot reopen a pty *master* (only slaves), so
 * it marks such a TTY handle "blocking writes": when the master's input buffer is full (the shell is not reading:
 * `stty -icanon; sleep 600`), `uv__write` spins on EAGAIN until everything is written, and the whole gateway —
 * every learner's terminal — freezes for as long as that one shell does not read.
 *
 * The master fd itself is non-blocking (node-pty sets O_NONBLOCK), so this writer writes it directly with
 * `fs.writeSync` on the main thread: each call returns at once with what fit (or EAGAIN), the rest stays queued and
 * is retried on a timer that backs off while the shell reads nothing. Writing on the main thread, not the thread
 * pool, also means a write can never race the stream closing the fd (a stale fd number may already belong to
 * another learner's pty): every write first checks the stream still holds the fd.
 * @module
 */
import { readFileSync, writeSync } from 'node:fs';
import { XenlabError } from '../../errors/index.js';

/** First retry after the pty refused input (EAGAIN), ms; doubles while nothing is taken, up to the maximum. */
const RETRY_MIN_MS = 2;
const RETRY_MAX_MS = 50;
/** Most bytes handed to one write(2): keeps a single call short, whatever is queued. */
const WRITE_SLICE = 64 * 1024;
/** O_NONBLOCK on Linux (octal 04000), as /proc/self/fdinfo shows the file's flags. */
const O_NONBLOCK = 0o4000;

/** The parts of node-pty's UnixTerminal this writer relies on (not in its public types). */
interface PtyInternals {
  readonly _fd?: unknown;
  readonly _socket?: {
    readonly destroyed?: boolean;
    readonly _handle?: { setBlocking?(blocking: boolean): number } | null;
  };
}

/** Whether the fd's file is non-blocking; undefined where /proc does not say (not Linux). */
function nonBlocking(fd: number): boolean | undefined {
  try {
    const m = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${String(fd)}`, 'utf8'));
    return m?.[1] ? (parseInt(m[1], 8) & O_NONBLOCK) !== 0 : undefined;
  } catch {
    return undefined; // deliberate: no /proc here (not Linux): unknown
  }
}

/**
 * An asynchronous, non-blocking write queue on a node-pty terminal's master fd. {@link backlog} is what was
 * accepted and not yet taken by the pty; the caller bounds it (see `INPUT_BACKLOG_BYTES` in
 * `sessions/shared-terminal.ts`).
 */
export class PtyWriter {
  readonly #fd: number;
  readonly #stream: NonNullable<PtyInternals['_socket']>;
  #queue: Buffer[] = [];
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #retryMs = RETRY_MIN_MS;
  #closed = false;
  readonly #drain = new Set<() => void>();

  /**
   * @throws Error `SANDBOX_ERR_PTY` when node-pty's internals are not what this writer expects, or the master fd
   *   cannot be made non-blocking (writing it could then block the gateway).
   */
  constructor(p: object) {
    const inner = p as PtyInternals;
    const fd = inner._fd;
    const stream = inner._socket;
    if (typeof fd !== 'number' || !stream || typeof stream !== 'object')
      throw new XenlabError(
        'SANDBOX_ERR_PTY',
        'node-pty has no master fd/stream where expected (was it upgraded?)',
      );
    if (nonBlocking(fd) === false) stream._handle?.setBlocking?.(false);
    if (nonBlocking(fd) === false) throw new XenlabError('SANDBOX_ERR_PTY', 'the pty master fd is blocking');
    this.#fd = fd;
    this.#stream = stream;
  }

  /** Bytes accepted and not yet written to the pty. */
  get backlog(): number {
    return this.#queued;
  }

  /** Called each time the queue empties (everything accepted is in the pty). */
  onDrain(listener: () => void): void {
    this.#drain.add(listener);
  }

  /** Queues bytes for the pty and writes what it takes now. Never blocks. */
  write(data: Uint8Array | string): void {
    if (this.#closed) return;
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    if (b.length === 0) return;
    this.#queue.push(b);
    this.#queued += b.length;
    if (this.#timer === undefined) this.#pump();
  }

  /** Drops what is queued; later writes are ignored (the shell is gone or going). */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The stream still owns the fd: once it is destroyed the number may be reused by anything (even another pty). */
  #open(): boolean {
    return !this.#closed && this.#stream.destroyed !== true && this.#stream._handle != null;
  }

  #pump(): void {
    this.#timer = undefined;
    let progressed = false;
    for (let head = this.#queue[0]; head !== undefined; head = this.#queue[0]) {
      if (!this.#open()) {
        this.close();
        return;
      }
      let n: number;
      try {
        n = writeSync(this.#fd, head, 0, Math.min(head.length, WRITE_SLICE));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') {
          // The pty is full: try again later, more slowly while the shell takes nothing.
          this.#retryMs = progressed ? RETRY_MIN_MS : Math.min(RETRY_MAX_MS, this.#retryMs * 2);
          this.#timer = setTimeout(() => {
            this.#pump();
          }, this.#retryMs);
          return;
        }
        // EIO and the like: the shell side is gone; its exit is reported by node-pty.
        this.close();
        return;
      }
      if (n > 0) progressed = true;
      this.#queued -= n;
      if (n >= head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(n);
    }
    this.#retryMs = RETRY_MIN_MS;
    for (const l of this.#drain) l();
  }
}
