import { CLOSE, GatewayError, TicketResponse } from '@xenlab/sandbox/protocol';
import { whenUnlocked } from './pace.js';
import { requestTicket } from './ticket.js';

/** What a protocol wants after its socket closed (not by {@link ReconnectingSocket.stop}). */
export type CloseVerdict =
  /** Reconnect with backoff; the text says why the link went (`Connection lost.`). */
  | { readonly reconnect: string }
  /** The gateway refused for good (an error in `PERMANENT_ERRORS` came before the close). */
  | 'permanent'
  /** Stay closed until `connect()` is called again (the shell exited). */
  | 'stay';

/** The protocol on top of a {@link ReconnectingSocket}: where to connect and what to do with its frames. */
export interface SocketProtocol {
  /** The gateway path (`PATHS.terminal`, `LAB_PATH`). */
  readonly path: string;
  /** Query parameters besides the ticket; undefined ones are left out. */
  readonly params: Readonly<Record<string, string | undefined>>;
  /** Progress while (re)connecting: `connecting`, or `closed` with the reconnect countdown. */
  state(state: 'connecting' | 'closed', detail: string): void;
  /** A new socket is on its way: forget what the previous one said. */
  created(): void;
  /** The socket is open: greet the gateway. */
  opened(): void;
  /** A frame: text (a JSON message) or binary (an ArrayBuffer). */
  message(data: ArrayBuffer | string): void;
  /** The socket closed; the protocol tidies up and says what next. A close 4003 is permanent whatever it says. */
  closed(ev: CloseEvent): CloseVerdict;
  /** Refused for good (close 4003 or `'permanent'`): nothing reconnects until the page is reloaded. */
  refused(detail: string): void;
  /** The course needs a code first (ticket refused with `GATEWAY_ERR_NOT_JOINED`); without it, that is retried. */
  notJoined?(detail: string): void;
  /**
   * The instructor locked this lab (ticket refused with `GATEWAY_ERR_LAB_LOCKED`): the socket connects by itself
   * once it is unlocked. Without it, `state('closed', detail)` says so.
   */
  locked?(detail: string): void;
}

/** What a page shows while its lab is locked. */
export const LOCKED_TEXT = 'This lab opens when your instructor unlocks it.';

/** Backoff after the n-th failed attempt in a row: 0.5 s, 1 s, 2 s… at most 10 s. */
function backoffMs(retry: number): number {
  return Math.min(10_000, 500 * 2 ** retry);
}

/**
 * A WebSocket to the gateway that keeps itself up: fetches a single-use ticket (the session cookie rides along),
 * opens `path?token=…`, and when the link drops reconnects with backoff; a permanent refusal (close 4003) or
 * {@link stop} ends it for good. Shared by the terminal and the lab channel, which add their protocols.
 */
export class ReconnectingSocket {
  #ws: WebSocket | undefined;
  #retry = 0;
  #stopped = false;
  #refused = false;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Waiting for the lab to be unlocked (aborted by stop). */
  #unlock: AbortController | undefined;
  readonly #protocol: SocketProtocol;

  constructor(protocol: SocketProtocol) {
    this.#protocol = protocol;
  }

  /** Whether {@link stop} was called: a stopped socket never connects again. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Whether the gateway refused for good (the lab's driver cannot run on this machine). */
  get refused(): boolean {
    return this.#refused;
  }

  /** The current socket (open or opening), or undefined between sockets. */
  get current(): WebSocket | undefined {
    return this.#ws;
  }

  /** The current socket when it is open. */
  get open(): WebSocket | undefined {
    return this.#ws?.readyState === WebSocket.OPEN ? this.#ws : undefined;
  }

  /** The link works (the protocol's greeting was answered): the next drop reconnects after the shortest wait. */
  resetBackoff(): void {
    this.#retry = 0;
  }

  async connect(): Promise<void> {
    if (this.#stopped || this.#refused) return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const protocol = this.#protocol;
    protocol.state('connecting', this.#retry ? 'Reconnecting…' : 'Connecting…');
    let ticket: TicketResponse;
    try {
      const lab = protocol.params.lab;
      const res = await requestTicket(lab);
      if (res.status === 423 && lab) {
        const body = (await res.json().catch(() => ({}))) as { code?: string };
        if (body.code === GatewayError.LAB_LOCKED) {
          this.#waitForUnlock(lab);
          return;
        }
      }
      if (res.status === 403 && protocol.notJoined) {
        const body = (await res.json().catch(() => ({}))) as { code?: string };
        if (body.code === 'GATEWAY_ERR_NOT_JOINED') {
          protocol.notJoined('Enter the course code to start.');
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
    const url = new URL(`${scheme}//${location.host}${protocol.path}`);
    url.searchParams.set('token', ticket.token);
    for (const [k, v] of Object.entries(protocol.params)) if (v) url.searchParams.set(k, v);
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    protocol.created();
    ws.onopen = () => {
      protocol.opened();
    };
    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      protocol.message(ev.data);
    };
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      if (this.#stopped) return;
      const verdict = protocol.closed(ev);
      // Permanent (the lab's driver cannot run here; the error before it said which, why and what to do):
      // reconnecting cannot help, so nothing does until the page is reloaded.
      if (verdict === 'permanent' || ev.code === CLOSE.UNAVAILABLE) {
        this.#refused = true;
        clearTimeout(this.#reconnectTimer);
        protocol.refused('This lab cannot run on this machine.');
        return;
      }
      if (verdict !== 'stay') this.#scheduleReconnect(verdict.reconnect);
    };
  }

  /** Says the lab is locked, then waits for the page's pacing to say it is not (no knocking meanwhile). */
  #waitForUnlock(lab: string): void {
    if (this.#stopped) return;
    if (this.#protocol.locked) this.#protocol.locked(LOCKED_TEXT);
    else this.#protocol.state('closed', LOCKED_TEXT);
    this.#unlock?.abort();
    const unlock = new AbortController();
    this.#unlock = unlock;
    whenUnlocked(lab, unlock.signal).then(
      () => {
        if (this.#unlock === unlock) this.#unlock = undefined;
        void this.connect();
      },
      () => undefined,
    );
  }

  #scheduleReconnect(why: string): void {
    if (this.#stopped || this.#refused) return;
    const delay = backoffMs(this.#retry++);
    this.#protocol.state('closed', `${why} Reconnecting in ${Math.ceil(delay / 1000)} s…`);
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.connect();
    }, delay);
  }

  /** Sends a JSON message if the socket is open (dropped otherwise: the next greeting says what matters). */
  sendJson(msg: unknown): void {
    this.open?.send(JSON.stringify(msg));
  }

  /** Drops the link as a network failure would (tests use it to prove the page recovers). */
  drop(): void {
    this.#ws?.close();
  }

  /** Ends the link for good: closes the socket, cancels a pending reconnect, never connects again. */
  stop(): void {
    this.#stopped = true;
    this.#unlock?.abort();
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    const ws = this.#ws;
    this.#ws = undefined;
    ws?.close();
  }
}
