import {
  CLOSE,
  FLOW,
  PATHS,
  PERMANENT_ERRORS,
  PROTOCOL_VERSION,
  TicketResponse,
  parseServerMessage,
  type ClientMessage,
  type ServerMessage,
} from '@xenlab/sandbox/protocol';
import { INPUT_CHUNK_BYTES, splitBytes } from './input.js';
import { requestTicket } from './ticket.js';

/**
 * Input waits in the page while the socket has more than this queued and not yet sent: a 200 KiB paste goes out
 * as the link takes it (and as the gateway, which stops reading while the shell is not taking input, lets it),
 * not all at once into the browser's buffer.
 */
const INPUT_BUFFERED_HIGH = 4 * INPUT_CHUNK_BYTES;

/**
 * `starting`: the socket is open but the environment is still coming up (a nested Xen host boots for a minute or
 * two): the gateway sent `env.starting`, or `term.ready` is slow to come. `unavailable`: permanent — this lab's
 * driver cannot run on this machine; nothing reconnects until the page is reloaded.
 */
export type ConnectionState = 'connecting' | 'starting' | 'open' | 'closed' | 'join' | 'unavailable';

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
 * One terminal's connection to the gateway: fetches a single-use ticket (the session cookie rides along), opens
 * the WebSocket, greets with the size and — after a dropped connection — with what it already shows, so only the
 * missing output is replayed. Forwards keystrokes as binary frames, acknowledges output for flow control, and
 * reconnects with backoff when the link drops (not when the shell exits).
 */
export class TerminalConnection {
  #ws: WebSocket | undefined;
  #size: { cols: number; rows: number };
  #unacked = 0;
  #retry = 0;
  #stopped = false;
  #exited = false;
  /** The gateway said this lab cannot run here (close 4003 / a permanent error): no reconnect, ever. */
  #refused = false;
  /** The current socket got `term.ready` (output before it is boot console). */
  #ready = false;
  /** Boot console was written on this socket: the screen starts over on `term.ready`. */
  #bootShown = false;
  #slowTimer: ReturnType<typeof setTimeout> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Input not yet sent (chunks of at most INPUT_CHUNK_BYTES), and the timer that sends more of it. */
  #pending: Uint8Array[] = [];
  #pumpTimer: ReturnType<typeof setTimeout> | undefined;
  /** What this page shows: the shell instance and how many of its output bytes. */
  #instance: string | undefined;
  #offset = 0;
  readonly #target: TerminalTarget;
  readonly #events: ConnectionEvents;
  readonly #encoder = new TextEncoder();

  constructor(size: { cols: number; rows: number }, events: ConnectionEvents, target: TerminalTarget = {}) {
    this.#size = size;
    this.#events = events;
    this.#target = target;
  }

  /** Whether {@link stop} was called: a stopped connection never connects again. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Whether the gateway refused this terminal for good (its lab's driver cannot run on this machine). */
  get refused(): boolean {
    return this.#refused;
  }

  async connect(): Promise<void> {
    if (this.#stopped || this.#refused) return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#events.state('connecting', this.#retry ? 'Reconnecting…' : 'Connecting…');
    let ticket: TicketResponse;
    try {
      const res = await requestTicket();
      if (res.status === 403) {
        const body = (await res.json().catch(() => ({}))) as { code?: string };
        if (body.code === 'GATEWAY_ERR_NOT_JOINED') {
          this.#events.state('join', 'Enter the course code to start.');
          return;
        }
      }
      if (!res.ok) throw new Error(`ticket: HTTP ${res.status}`);
      ticket = TicketResponse.parse(await res.json());
    } catch {
      this.#scheduleReconnect('The lab server is not answering.');
      return;
    }
    // Stopped while the ticket was on its way (the element left the page): no socket.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may have run during the await
    if (this.#stopped || this.#refused) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = new URL(`${scheme}//${location.host}${PATHS.terminal}`);
    url.searchParams.set('token', ticket.token);
    if (this.#target.lab) url.searchParams.set('lab', this.#target.lab);
    if (this.#target.watch) url.searchParams.set('watch', this.#target.watch);
    if (this.#target.terminal) url.searchParams.set('terminal', this.#target.terminal);
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    this.#unacked = 0;
    this.#ready = false;
    this.#bootShown = false;
    let permanent = false;
    ws.onopen = () => {
      // A lab that takes a while (its driver says nothing yet): the page says it is starting, not "Connecting…".
      clearTimeout(this.#slowTimer);
      this.#slowTimer = setTimeout(() => {
        if (this.#ws === ws && !this.#ready) this.#events.state('starting', 'Starting the environment…');
      }, SLOW_START_MS);
      this.#send({
        type: 'term.hello',
        v: PROTOCOL_VERSION,
        ...this.#size,
        ...(this.#instance ? { resume: { instance: this.#instance, offset: this.#offset } } : {}),
      });
    };
    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data !== 'string') {
        const bytes = new Uint8Array(ev.data);
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
      const parsed = parseServerMessage(ev.data);
      if (!parsed.ok) return;
      const msg = parsed.value;
      if (msg.type === 'term.ready') {
        this.#retry = 0;
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
      if (msg.type === 'term.exit') this.#exited = true;
      if (msg.type === 'error' && PERMANENT_ERRORS.includes(msg.code)) permanent = true;
      this.#events.message(msg);
      if (msg.type === 'env.starting' && !this.#ready) {
        clearTimeout(this.#slowTimer);
        this.#events.state('starting', `Starting: ${msg.what}`);
      }
    };
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      clearTimeout(this.#slowTimer);
      // Input not sent by now is not sent later, into whatever the shell is doing then.
      this.#pending = [];
      if (this.#stopped) return;
      // Permanent (the lab's driver cannot run here; the error before it said which, why and what to do):
      // reconnecting cannot help, so nothing does until the page is reloaded.
      if (permanent || ev.code === CLOSE.UNAVAILABLE) {
        this.#refused = true;
        clearTimeout(this.#reconnectTimer);
        this.#events.state('unavailable', 'This lab cannot run on this machine.');
        return;
      }
      if (this.#exited) {
        this.#events.state('closed', 'The shell has exited. Press Enter to start a new one.');
        return;
      }
      this.#scheduleReconnect(ev.code === 1009 ? 'A message was too big.' : 'Connection lost.');
    };
  }

  #scheduleReconnect(why: string): void {
    if (this.#stopped || this.#refused) return;
    const delay = Math.min(10_000, 500 * 2 ** this.#retry++);
    this.#events.state('closed', `${why} Reconnecting in ${Math.ceil(delay / 1000)} s…`);
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }

  #send(msg: ClientMessage): void {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(msg));
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
    if (this.#stopped || this.#refused) return;
    if (this.#exited && !this.#ws) {
      this.#instance = undefined;
      void this.connect();
      return;
    }
    if (this.#ws?.readyState !== WebSocket.OPEN) return;
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
    const ws = this.#ws;
    if (ws?.readyState !== WebSocket.OPEN) {
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
    this.#ws?.close();
  }

  /** Ends the connection for good: closes the socket, cancels a pending reconnect, never connects again. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#pumpTimer);
    clearTimeout(this.#slowTimer);
    this.#reconnectTimer = undefined;
    this.#pending = [];
    const ws = this.#ws;
    this.#ws = undefined;
    ws?.close();
  }
}
