import {
  FLOW,
  PATHS,
  PROTOCOL_VERSION,
  TicketResponse,
  parseServerMessage,
  type ClientMessage,
  type ServerMessage,
} from '@xenlab/sandbox/protocol';

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface ConnectionEvents {
  /** Terminal output, to be written to xterm.js; call `done` once it is parsed (that acknowledges the bytes). */
  output(data: Uint8Array, done: () => void): void;
  message(msg: ServerMessage): void;
  state(state: ConnectionState, detail: string): void;
}

/**
 * One terminal's connection to the gateway: fetches a single-use ticket (the session cookie rides along), opens
 * the WebSocket, greets with the size, forwards keystrokes as binary frames, acknowledges output for flow control,
 * and reconnects with backoff when the link drops (not when the shell exits).
 */
export class TerminalConnection {
  #ws: WebSocket | undefined;
  #size: { cols: number; rows: number };
  #unacked = 0;
  #retry = 0;
  #stopped = false;
  #exited = false;
  readonly #events: ConnectionEvents;
  readonly #encoder = new TextEncoder();

  constructor(size: { cols: number; rows: number }, events: ConnectionEvents) {
    this.#size = size;
    this.#events = events;
  }

  async connect(): Promise<void> {
    this.#exited = false;
    this.#events.state('connecting', this.#retry ? 'Reconnecting…' : 'Connecting…');
    let ticket: TicketResponse;
    try {
      const res = await fetch(PATHS.ticket, { method: 'POST', credentials: 'same-origin' });
      if (!res.ok) throw new Error(`ticket: HTTP ${res.status}`);
      ticket = TicketResponse.parse(await res.json());
    } catch {
      this.#scheduleReconnect('The gateway is not answering.');
      return;
    }
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(
      `${scheme}//${location.host}${PATHS.terminal}?token=${encodeURIComponent(ticket.token)}`,
    );
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    this.#unacked = 0;
    ws.onopen = () => {
      this.#retry = 0;
      this.#send({ type: 'term.hello', v: PROTOCOL_VERSION, ...this.#size });
    };
    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data !== 'string') {
        const bytes = new Uint8Array(ev.data);
        this.#events.output(bytes, () => {
          this.#ack(bytes.length);
        });
        return;
      }
      const parsed = parseServerMessage(ev.data);
      if (!parsed.ok) return;
      const msg = parsed.value;
      if (msg.type === 'term.ready')
        this.#events.state('open', msg.jailed ? 'Connected' : 'Connected (not jailed)');
      if (msg.type === 'term.exit') this.#exited = true;
      this.#events.message(msg);
    };
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      if (this.#stopped) return;
      if (this.#exited) {
        this.#events.state('closed', 'The shell has exited. Press Enter to start a new one.');
        return;
      }
      this.#scheduleReconnect(ev.code === 1009 ? 'A message was too big.' : 'Connection lost.');
    };
  }

  #scheduleReconnect(why: string): void {
    if (this.#stopped) return;
    const delay = Math.min(10_000, 500 * 2 ** this.#retry++);
    this.#events.state('closed', `${why} Reconnecting in ${Math.ceil(delay / 1000)} s…`);
    setTimeout(() => {
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

  /** Keystrokes or pasted text from xterm.js. */
  input(data: string): void {
    if (this.#exited && !this.#ws) {
      void this.connect();
      return;
    }
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(this.#encoder.encode(data));
  }

  resize(cols: number, rows: number): void {
    if (cols === this.#size.cols && rows === this.#size.rows) return;
    this.#size = { cols, rows };
    this.#send({ type: 'term.resize', cols, rows });
  }

  stop(): void {
    this.#stopped = true;
    this.#ws?.close();
  }
}
