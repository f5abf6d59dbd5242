import {
  CLOSE,
  LAB_PATH,
  LAB_PROTOCOL_VERSION,
  TicketResponse,
  parseLabServerMessage,
  type LabClientMessage,
  type LabServerMessage,
} from '@xenlab/sandbox/protocol';
import { requestTicket } from '../../terminal/ticket.js';

/**
 * The page's lab channel: a ticket (the session cookie rides along), then `/ws/lab?lab=<id>&token=…`, `lab.hello`,
 * and the grader's messages from then on. Reconnects with backoff when the link drops.
 */
export class LabConnection {
  #ws: WebSocket | undefined;
  #retry = 0;
  #stopped = false;
  readonly #lab: string;
  readonly #onMessage: (msg: LabServerMessage) => void;
  readonly #onState: (state: 'connecting' | 'open' | 'closed', detail: string) => void;

  constructor(
    lab: string,
    onMessage: (msg: LabServerMessage) => void,
    onState: (state: 'connecting' | 'open' | 'closed', detail: string) => void,
  ) {
    this.#lab = lab;
    this.#onMessage = onMessage;
    this.#onState = onState;
  }

  async connect(): Promise<void> {
    this.#onState('connecting', this.#retry ? 'Reconnecting…' : 'Connecting…');
    let ticket: TicketResponse;
    try {
      const res = await requestTicket();
      if (!res.ok) throw new Error(`ticket: HTTP ${res.status}`);
      ticket = TicketResponse.parse(await res.json());
    } catch {
      this.#reconnect('The lab server is not answering.');
      return;
    }
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = new URL(`${scheme}//${location.host}${LAB_PATH}`);
    url.searchParams.set('lab', this.#lab);
    url.searchParams.set('token', ticket.token);
    const ws = new WebSocket(url);
    this.#ws = ws;
    ws.onopen = () => {
      this.#retry = 0;
      this.send({ type: 'lab.hello', v: LAB_PROTOCOL_VERSION });
      this.#onState('open', 'Live');
    };
    ws.onmessage = (ev: MessageEvent<unknown>) => {
      if (typeof ev.data !== 'string') return;
      const parsed = parseLabServerMessage(ev.data);
      if (parsed.ok) this.#onMessage(parsed.value);
    };
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      // Permanent (the lab's driver cannot run here; the error before it said why): reconnecting cannot help.
      if (ev.code === CLOSE.UNAVAILABLE) {
        this.#stopped = true;
        this.#onState('closed', 'This lab cannot run on this machine.');
        return;
      }
      this.#reconnect('Connection lost.');
    };
  }

  #reconnect(why: string): void {
    if (this.#stopped) return;
    const delay = Math.min(10_000, 500 * 2 ** this.#retry++);
    this.#onState('closed', `${why} Reconnecting in ${Math.ceil(delay / 1000)} s…`);
    setTimeout(() => {
      void this.connect();
    }, delay);
  }

  send(msg: LabClientMessage): void {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(msg));
  }

  stop(): void {
    this.#stopped = true;
    this.#ws?.close();
  }
}
