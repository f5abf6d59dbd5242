import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { GatewayError } from '../protocol/index.js';
import type { OriginPolicy } from './origins.js';

/** The address a request comes from (the key of per-address limits). */
export const clientIp = (req: IncomingMessage): string => req.socket.remoteAddress ?? '?';

/** The request's path, without the query. */
export const pathOf = (req: IncomingMessage): string => (req.url ?? '/').split('?')[0] ?? '/';

/** The request's query parameters. */
export const queryOf = (req: IncomingMessage): URLSearchParams =>
  new URL(req.url ?? '/', 'http://gateway').searchParams;

/** Escapes text for HTML. */
export const esc = (t: string): string => t.replace(/[&<>"']/g, (c) => `&#${String(c.charCodeAt(0))};`);

export function json(
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

/** A minimal page (no script, no style: it passes any CSP) for answers a browser shows, not a script. */
export function page(
  res: ServerResponse,
  status: number,
  title: string,
  text: string,
  headers: Record<string, string>,
): void {
  const body = `<!doctype html><html lang="en"><meta charset="utf-8"><title>${esc(title)} · xenlab</title><h1>${esc(title)}</h1><p>${esc(text)}</p><p><a href="/">Back to the course</a></p></html>`;
  res
    .writeHead(status, {
      ...headers,
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': "default-src 'none'",
      'Cache-Control': 'no-store',
    })
    .end(body);
}

export const TOO_BIG = Symbol('too big');

/**
 * Reads a small body: its text, TOO_BIG past `max` bytes, or null when the client broke off (aborted, reset, timed
 * out). Never rejects: a request that goes away mid-body ends that request only.
 */
export function readBody(req: IncomingMessage, max: number): Promise<string | typeof TOO_BIG | null> {
  return new Promise((resolve) => {
    let size = 0;
    let done = false;
    const chunks: Buffer[] = [];
    const finish = (v: string | typeof TOO_BIG | null) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      resolve(v);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) finish(TOO_BIG);
      else chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => {
      finish(Buffer.concat(chunks).toString('utf8'));
    });
    req.once('error', () => {
      finish(null);
    });
    req.once('close', () => {
      finish(null);
    });
  });
}

/**
 * Whether a state-changing request comes from the course site: an Origin of ours, or (without one) a
 * Sec-Fetch-Site that says same-origin/same-site. A browser sends at least one of them with every POST; a client
 * that sends neither is not a browser (curl, a test), so it can not be a cross-site forgery.
 */
export const fromSite = (req: IncomingMessage, policy: OriginPolicy, strict = false): boolean => {
  const origin = req.headers.origin;
  if (origin !== undefined) return policy.allowsOrigin(origin);
  const site = req.headers['sec-fetch-site'];
  if (site === undefined) return !strict;
  return site === 'same-origin' || site === 'same-site';
};

/** What handlers share to stay safe: no request can end the process, and a handler that throws is answered 500. */
export interface HandlerKit {
  /** The origin policy: it knows the gateway's own origin once the server listens, so ask it per request. */
  policy(): OriginPolicy;
  /** Body limit (413 past it). */
  readonly maxBodyBytes: number;
  /** A handler threw: logged, answered 500 (or the connection cut when the answer had begun); the rest carries on. */
  failed(req: IncomingMessage, res: ServerResponse, err: unknown): void;
  /** Every request: errors on its streams end it only, and a handler that throws is answered 500. */
  guard(
    handler: (req: IncomingMessage, res: ServerResponse) => void,
  ): (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * A JSON POST from the course site: refused from another origin (a cross-site form can't send the SameSite=Strict
   * cookie, and a foreign page's fetch is refused here), answered 400 with `usage` when malformed.
   */
  postFromSite<T>(
    req: IncomingMessage,
    res: ServerResponse,
    schema: z.ZodType<T>,
    usage: string,
    handle: (body: T) => void | Promise<void>,
  ): void;
}

export function createHandlerKit(o: {
  policy: () => OriginPolicy;
  maxBodyBytes: number;
  logError: (what: string, err: unknown) => void;
}): HandlerKit {
  const failed = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    o.logError(`${req.method ?? '?'} ${pathOf(req)}`, err);
    if (res.headersSent) res.destroy();
    else json(res, 500, { code: GatewayError.INTERNAL, message: 'the gateway failed answering this' });
  };
  return {
    policy: o.policy,
    maxBodyBytes: o.maxBodyBytes,
    failed,
    guard: (handler) => (req, res) => {
      req.on('error', () => undefined);
      res.on('error', () => undefined);
      try {
        handler(req, res);
      } catch (err) {
        failed(req, res, err);
      }
    },
    postFromSite: (req, res, schema, usage, handle) => {
      if (!fromSite(req, o.policy())) {
        json(res, 403, {
          code: GatewayError.BAD_ORIGIN,
          message: `not from ${req.headers.origin ?? 'this site'}: use the course site`,
        });
        return;
      }
      readBody(req, o.maxBodyBytes)
        .then(async (text) => {
          if (text === null) return; // the client went away: nobody to answer
          if (text === TOO_BIG) {
            json(res, 413, { code: GatewayError.TOO_LARGE, message: usage }, { Connection: 'close' });
            return;
          }
          let raw: unknown;
          try {
            raw = JSON.parse(text || '{}');
          } catch {
            raw = undefined;
          }
          const parsed = schema.safeParse(raw);
          if (!parsed.success) {
            json(res, 400, { code: GatewayError.BAD_MESSAGE, message: usage });
            return;
          }
          await handle(parsed.data);
        })
        .catch((err: unknown) => {
          failed(req, res, err);
        });
    },
  };
}
