/**
 * What one room may ask of the gateway: connections (per address and in all), how long a socket may sit idle or
 * dribble a request, how big a body is, how fast new learners and guesses come. Defaults fit a room of 200 learners
 * behind one NAT address (each with a few sockets: page, terminal, lab panel, a second tab).
 * @module
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface GatewayLimits {
  /** Open TCP connections (HTTP and WebSocket) in all (default 4000; env XENLAB_MAX_CONNECTIONS). */
  maxConnections?: number;
  /** Open TCP connections from one address (default 1000; env XENLAB_MAX_CONNECTIONS_PER_IP). */
  maxConnectionsPerIp?: number;
  /** Time to receive a whole request, body included (default 30 s). */
  requestTimeoutMs?: number;
  /** Time to receive a request's headers, and for a new connection to send them (default 15 s). */
  headersTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open (default 5 s). */
  keepAliveTimeoutMs?: number;
  /** Largest JSON or form body of a POST (default 4 KiB). */
  maxBodyBytes?: number;
  /** New learners one address may create per minute (default 300; env XENLAB_NEW_LEARNERS_PER_IP_PER_MINUTE). */
  newLearnersPerIpPerMinute?: number;
  /** Environments one learner may have running at once (default 3; env XENLAB_LIVE_ENVIRONMENTS_PER_LEARNER). */
  liveEnvironmentsPerLearner?: number;
  /** Wrong instructor keys or resume codes one address may try per minute (default 10). */
  guessesPerIpPerMinute?: number;
}

export const DEFAULT_LIMITS: Required<GatewayLimits> = {
  maxConnections: 4000,
  maxConnectionsPerIp: 1000,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  maxBodyBytes: 4096,
  newLearnersPerIpPerMinute: 300,
  liveEnvironmentsPerLearner: 3,
  guessesPerIpPerMinute: 10,
};

/** The environment variables that set limits, by limit. */
export const LIMIT_ENV: Partial<Record<keyof GatewayLimits, string>> = {
  maxConnections: 'XENLAB_MAX_CONNECTIONS',
  maxConnectionsPerIp: 'XENLAB_MAX_CONNECTIONS_PER_IP',
  newLearnersPerIpPerMinute: 'XENLAB_NEW_LEARNERS_PER_IP_PER_MINUTE',
  liveEnvironmentsPerLearner: 'XENLAB_LIVE_ENVIRONMENTS_PER_LEARNER',
};

/**
 * Counts events per key in a fixed one-minute (or `windowMs`) window. Bounded: at most `maxKeys` keys are
 * remembered (the oldest windows go first), so a flood of addresses can not grow it without end.
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  readonly #hits = new Map<string, { start: number; n: number }>();

  constructor(limit: number, windowMs = 60_000, now: () => number = Date.now, maxKeys = 10_000) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#now = now;
    this.#maxKeys = maxKeys;
  }

  /** Whether `key` is still under its limit now (does not count). */
  allows(key: string): boolean {
    const h = this.#hits.get(key);
    return !h || this.#now() - h.start >= this.#windowMs || h.n < this.#limit;
  }

  /** Counts one event for `key`; false (and not counted) when the key is over its limit. */
  take(key: string): boolean {
    const now = this.#now();
    let h = this.#hits.get(key);
    if (!h || now - h.start >= this.#windowMs) {
      this.#hits.delete(key);
      if (this.#hits.size >= this.#maxKeys) {
        for (const [k, v] of this.#hits) {
          if (now - v.start >= this.#windowMs || this.#hits.size >= this.#maxKeys) this.#hits.delete(k);
          else break;
        }
      }
      h = { start: now, n: 0 };
      this.#hits.set(key, h);
    }
    if (h.n >= this.#limit) return false;
    h.n++;
    return true;
  }
}

/**
 * Caps open connections in all and per remote address: a connection over a cap is closed at once (with a 503 for
 * an HTTP client that waits for an answer), so idle sockets can not exhaust the process's file descriptors.
 */
export function capConnections(server: Server, limits: Required<GatewayLimits>): { readonly open: number } {
  const perIp = new Map<string, number>();
  let open = 0;
  server.on('connection', (socket: Socket) => {
    // A reset or a write to a closed peer ends this socket only, never the process.
    socket.on('error', () => socket.destroy());
    const ip = socket.remoteAddress ?? '?';
    const mine = perIp.get(ip) ?? 0;
    if (open >= limits.maxConnections || mine >= limits.maxConnectionsPerIp) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroySoon();
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    open++;
    perIp.set(ip, mine + 1);
    socket.once('close', () => {
      open--;
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    });
  });
  return {
    get open() {
      return open;
    },
  };
}
