import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../protocol/index.js';

/** A browser session id: 128 random bits, base64url. Lives in an HttpOnly, SameSite=Strict cookie. */
export const newSessionId = (): string => randomBytes(16).toString('base64url');

/** Only well-formed session ids are accepted from cookies (anything else is treated as no session). */
export const isSessionId = (s: string): boolean => /^[A-Za-z0-9_-]{22}$/.test(s);

export type TicketCheck = { ok: true; sessionId: string } | { ok: false; code: GatewayError; reason: string };

export interface TicketOptions {
  /** How long a ticket may wait before it is used (ms). Short: the page asks for one right before connecting. */
  ttlMs?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** HMAC key; random per process by default (tickets never need to survive a restart). */
  key?: Buffer;
}

/**
 * Short-lived, single-use WebSocket tickets bound to a browser session.
 *
 * A ticket is `nonce.expiry.mac` where mac = HMAC(key, sessionId|nonce|expiry). It is useless without the session
 * cookie it was minted for, expires in seconds, and is burnt on first use, so one leaked from a log or a URL can
 * not be replayed (perf-security.md E-checklist #3).
 */
export class TicketIssuer {
  readonly ttlMs: number;
  readonly #now: () => number;
  readonly #key: Buffer;
  readonly #used = new Map<string, number>();

  constructor(options: TicketOptions = {}) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.#now = options.now ?? Date.now;
    this.#key = options.key ?? randomBytes(32);
  }

  #mac(sessionId: string, nonce: string, expiry: string): string {
    return createHmac('sha256', this.#key).update(`${sessionId}|${nonce}|${expiry}`).digest('base64url');
  }

  /** Mints a ticket for this browser session. */
  issue(sessionId: string): string {
    const nonce = randomBytes(12).toString('base64url');
    const expiry = String(this.#now() + this.ttlMs);
    return `${nonce}.${expiry}.${this.#mac(sessionId, nonce, expiry)}`;
  }

  /** Checks a ticket against the session cookie of the upgrade request, and burns it. */
  redeem(ticket: string | null, sessionId: string | null): TicketCheck {
    if (!ticket)
      return { ok: false, code: GatewayError.NO_TOKEN, reason: 'no token: fetch one from /api/ticket first' };
    const parts = ticket.split('.');
    if (parts.length !== 3 || !sessionId) {
      return {
        ok: false,
        code: GatewayError.BAD_TOKEN,
        reason: 'token is malformed or not for this browser session',
      };
    }
    const [nonce = '', expiry = '', mac = ''] = parts;
    const want = Buffer.from(this.#mac(sessionId, nonce, expiry));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) {
      return {
        ok: false,
        code: GatewayError.BAD_TOKEN,
        reason: 'token is not valid for this browser session',
      };
    }
    const now = this.#now();
    const exp = Number(expiry);
    if (!Number.isFinite(exp) || exp < now) {
      return { ok: false, code: GatewayError.TOKEN_EXPIRED, reason: 'token expired: reload the page' };
    }
    this.#prune(now);
    if (this.#used.has(nonce)) {
      return { ok: false, code: GatewayError.TOKEN_REUSED, reason: 'token was already used' };
    }
    this.#used.set(nonce, exp);
    return { ok: true, sessionId };
  }

  #prune(now: number): void {
    for (const [nonce, exp] of this.#used) if (exp < now) this.#used.delete(nonce);
  }
}

/**
 * Resume codes: a learner's way back to their environments from another browser (or after the cookie was lost).
 * A code is `<learner id>.<HMAC(key, learner id)>` (128 bits of MAC): long and unguessable, never stored (the key
 * lives in the data directory, not in the database), the same each time the learner asks, for one learner only.
 */
export class ResumeCodes {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    this.#key = key;
  }

  #mac(learnerId: string): string {
    return createHmac('sha256', this.#key)
      .update(`xenlab-resume-v1|${learnerId}`)
      .digest('base64url')
      .slice(0, 22);
  }

  /** The learner's resume code. */
  codeFor(learnerId: string): string {
    return `${learnerId}.${this.#mac(learnerId)}`;
  }

  /** The learner a code is for, or null for anything else. */
  learnerOf(code: string | null | undefined): string | null {
    if (!code || code.length > 128) return null;
    const dot = code.lastIndexOf('.');
    if (dot <= 0) return null;
    const id = code.slice(0, dot);
    const want = Buffer.from(this.#mac(id));
    const got = Buffer.from(code.slice(dot + 1));
    return want.length === got.length && timingSafeEqual(want, got) ? id : null;
  }
}
