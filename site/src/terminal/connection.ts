import {
  CLOSE,
  FLOW,
  PATHS,
  PERMANENT_ERRORS,
  PROTOCOL_VERSION,
  type ClientMessage,
  type ServerMessage,
} from '@xenlab/sandbox/protocol';
import { INPUT_CHUNK_BYTES, splitBytes } from './input.js';
import { pushPace, socketPushing } from './pace.js';
import { ReconnectingSocket, type CloseVerdict } from './reconnecting-socket.js';
import { mismatchDetail, mismatchLog, readServerMessage, type Issue } from './server-message.js';

/**
 * Input waits in the page while the socket has more than this queued and not yet sent: a 200 KiB paste goes out
 * as the link takes it (and as the gateway, which stops reading while the shell is not taking input, lets it),
 * not all at once into the browser's buffer.
 */
const INPUT_BUFFERED_HIGH = 4 * INPUT_CHUNK_BYTES;

/**
 * `starting`: the socket is open but the environment is still coming up (a nested Xen host boots for a minute or
 * two): the gateway sent `env.starting`, or `term.ready` is slow to come. `unavailable`: permanent — this lab's
 * driver cannot run on this machine; nothing reconnects until the page is reloaded. `locked`: the instructor locked
 * this lab; it connects by itself once unlocked. `mismatch`: permanent — the gateway sent a message this page cannot
 * read (a known type with a missing or wrong field: the page and the gateway disagree about the protocol); the
 * detail says which type and field, the console has the issues, and nothing reconnects until the page is reloaded.
 */
export type ConnectionState =
  'connecting' | 'starting' | 'open' | 'closed' | 'join' | 'unavailable' | 'locked' | 'mismatch';

/** Without `env.starting`, a socket still waiting for `term.ready` after this long counts as starting. */
export const SLOW_START_MS = 1_500;

export interface ConnectionEvents {
  /**
   * Terminal output, to be written to xterm.js; call `done` once it is parsed (that acknowledges the bytes).
   * Before `term.ready` it is the boot console of an environment coming up (display only: not acknowledged, not
   * counted in the resume offset; `reset` clears it when the terminal attaches, whose replay holds it again).
   */
  output(data: Uint8Array, done: () => void): void;
  /** The page must start over (a new shell, or output it missed is no longer kept): clear the screen. */
  reset(): void;
  message(msg: ServerMessage): void;
  state(state: ConnectionState, detail: string): void;
}

export interface TerminalTarget {
  /** Lab whose environment to attach (a plain lesson uses the playground). */
  readonly lab?: string;
  /** Instructor only: the environment id of a learner whose running terminal to watch (read-only). */
  readonly watch?: string;
  /** Terminal name within the environment. */
  readonly terminal?: string;
}

/**
 * One terminal's connection to the gateway (a {@link ReconnectingSocket}: ticket, WebSocket, backoff): greets with
 * the size and — after a dropped connection — with what it already shows, so only the missing output is replayed. Forwards keystrokes as binary frames, acknowledges output for flow control, and
 * reconnects with backoff when the link drops (not when the shell exits).
 */
export class TerminalConnection {
  readonly #socket: ReconnectingSocket;
  #size: { cols: number; rows: number };
  #unacked = 0;
  #exited = false;
  /** The current socket got an error in PERMANENT_ERRORS: its close refuses for good. */
  #permanent = false;
  /** The current socket got `term.ready` (output before it is boot console). */
  #ready = false;
  /** Boot console was written on this socket: the screen starts over on `term.ready`. */
  #bootShown = false;
  #slowTimer: ReturnType<typeof setTimeout> | undefined;
  /** A message could not be read: the connection stopped and says `mismatch` (nothing more is taken). */
  #mismatch = false;
  /** Input not yet sent (chunks of at most INPUT_CHUNK_BYTES), and the timer that sends more of it. */
  #pending: Uint8Array[] = [];
  #pumpTimer: ReturnType<typeof setTimeout> | undefined;
  /** What this page shows: the shell instance and how many of its output bytes. */
  #instance: string | undefined;
  #offset = 0;
  /** This socket pushes the room's pacing (`room.pace`): the page's store does not poll meanwhile. */
  #pushing: (() => void) | undefined;
  readonly #events: ConnectionEvents;
  readonly #encoder = new TextEncoder();

