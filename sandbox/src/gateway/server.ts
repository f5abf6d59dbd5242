import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { GatewayError, MAX_FRAME_BYTES, PATHS } from '../protocol/index.js';
import type { TicketResponse } from '../protocol/index.js';
import type { SandboxDriver } from '../drivers/types.js';
import { OriginPolicy } from './origins.js';
import { createStaticSite } from './static-site.js';
import { linkTerminal } from './terminal-link.js';
import { TicketIssuer, isSessionId, newSessionId } from './tickets.js';

const COOKIE = 'xenlab_sid';

export interface GatewayOptions {
  /** Address to bind; loopback unless told otherwise. */
  host?: string;
  /** Port; 0 picks a free one. */
  port?: number;
  /** The built course site (`site/dist`); without it only the API and WebSocket are served. */
  siteDir?: string;
  /** Where learners' scratch homes live. */
  dataDir: string;
  /** Runs the shells. */
  driver: SandboxDriver;
  /** Origins allowed besides the gateway's own (e.g. the Astro dev server's). */
  allowedOrigins?: readonly string[];
  /** Lifetime of a WebSocket ticket (ms). */
  ticketTtlMs?: number;
  /** Interval between WebSocket pings; a socket that missed the previous pong is terminated. */
  heartbeatMs?: number;
  /** Extra environment for every shell (e.g. the learner's XenAPI endpoint). */
  shellEnv?: (sessionId: string) => Record<string, string>;
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Number of live terminals (shells running now). */
  readonly terminals: number;
  /** Number of shells ever started: a refused upgrade must never change it. */
  readonly spawned: number;
  close(): Promise<void>;
}

function readCookie(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return isSessionId(v) ? v : null;
    }
  }
  return null;
}

/** Refuses an upgrade with a plain HTTP answer, before any WebSocket (or shell) exists. */
function refuseUpgrade(socket: Duplex, status: number, code: GatewayError, message: string): void {
  const body = JSON.stringify({ code, message });
  const reason = status === 401 ? 'Unauthorized' : status === 404 ? 'Not Found' : 'Forbidden';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/**
 * Starts the gateway: one HTTP server for the built site, the ticket API and the terminal WebSocket.
 *
 * Every upgrade is checked (Host, Origin, a single-use ticket bound to the browser's session cookie) before the
 * WebSocket is accepted, so a refused client never gets a shell.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const host = options.host ?? '127.0.0.1';
  const tickets = new TicketIssuer(options.ticketTtlMs === undefined ? {} : { ttlMs: options.ticketTtlMs });
  const site = options.siteDir ? createStaticSite(options.siteDir) : undefined;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    clientTracking: true,
  });
  let policy = new OriginPolicy([]);
  const alive = new WeakMap<WebSocket, boolean>();
  let terminals = 0;
  let spawned = 0;

  const server = createServer(
    { noDelay: true, maxHeaderSize: 16 * 1024, requestTimeout: 30_000 },
    (req, res) => {
      if (!policy.allowsHost(req.headers.host)) {
        json(res, 403, { code: GatewayError.BAD_HOST, message: 'unknown Host header' });
        return;
      }
      const path = (req.url ?? '/').split('?')[0];
      if (path === PATHS.ticket) {
        if (req.method !== 'POST') {
          json(res, 405, { code: 'GATEWAY_ERR_METHOD', message: 'use POST' }, { Allow: 'POST' });
          return;
        }
        const origin = req.headers.origin;
        if (origin !== undefined && !policy.allowsOrigin(origin)) {
          json(res, 403, {
            code: GatewayError.BAD_ORIGIN,
            message: `origin ${origin} may not open terminals here`,
          });
          return;
        }
        let sid = readCookie(req, COOKIE);
        const headers: Record<string, string> = {};
        if (!sid) {
          sid = newSessionId();
          headers['Set-Cookie'] = `${COOKIE}=${sid}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000`;
        }
        const body: TicketResponse = { token: tickets.issue(sid), expiresInMs: tickets.ttlMs };
        json(res, 200, body, headers);
        return;
      }
      if (path === '/api/health') {
        json(res, 200, { ok: true, driver: options.driver.name, jailed: options.driver.jailed, terminals });
        return;
      }
      if (site?.(req, res)) return;
      json(res, 404, { code: 'GATEWAY_ERR_NOT_FOUND', message: 'not found' });
    },
  );
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway');
    } catch {
      refuseUpgrade(socket, 404, GatewayError.BAD_MESSAGE, 'bad request URL');
      return;
    }
    if (url.pathname !== PATHS.terminal) {
      refuseUpgrade(socket, 404, GatewayError.BAD_MESSAGE, 'no WebSocket endpoint here');
      return;
    }
    if (!policy.allowsHost(req.headers.host)) {
      refuseUpgrade(socket, 403, GatewayError.BAD_HOST, 'unknown Host header');
      return;
    }
    if (!policy.allowsOrigin(req.headers.origin)) {
      refuseUpgrade(
        socket,
        403,
        GatewayError.BAD_ORIGIN,
        `origin ${req.headers.origin ?? '(none)'} may not open terminals here`,
      );
      return;
    }
    const check = tickets.redeem(url.searchParams.get('token'), readCookie(req, COOKIE));
    if (!check.ok) {
      refuseUpgrade(socket, 401, check.code, check.reason);
      return;
    }
    const sessionId = check.sessionId;
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {
        // A broken client (bad frame, too big, reset) only ever ends its own socket; ws closes it with the
        // matching code (1009 for an oversized frame) and the 'close' handler frees the shell.
      });
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      const home = join(
        options.dataDir,
        'homes',
        createHash('sha256').update(sessionId).digest('hex').slice(0, 24),
      );
      linkTerminal(
        ws,
        async (size) => {
          const sandbox = await options.driver.create({
            id: sessionId,
            home,
            env: options.shellEnv?.(sessionId) ?? {},
          });
          const term = sandbox.attachTerminal(size);
          terminals++;
          spawned++;
          term.onExit(() => {
            terminals--;
          });
          return term;
        },
        { driver: options.driver.name, jailed: options.driver.jailed, notice: options.driver.notice },
      );
    });
  });

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, options.heartbeatMs ?? 30_000);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  policy = OriginPolicy.forListen(host, port, options.allowedOrigins ?? []);
  const shown = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${shown}:${port}`,
    port,
    server,
    get terminals() {
      return terminals;
    },
    get spawned() {
      return spawned;
    },
    close: async () => {
      clearInterval(heartbeat);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}
