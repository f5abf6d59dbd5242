import { randomBytes } from 'node:crypto';
import type { TerminalProcess } from '../drivers/types.js';
import { FlowControl } from './flow.js';

/** Output kept for replay on reconnect (bytes). A reconnecting page gets what it missed from here. */
export const SCROLLBACK_BYTES = 256 * 1024;
/** Largest batch of output sent as one frame; output is coalesced until the next turn of the event loop. */
const MAX_BATCH = 256 * 1024;
/**
 * Most output a viewer may have queued and not yet handed to the network (its socket's unsent backlog) before it
 * is dropped. Acks cannot lift this: they are the client's word, and a client may ack output it never reads. An
 * honest page never gets near it — what it has in flight is bounded by flow control (high watermark, one batch
 * and a replay, about 1 MiB) — so only a page that lies about what it read, or a link that is not moving at all,
 * is cut off; it reconnects and resumes from the kept scrollback.
 */
export const VIEWER_BACKLOG_BYTES = 2 * 1024 * 1024;
/**
 * Input (keystrokes, pastes) the shell has not taken yet, above which the learner's tabs stop being read
 * (backpressure: their WebSockets are paused until the shell has taken it all). A shell that does not read
 * (`stty -icanon; sleep 600`) can then only ever hold up its own learner, never the gateway or anyone else.
 */
export const INPUT_BACKLOG_BYTES = 256 * 1024;
/**
 * Hard bound on queued input: what arrives beyond it (frames already on their way when the tabs were paused) is
 * dropped, and so is everything else until the shell has caught up; the learner is told once.
 */
export const INPUT_LIMIT_BYTES = 2 * INPUT_BACKLOG_BYTES;
/**
 * Longest time the learner's tabs are held unread for a shell that takes no input. After it they are read again
 * (acks, pings, a closing tab must not wait on the shell) and input is dropped until the shell catches up.
 */
export const INPUT_HOLD_MS = 10_000;

/** One browser tab watching a terminal. */
export interface Viewer {
  /** Sends a chunk of output (a binary frame). */
  send(data: Buffer): void;
  /** Tells the viewer the shell exited. */
  exited(code: number | null): void;
  /** The pty was resized (watchers follow the learner's size). */
  resized?(cols: number, rows: number): void;
  /** Bytes sent to this viewer and not yet handed to the network (a WebSocket's `bufferedAmount`). */
  backlog?(): number;
  /**
   * The viewer's backlog passed {@link VIEWER_BACKLOG_BYTES}: it has been detached and gets no more output; it
   * should close its link (the page reconnects and resumes from the scrollback).
   */
  overflowed?(): void;
  /** Stop reading input from this viewer for now (the shell has {@link INPUT_BACKLOG_BYTES} queued). */
  holdInput?(): void;
  /** Read this viewer's input again. */
  releaseInput?(): void;
}

interface ViewerState {
  readonly flow: FlowControl;
  /** An instructor watching: never pauses the learner's shell, never keeps it alive. */
  readonly watcher: boolean;
}

/**
 * A terminal that outlives its WebSockets: the shell keeps running when the page drops, output is kept in a ring
 * buffer for replay, and several tabs can watch (and type into) the same shell. Output goes out in batches, one
 * per turn of the event loop, under per-viewer flow control: the shell is paused while any viewer is too far behind.
 */
export class SharedTerminal {
  /** Changes whenever the shell is (re)spawned; a page resuming another instance gets a full replay. */
  readonly instance = randomBytes(6).toString('base64url');
  readonly #term: TerminalProcess;
  readonly #viewers = new Map<Viewer, ViewerState>();
  #ring: Buffer[] = [];
  #ringBytes = 0;
  /** Total output bytes ever produced: the offset of the live stream. */
  #total = 0;
  #batch: Buffer[] = [];
  #batchBytes = 0;
  #scheduled = false;
  #pausedBy = 0;
  #exitCode: number | null | undefined;
  #onIdle: (() => void) | undefined;
  #onEnd: (() => void) | undefined;
  #size: { cols: number; rows: number } | undefined;
  #dropped = 0;
  /** The learner's viewers are not being read (input backpressure); {@link INPUT_HOLD_MS} at most. */
  #holding = false;
  #holdTimer: NodeJS.Timeout | undefined;
  /** Input is being dropped until the shell has taken what is queued (and the learner was told). */
  #droppingInput = false;
  #inputDropped = 0;