  constructor(size: { cols: number; rows: number }, events: ConnectionEvents, target: TerminalTarget = {}) {
    this.#size = size;
    this.#events = events;
    this.#socket = new ReconnectingSocket({
      path: PATHS.terminal,
      params: { lab: target.lab, watch: target.watch, terminal: target.terminal },
      state: (state, detail) => {
        events.state(state, detail);
      },
      notJoined: (detail) => {
        events.state('join', detail);
      },
      refused: (detail) => {
        events.state('unavailable', detail);
      },
      locked: (detail) => {
        events.state('locked', detail);
      },
      created: () => {
        this.#stopPushing();
        this.#unacked = 0;
        this.#ready = false;
        this.#bootShown = false;
        this.#permanent = false;
      },
      opened: () => {
        this.#opened();
      },
      message: (data) => {
        this.#message(data);
      },
      closed: (ev) => this.#closed(ev),
    });
  }

  /** Whether {@link stop} was called: a stopped connection never connects again. */
  get stopped(): boolean {
    return this.#socket.stopped;
  }

  /** Whether the gateway refused this terminal for good (its lab's driver cannot run on this machine). */
  get refused(): boolean {
    return this.#socket.refused;
  }

  connect(): Promise<void> {
    return this.#socket.connect();
  }

  #opened(): void {
    // A lab that takes a while (its driver says nothing yet): the page says it is starting, not "Connecting…".
    const ws = this.#socket.current;
    clearTimeout(this.#slowTimer);
    this.#slowTimer = setTimeout(() => {
      if (this.#socket.current === ws && !this.#ready)
        this.#events.state('starting', 'Starting the environment…');
    }, SLOW_START_MS);
    this.#send({
      type: 'term.hello',
      v: PROTOCOL_VERSION,
      ...this.#size,
      ...(this.#instance ? { resume: { instance: this.#instance, offset: this.#offset } } : {}),
    });
  }

  #message(data: ArrayBuffer | string): void {
    if (this.#mismatch) return;
    if (typeof data !== 'string') {
      const bytes = new Uint8Array(data);
      if (!this.#ready) {
        // The boot console, shown from its first line; the terminal's own output begins at term.ready.
        if (!this.#bootShown) {
          this.#bootShown = true;
          this.#events.reset();
        }
        this.#events.output(bytes, () => undefined);
        return;
      }
      this.#offset += bytes.length;
      this.#events.output(bytes, () => {
        this.#ack(bytes.length);
      });
      return;
    }
    const received = readServerMessage(data);
    if (received.kind === 'ignored') {
      console.warn(`[xenlab] ${received.warning}`);
      return;
    }
    if (received.kind === 'mismatch') {
      this.#disagree(received.type, received.issues, data);
      return;
    }
    if (received.warning) console.warn(`[xenlab] ${received.warning}`);
    const msg = received.msg;
    if (msg.type === 'term.ready') {
      this.#socket.resetBackoff();
      this.#exited = false;
      this.#ready = true;
      clearTimeout(this.#slowTimer);
      // Same shell and nothing missed: carry on. Otherwise (or when the boot console is on the screen) start the
      // screen over and take the replay.
      if (this.#bootShown || msg.instance !== this.#instance || msg.offset !== this.#offset)
        this.#events.reset();
      this.#bootShown = false;
      this.#instance = msg.instance;
      this.#offset = msg.offset;
      this.#events.state('open', msg.jailed ? 'Connected' : 'Connected (not jailed)');
    }
    if (msg.type === 'room.pace') {
      this.#pushing ??= socketPushing();
      pushPace(msg.pace);
    }
    if (msg.type === 'term.exit') this.#exited = true;
    if (msg.type === 'error' && PERMANENT_ERRORS.includes(msg.code)) this.#permanent = true;
    this.#events.message(msg);
    if (msg.type === 'env.starting' && !this.#ready) {
      clearTimeout(this.#slowTimer);
      this.#events.state('starting', `Starting: ${msg.what}`);
    }
    if (msg.type === 'env.queued' && !this.#ready) {
      // The room is full: the panel shows the place in line (the same state as a start, another title).
      clearTimeout(this.#slowTimer);
      this.#events.state('starting', `Waiting in line: place ${String(msg.place)}`);
    }
  }

  /**
   * The gateway sent what this page cannot read. Dropping it could leave the terminal waiting for good (a
   * `term.ready` dropped is a terminal stuck at "starting"), and reconnecting would get the same message: stop,
   * log what failed where, and ask for a reload (a page older than its gateway gets the gateway's own).
   */
  #disagree(type: string | undefined, issues: readonly Issue[], frame: string): void {
    this.#mismatch = true;
    console.error(...mismatchLog(type, issues, frame));
    this.stop();
    this.#events.state('mismatch', mismatchDetail(type, issues));
  }

  #stopPushing(): void {
    this.#pushing?.();
    this.#pushing = undefined;
  }

  #closed(ev: CloseEvent): CloseVerdict {
    clearTimeout(this.#slowTimer);
    this.#stopPushing();
    // Input not sent by now is not sent later, into whatever the shell is doing then.
    this.#pending = [];
    if (this.#permanent) return 'permanent';
    if (this.#exited && ev.code !== CLOSE.UNAVAILABLE) {
      this.#events.state('closed', 'The shell has exited. Press Enter to start a new one.');
      return 'stay';
    }
    return { reconnect: ev.code === 1009 ? 'A message was too big.' : 'Connection lost.' };
  }

  #send(msg: ClientMessage): void {
    this.#socket.sendJson(msg);
  }

  #ack(bytes: number): void {
    this.#unacked += bytes;
    if (this.#unacked >= FLOW.ACK_EVERY) {
      this.#send({ type: 'term.ack', bytes: this.#unacked });
      this.#unacked = 0;
    }
  }

  /**
   * Keystrokes or pasted text from xterm.js. Sent in frames of at most INPUT_CHUNK_BYTES (the gateway closes the
   * socket on a frame over MAX_FRAME_BYTES), and only as fast as the socket drains, in order.
   */
  input(data: string): void {
    if (this.#socket.stopped || this.#socket.refused) return;
    if (this.#exited && !this.#socket.current) {
      this.#instance = undefined;
      void this.connect();
      return;
    }
    if (!this.#socket.open) return;
    this.#pending.push(...splitBytes(this.#encoder.encode(data)));
    this.#pump();
  }

  /** Input bytes waiting in the page to be sent (tests read it; a paste shows progress with it). */
  get pendingInput(): number {
    return this.#pending.reduce((n, c) => n + c.length, 0);
  }

  #pump(): void {
    clearTimeout(this.#pumpTimer);
    this.#pumpTimer = undefined;
    const ws = this.#socket.open;
    if (!ws) {
      this.#pending = [];
      return;
    }
    while (this.#pending.length > 0 && ws.bufferedAmount < INPUT_BUFFERED_HIGH) {
      const chunk = this.#pending.shift();
      if (chunk) ws.send(chunk);
    }
    if (this.#pending.length > 0)
      this.#pumpTimer = setTimeout(() => {
        this.#pump();
      }, 10);
  }

  /** "I'm still here": calls off an idle countdown. */
  extend(): void {
    this.#send({ type: 'env.extend' });
  }

  /** Joins the course with the code the instructor gave, then connects. Resolves with an error text, if any. */
  async join(code: string, name: string): Promise<string | undefined> {
    const res = await fetch(PATHS.join, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code, ...(name ? { name } : {}) }),
    });
    if (!res.ok) {
      const body = (await res.json().catch(() => ({}))) as { message?: string };
      return body.message ?? `could not join (HTTP ${res.status})`;
    }
    await this.connect();
    return undefined;
  }

  resize(cols: number, rows: number): void {
    if (cols === this.#size.cols && rows === this.#size.rows) return;
    this.#size = { cols, rows };
    this.#send({ type: 'term.resize', cols, rows });
  }

  /** Drops the link as a network failure would (tests use it to prove the page recovers). */
  drop(): void {
    this.#socket.drop();
  }

  /** Ends the connection for good: closes the socket, cancels a pending reconnect, never connects again. */
  stop(): void {
    this.#socket.stop();
    this.#stopPushing();
    clearTimeout(this.#pumpTimer);
    clearTimeout(this.#slowTimer);
    this.#pending = [];
  }
}
