import WebSocket from 'ws';
import { FLOW, PATHS, PROTOCOL_VERSION, parseServerMessage } from '../../sandbox/src/protocol/index.js';
import type { ServerMessage } from '../../sandbox/src/protocol/index.js';

/** Removes terminal escape sequences (CSI, OSC, charset selects) and carriage returns. */
export function stripAnsi(s: string): string {
  return s.replace(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r/g,
    '',
  );
}

/** A browser's session: its cookie jar (one cookie) and origin. */
export interface BrowserSession {
  cookie: string;
  origin: string;
}

/** Asks the gateway for a ticket the way the page does; returns the token and the session cookie. */
export async function fetchTicket(base: string, cookie?: string): Promise<{ token: string; cookie: string }> {
  const res = await fetch(new URL(PATHS.ticket, base), {
    method: 'POST',
    headers: { Origin: new URL(base).origin, ...(cookie ? { Cookie: cookie } : {}) },
  });
  if (!res.ok) throw new Error(`ticket: HTTP ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { token: string };
  const set = res.headers.get('set-cookie');
  // Like a browser's jar: a new cookie joins the ones already held.
  const fresh = set ? (set.split(';')[0] ?? '') : '';
  return { token: body.token, cookie: [cookie, fresh].filter(Boolean).join('; ') };
}

/** A terminal client over the real WebSocket: records output, acknowledges it (like xterm.js does), waits for text. */
export class TerminalClient {
  readonly ws: WebSocket;
  /** Everything received as text; tests may reset it (`output = ''`) to wait for what comes next. */
  get output(): string {
    return this.#output;
  }
  set output(text: string) {
    this.#output = text;
    this.#plainSource = '';
    this.#plainDone = '';
  }
  #output = '';
  bytes = 0;
  readonly messages: ServerMessage[] = [];
  closed: { code: number; reason: string } | undefined;
  autoAck = true;
  /** The browser session cookie this client used (to come back as the same learner). */
  cookie = '';
  #unacked = 0;
  #waiters: (() => void)[] = [];

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data);
      if (isBinary) {
        this.#output += buf.toString('utf8');
        if (this.#output.length > 4_000_000) this.output = this.#output.slice(-1_000_000);
        this.bytes += buf.length;
        this.#unacked += buf.length;
        if (this.autoAck && this.#unacked >= FLOW.ACK_EVERY) this.ack();
      } else {
        const m = parseServerMessage(buf.toString('utf8'));
        if (m.ok) this.messages.push(m.value);
      }
      this.#wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.#wake();
    });
  }

  /** The `term.ready` message of this connection. */
  get ready(): Extract<ServerMessage, { type: 'term.ready' }> {
    const r = this.messages.find((m) => m.type === 'term.ready');
    if (r?.type !== 'term.ready') throw new Error('no term.ready yet');
    return r;
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  ack(): void {
    if (this.#unacked > 0) this.send({ type: 'term.ack', bytes: this.#unacked });
    this.#unacked = 0;
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  type(text: string): void {
    this.ws.send(Buffer.from(text, 'utf8'));
  }

  /** Resolves when `pred` holds, re-checked on every frame; rejects after `ms` with what was seen. */
  async until(pred: (c: this) => boolean, ms = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred(this)) {
      const left = deadline - Date.now();
      if (left <= 0 || (this.closed && !pred(this))) {
        throw new Error(
          `timed out waiting for ${what}; closed=${JSON.stringify(this.closed)}; tail=${JSON.stringify(this.output.slice(-300))}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Output as a learner reads it: escape sequences and carriage returns removed. */
  get plain(): string {
    // Stripped incrementally, a line at a time: re-stripping megabytes of output on every frame made a 3 MB flood
    // take seconds of the test's own CPU. Started again whenever `output` is replaced or trimmed (its setter).
    const out = this.output;
    const cut = out.lastIndexOf('\n') + 1;
    if (cut > this.#plainSource.length) {
      this.#plainDone += stripAnsi(out.slice(this.#plainSource.length, cut));
      this.#plainSource = out.slice(0, cut);
    }
    return this.#plainDone + stripAnsi(out.slice(this.#plainSource.length));
  }
  #plainSource = '';
  #plainDone = '';

  /** Waits until the plain output matches (use `m` flag and ^/$ for whole lines). */
  async waitFor(re: RegExp, ms = 10_000): Promise<void> {
    await this.until((c) => re.test(c.plain), ms, String(re));
  }

  close(): void {
    this.ws.close();
  }
}

/** Opens a terminal like the page does: ticket, upgrade with cookie and origin, hello; waits for `term.ready`. */
export async function openTerminal(
  base: string,
  opts: {
    cols?: number;
    rows?: number;
    cookie?: string;
    hello?: boolean;
    lab?: string;
    terminal?: string;
    /** Instructor only: watch this environment's running terminal (read-only). */
    watch?: string;
    resume?: { instance: string; offset: number };
  } = {},
): Promise<TerminalClient> {
  const { token, cookie } = await fetchTicket(base, opts.cookie);
  const url = new URL(`${PATHS.terminal}?token=${encodeURIComponent(token)}`, base.replace(/^http/, 'ws'));
  if (opts.lab) url.searchParams.set('lab', opts.lab);
  if (opts.terminal) url.searchParams.set('terminal', opts.terminal);
  if (opts.watch) url.searchParams.set('watch', opts.watch);
  const ws = new WebSocket(url, { headers: { Origin: new URL(base).origin, Cookie: cookie } });
  const client = new TerminalClient(ws);
  client.cookie = cookie;
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      resolve();
    });
    ws.once('error', reject);
  });
  if (opts.hello !== false) {
    client.send({
      type: 'term.hello',
      v: PROTOCOL_VERSION,
      cols: opts.cols ?? 80,
      rows: opts.rows ?? 24,
      ...(opts.resume ? { resume: opts.resume } : {}),
    });
    await client.until((c) => c.messages.some((m) => m.type === 'term.ready'), 10_000, 'term.ready');
  }
  return client;
}

/** Tries an upgrade with explicit headers; resolves with the HTTP status it was refused with (or 101). */
export function tryUpgrade(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101, body: '' });
    });
    ws.on('error', () => undefined);
  });
}