  constructor(term: TerminalProcess) {
    this.#term = term;
    term.onData((chunk) => {
      this.#output(chunk);
    });
    term.onInputDrain?.(() => {
      this.#droppingInput = false;
      this.#updateInputHold();
    });
    term.onExit((code) => {
      this.#flush();
      this.#exitCode = code;
      this.#updateInputHold();
      for (const v of this.#viewers.keys()) v.exited(code);
      this.#onEnd?.();
    });
  }

  #output(chunk: Buffer): void {
    this.#batch.push(chunk);
    this.#batchBytes += chunk.length;
    if (this.#batchBytes >= MAX_BATCH) this.#flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#flush();
      });
    }
  }

  /** A line from xenlab in the terminal's output (kept in the scrollback like the shell's own). */
  #notice(text: string): void {
    this.#output(Buffer.from(`\r\n\x1b[1;33m[xenlab] ${text}\x1b[0m\r\n`));
  }

  #inputBacklog(): number {
    return this.#term.inputBacklog?.() ?? 0;
  }

  /**
   * Holds the learner's viewers unread while the shell has {@link INPUT_BACKLOG_BYTES} or more queued, until it
   * has taken it all. Never while its output is paused by flow control: the viewers' acks are what resumes it, and
   * a shell that echoes what it reads (`cat`) would otherwise wait on them forever.
   */
  #updateInputHold(): void {
    const backlog = this.#inputBacklog();
    const want =
      this.#exitCode === undefined &&
      !this.#droppingInput &&
      this.#pausedBy === 0 &&
      (this.#holding ? backlog > 0 : backlog >= INPUT_BACKLOG_BYTES);
    if (want === this.#holding) return;
    this.#holding = want;
    if (want) {
      this.#holdTimer = setTimeout(() => {
        this.#holdTimer = undefined;
        if (!this.#holding) return;
        this.#startDropping();
        this.#updateInputHold();
      }, INPUT_HOLD_MS);
      this.#holdTimer.unref();
    } else if (this.#holdTimer !== undefined) {
      clearTimeout(this.#holdTimer);
      this.#holdTimer = undefined;
    }
    for (const [v, st] of this.#viewers) {
      if (st.watcher) continue;
      if (want) v.holdInput?.();
      else v.releaseInput?.();
    }
  }

  #startDropping(): void {
    if (this.#droppingInput) return;
    this.#droppingInput = true;
    this.#notice(
      `input dropped: this shell is not reading what you send (${String(Math.round(this.#inputBacklog() / 1024))} KiB waiting); new input is ignored until it has read that`,
    );
  }

  get exited(): boolean {
    return this.#exitCode !== undefined;
  }

  /** The learner's own viewers (tabs); instructors watching are not counted. */
  get viewers(): number {
    let n = 0;
    for (const st of this.#viewers.values()) if (!st.watcher) n++;
    return n;
  }

  /** Instructors watching now. */
  get watchers(): number {
    return this.#viewers.size - this.viewers;
  }

  get total(): number {
    return this.#total;
  }

  /** Called when the last viewer leaves (to start a grace timer). */
  onIdle(f: () => void): void {
    this.#onIdle = f;
  }

  /** Called when the shell ends. */
  onEnd(f: () => void): void {
    this.#onEnd = f;
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#batchBytes === 0) return;
    const data =
      this.#batch.length === 1 && this.#batch[0]
        ? this.#batch[0]
        : Buffer.concat(this.#batch, this.#batchBytes);
    this.#batch = [];
    this.#batchBytes = 0;
    this.#total += data.length;
    this.#ring.push(data);
    this.#ringBytes += data.length;
    while (this.#ringBytes - (this.#ring[0]?.length ?? 0) >= SCROLLBACK_BYTES) {
      this.#ringBytes -= this.#ring.shift()?.length ?? 0;
    }
    for (const [v, s] of this.#viewers) {
      // Bounded by bytes whatever the viewer acked: one whose unsent backlog is past the cap is dropped.
      if ((v.backlog?.() ?? 0) + data.length > VIEWER_BACKLOG_BYTES) {
        this.#drop(v);
        continue;
      }
      v.send(data);
      s.flow.sent(data.length);
    }
  }

  #drop(viewer: Viewer): void {
    this.#dropped++;
    this.detach(viewer);
    viewer.overflowed?.();
  }

  /**
   * Byte counters, for tests and diagnostics: the replay ring and the pending batch (both bounded by size), and per
   * viewer what flow control counts outstanding and what its link has not yet sent; `dropped` counts viewers cut
   * off for a backlog past {@link VIEWER_BACKLOG_BYTES}.
   */
  stats(): {
    ringBytes: number;
    batchBytes: number;
    dropped: number;
    viewers: { watcher: boolean; unacked: number; backlog: number; overAcked: number }[];
    input: { backlog: number; held: boolean; dropped: number };
  } {
    return {
      ringBytes: this.#ringBytes,
      batchBytes: this.#batchBytes,
      dropped: this.#dropped,
      input: { backlog: this.#inputBacklog(), held: this.#holding, dropped: this.#inputDropped },
      viewers: [...this.#viewers].map(([v, st]) => ({
        watcher: st.watcher,
        unacked: st.flow.unacked,
        backlog: v.backlog?.() ?? 0,
        overAcked: st.flow.totals.overAcked,
      })),
    };
  }

  /** The output offset a resuming page can continue from, or undefined when it must take the whole scrollback. */
  #resumeOffset(resume?: { instance: string; offset: number }): number | undefined {
    const start = this.#total - this.#ringBytes;
    return resume?.instance === this.instance && resume.offset >= start && resume.offset <= this.#total
      ? resume.offset
      : undefined;
  }

  /** Bytes a viewer resuming from `resume` would be replayed (the whole kept scrollback unless it can resume). */
  replayLength(resume?: { instance: string; offset: number }): number {
    this.#flush();
    const from = this.#resumeOffset(resume);
    return from === undefined ? this.#ringBytes : this.#total - from;
  }

  /**
   * The output offset where a viewer resuming from `resume` starts: what `term.ready` tells the page, so that the
   * replay plus this offset lands exactly on the live stream. Output still waiting in the batch (a console that just
   * printed, as a restored Xen host's does) is flushed first, so it counts in the total and in the replay alike.
   */
  replayStart(resume?: { instance: string; offset: number }): number {
    const replayed = this.replayLength(resume);
    return this.#total - replayed;
  }

  /**
   * Adds a viewer. With `resume` (the instance and byte offset the page already has), only the missing output is
   * replayed; otherwise the whole kept scrollback. Returns the offset the viewer is at after the replay.
   */
  attach(
    viewer: Viewer,
    resume?: { instance: string; offset: number },
    options: { watcher?: boolean } = {},
  ): { offset: number; replayed: number } {
    this.#flush();
    const watcher = options.watcher === true;
    // A watcher's backlog is the gateway's to bound (it drops a watcher that falls behind), never the learner's.
    const flow = watcher
      ? new FlowControl(
          () => undefined,
          () => undefined,
        )
      : new FlowControl(
          () => {
            if (this.#pausedBy++ === 0) this.#term.pause();
            this.#updateInputHold();
          },
          () => {
            if (--this.#pausedBy === 0) this.#term.resume();
            this.#updateInputHold();
          },
        );
    this.#viewers.set(viewer, { flow, watcher });
    if (this.#holding && !watcher) viewer.holdInput?.();
    const kept = Buffer.concat(this.#ring, this.#ringBytes);
    const resumeAt = this.#resumeOffset(resume);
    const from = resumeAt === undefined ? 0 : resumeAt - (this.#total - kept.length);
    const replay = kept.subarray(from);
    if (replay.length > 0) {
      viewer.send(replay);
      flow.sent(replay.length);
    }
    if (this.#exitCode !== undefined) viewer.exited(this.#exitCode);
    return { offset: this.#total, replayed: replay.length };
  }

  /** Output bytes the viewer's terminal has parsed. */
  ack(viewer: Viewer, bytes: number): void {
    this.#viewers.get(viewer)?.flow.acked(bytes);
  }

  detach(viewer: Viewer): void {
    const s = this.#viewers.get(viewer);
    if (!s) return;
    // A viewer leaving must not hold the shell paused.
    s.flow.release();
    this.#viewers.delete(viewer);
    if (!s.watcher && this.viewers === 0) this.#onIdle?.();
  }

  /**
   * Input for the shell. Never blocks: the driver queues what the shell has not taken; past
   * {@link INPUT_BACKLOG_BYTES} queued the learner's tabs are held unread, past {@link INPUT_LIMIT_BYTES} (or after
   * {@link INPUT_HOLD_MS} held) input is dropped until the shell has caught up.
   */
  write(data: Uint8Array): void {
    if (this.#exitCode !== undefined) return;
    if (!this.#droppingInput && this.#inputBacklog() + data.length > INPUT_LIMIT_BYTES) this.#startDropping();
    if (this.#droppingInput) {
      this.#inputDropped += data.length;
      return;
    }
    this.#term.write(data);
    this.#updateInputHold();
  }

  resize(cols: number, rows: number): void {
    const same = this.#size?.cols === cols && this.#size.rows === rows;
    this.#size = { cols, rows };
    if (this.#exitCode === undefined) this.#term.resize(cols, rows);
    if (!same) for (const [v, st] of this.#viewers) if (st.watcher) v.resized?.(cols, rows);
  }

  /** The pty's size as last set (a watcher's screen takes it, so the learner's lines wrap the same). */
  get size(): { cols: number; rows: number } | undefined {
    return this.#size;
  }

  kill(): void {
    this.#term.kill();
  }
}
