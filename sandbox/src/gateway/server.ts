import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import type { z } from 'zod';
import type { WebSocket } from 'ws';
import {
  BroadcastRequest,
  GatewayError,
  HelpDoneRequest,
  HelpRequest,
  JoinRequest,
  MAX_FRAME_BYTES,
  NAME_PATTERN,
  PATHS,
  PLAYGROUND_LAB,
  RemoveLearnerRequest,
} from '../protocol/index.js';
import type { MeResponse, TicketResponse } from '../protocol/index.js';
import type { SandboxDriver } from '../drivers/types.js';
import type { DriverRegistry } from '../drivers/index.js';
import { labStarting, openShowingStart } from './starting.js';
import { attachLabChannel } from '../grading/index.js';
import { LABS_DIR } from '../labs/index.js';
import { createLabProvisioner, type LabProvisioner } from '../lab-runtime/index.js';
import { LAB_PATH } from '../protocol/lab.js';
import { EnvironmentManager, type Provisioner } from '../sessions/index.js';
import { Learners, openStore, type Db, type Learner } from '../store/index.js';
import { OriginPolicy } from './origins.js';
import { createStaticSite } from './static-site.js';
import { Instructor } from './instructor.js';
import { linkTerminal } from './terminal-link.js';
import { ResumeCodes, TicketIssuer, isSessionId, newSessionId } from './tickets.js';
import { DEFAULT_LIMITS, RateLimiter, capConnections, type GatewayLimits } from './limits.js';
import { persistentSecret } from './secrets.js';

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
  /** Runs the shells of lesson pages (the playground) and of labs whose driver is `local`. */
  driver: SandboxDriver;
  /** Where labs naming another driver (docker, qemu-xen) get theirs (default: a registry around `driver`). */
  drivers?: DriverRegistry;
  /** Origins allowed besides the gateway's own (e.g. the Astro dev server's). */
  allowedOrigins?: readonly string[];
  /** Lifetime of a WebSocket ticket (ms). */
  ticketTtlMs?: number;
  /** Interval between WebSocket pings; a socket that missed the previous pong is terminated. */
  heartbeatMs?: number;
  /** The course code learners must enter to join; none (the default) = self-paced, everyone joins at once. */
  courseCode?: string;
  /** SQLite state file (default `<dataDir>/xenlab.db`). */
  dbPath?: string;
  /** How long a terminal keeps running with no page attached (default 30 min). */
  graceMs?: number;
  /** Idle time before an environment is culled (default 60 min), and the warning before it (default 5 min). */
  idleMs?: number;
  warnMs?: number;
  /**
   * Brings up an environment's parts. The default: labs from `labsDir` get their lab environment (scenario,
   * parameters, grader); anything else the learner's own default pool and a driver sandbox.
   */
  provision?: Provisioner;
  /** Where the labs live (default: the repository's `labs/`). */
  labsDir?: string;
  /** How often lab graders poll besides following events (ms; the grader's default when absent). */
  labPollMs?: number;
  /**
   * The secret of the instructor's link, at least 16 characters (default: one made on first start and kept in
   * `<dataDir>/instructor-key`, mode 0600, so the printed link stays valid across restarts; see `instructorUrl`).
   */
  instructorKey?: string;
  /** Connection caps, timeouts, body size, rates: see {@link GatewayLimits} (defaults fit a room behind one NAT). */
  limits?: GatewayLimits;
  /** Where a request that failed is reported (default: console.error); the gateway answers 500 and carries on. */
  logError?: (what: string, err: unknown) => void;
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Number of live terminals (shells running now). */
  readonly terminals: number;
  /** Number of shells ever started: a refused upgrade must never change it. */
  readonly spawned: number;
  readonly environments: EnvironmentManager;
  /** Live lab environments (grader, parameters) by environment id. */
  readonly labs: LabProvisioner;
  readonly db: Db;
  /** The instructor's link: opening it makes that browser the instructor's (room view, broadcast, watching). */
  readonly instructorUrl: string;
  /** Open TCP connections (HTTP and WebSocket) now. */
  readonly connections: number;
  /** Files the static site holds in memory (found files only: misses are never cached). */
  readonly staticCacheEntries: number;
  close(): Promise<void>;
}

const sessionCookie = (sid: string): string =>
  `${COOKIE}=${sid}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000`;

/** The address a request comes from (the key of per-address limits). */
const clientIp = (req: IncomingMessage): string => req.socket.remoteAddress ?? '?';

/** A course page (not an asset): `/`, `/labs/x/`, `/x.html`. */
const isPagePath = (path: string | undefined): boolean =>
  path !== undefined && (path.endsWith('/') || path.endsWith('.html') || !/\.[a-z0-9]+$/i.test(path));

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
  const reason =
    status === 401
      ? 'Unauthorized'
      : status === 404
        ? 'Not Found'
        : status === 429
          ? 'Too Many Requests'
          : 'Forbidden';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** A minimal page (no script, no style: it passes any CSP) for answers a browser shows, not a script. */
function page(
  res: ServerResponse,
  status: number,
  title: string,
  text: string,
  headers: Record<string, string>,
): void {
  const esc = (t: string) => t.replace(/[&<>"']/g, (c) => `&#${String(c.charCodeAt(0))};`);
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

const TOO_BIG = Symbol('too big');

/**
 * Reads a small body: its text, TOO_BIG past `max` bytes, or null when the client broke off (aborted, reset, timed
 * out). Never rejects: a request that goes away mid-body ends that request only.
 */
function readBody(req: IncomingMessage, max: number): Promise<string | typeof TOO_BIG | null> {
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
const fromSite = (req: IncomingMessage, policy: OriginPolicy, strict = false): boolean => {
  const origin = req.headers.origin;
  if (origin !== undefined) return policy.allowsOrigin(origin);
  const site = req.headers['sec-fetch-site'];
  if (site === undefined) return !strict;
  return site === 'same-origin' || site === 'same-site';
};

/**
 * Starts the gateway: one HTTP server for the built site, the ticket API and the terminal WebSocket.
 *
 * Every upgrade is checked (Host, Origin, a single-use ticket bound to the browser's session cookie) before the
 * WebSocket is accepted, so a refused client never gets a shell.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const host = options.host ?? '127.0.0.1';
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const logError =
    options.logError ??
    ((what: string, err: unknown) => {
      console.error(`xenlab: ${what} failed:`, err);
    });
  if (options.instructorKey !== undefined && options.instructorKey.length < 16)
    throw new Error('the instructor key must be at least 16 characters long');
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
  const db = openStore(options.dbPath ?? join(options.dataDir, 'xenlab.db'));
  const learners = new Learners(db);
  const labs: LabProvisioner = createLabProvisioner({
    driver: options.driver,
    ...(options.drivers ? { drivers: options.drivers } : {}),
    db,
    ...(options.labsDir ? { labsDir: options.labsDir } : {}),
    ...(options.labPollMs === undefined ? {} : { pollMs: options.labPollMs }),
  });
  const environments = new EnvironmentManager({
    db,
    driver: options.driver,
    dataDir: options.dataDir,
    ...(options.graceMs === undefined ? {} : { graceMs: options.graceMs }),
    ...(options.idleMs === undefined ? {} : { idleMs: options.idleMs }),
    ...(options.warnMs === undefined ? {} : { warnMs: options.warnMs }),
    maxLivePerLearner: limits.liveEnvironmentsPerLearner,
    provision: options.provision ?? labs.provision,
  });
  const courseCode = options.courseCode ?? '';
  const instructorKey =
    options.instructorKey ??
    persistentSecret(options.dataDir, 'instructor-key', () => randomBytes(18).toString('base64url'));
  const resumeCodes = new ResumeCodes(
    Buffer.from(
      persistentSecret(options.dataDir, 'resume-key', () => randomBytes(32).toString('base64url')),
      'utf8',
    ),
  );
  const newLearners = new RateLimiter(limits.newLearnersPerIpPerMinute);
  const guesses = new RateLimiter(limits.guessesPerIpPerMinute);
  const rateLimited = (what: string) => ({
    ok: false as const,
    code: GatewayError.RATE_LIMITED,
    message: `too many ${what} from your address: wait a minute and try again`,
  });
  const instructor = new Instructor({
    key: instructorKey,
    db,
    environments,
    labsDir: options.labsDir ?? LABS_DIR,
  });
  /** The session cookie, set when the browser has none. */
  const session = (req: IncomingMessage, headers: Record<string, string>): string => {
    let sid = readCookie(req, COOKIE);
    if (!sid) {
      sid = newSessionId();
      headers['Set-Cookie'] = sessionCookie(sid);
    }
    return sid;
  };

  /** Makes the browser a learner of the course (or finds it is one); the course code is checked when set. */
  const joinCourse = (
    req: IncomingMessage,
    headers: Record<string, string>,
    code: string,
    name: string | undefined,
  ): { ok: true; learner: Learner } | { ok: false; code: GatewayError; message: string } => {
    if (courseCode && code.trim().toUpperCase() !== courseCode.toUpperCase()) {
      return {
        ok: false,
        code: GatewayError.BAD_COURSE_CODE,
        message: 'that course code is not right: check it with your instructor',
      };
    }
    const sid = session(req, headers);
    const known = learners.bySession(sid);
    if (!known && !newLearners.take(clientIp(req))) return rateLimited('new learners');
    if (!known && !options.driver.jailed && learners.count() > 0) {
      return {
        ok: false,
        code: GatewayError.SINGLE_USER,
        message: 'this xenlab runs without a jail and serves one learner only',
      };
    }
    const named = name?.trim() ? name.trim() : null;
    if (known && named && named !== known.displayName) {
      // Joined by link first, named themselves afterwards (the welcome page).
      learners.rename(known.id, named);
      return { ok: true, learner: { ...known, displayName: named } };
    }
    return { ok: true, learner: known ?? learners.join(sid, courseCode || null, named) };
  };

  /**
   * A JSON POST from the course site: refused from another origin (a cross-site form can't send the SameSite=Strict
   * cookie, and a foreign page's fetch is refused here), answered 400 with `usage` when malformed.
   */
  const postFromSite = <T>(
    req: IncomingMessage,
    res: ServerResponse,
    schema: z.ZodType<T>,
    usage: string,
    handle: (body: T) => void | Promise<void>,
  ): void => {
    if (!fromSite(req, policy)) {
      json(res, 403, {
        code: GatewayError.BAD_ORIGIN,
        message: `not from ${req.headers.origin ?? 'this site'}: use the course site`,
      });
      return;
    }
    readBody(req, limits.maxBodyBytes)
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
  };

  /** A handler threw: logged, answered 500 (or the connection cut when the answer had begun); the rest carries on. */
  const failed = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    logError(`${req.method ?? '?'} ${(req.url ?? '/').split('?')[0] ?? '/'}`, err);
    if (res.headersSent) res.destroy();
    else json(res, 500, { code: GatewayError.INTERNAL, message: 'the gateway failed answering this' });
  };
  /** Every request: errors on its streams end it only, and a handler that throws is answered 500. */
  const guard =
    (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
    (req: IncomingMessage, res: ServerResponse): void => {
      req.on('error', () => undefined);
      res.on('error', () => undefined);
      try {
        handler(req, res);
      } catch (err) {
        failed(req, res, err);
      }
    };

  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  const server = createServer(
    {
      noDelay: true,
      maxHeaderSize: 16 * 1024,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often slow requests and silent new connections are looked for.
      connectionsCheckingInterval: Math.max(50, Math.min(5_000, Math.floor(headersTimeout / 4))),
    },
    guard((req, res) => {
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
        const headers: Record<string, string> = {};
        const sid = session(req, headers);
        // Self-paced (no course code): a browser becomes a learner the first time it asks, nothing to enter.
        // The instructor's browser gets tickets without becoming a learner (to watch terminals).
        if (!learners.bySession(sid) && !instructor.recognises(req)) {
          if (courseCode) {
            json(
              res,
              403,
              {
                code: GatewayError.NOT_JOINED,
                message: 'join the course first: enter the course code your instructor gave',
              },
              headers,
            );
            return;
          }
          // Without a jail, shells are not kept apart: one learner only (the laptop owner), said plainly.
          if (!options.driver.jailed && learners.count() > 0) {
            json(
              res,
              403,
              {
                code: GatewayError.SINGLE_USER,
                message:
                  'this xenlab runs without a jail (bubblewrap is missing), so it serves one learner only; ' +
                  'install bubblewrap to open it to others',
              },
              headers,
            );
            return;
          }
          if (!newLearners.take(clientIp(req))) {
            json(res, 429, rateLimited('new learners'), headers);
            return;
          }
          learners.join(sid, null);
        }
        const body: TicketResponse = { token: tickets.issue(sid), expiresInMs: tickets.ttlMs };
        json(res, 200, body, headers);
        return;
      }
      if (path === PATHS.me && req.method === 'GET') {
        const headers: Record<string, string> = {};
        const sid = session(req, headers);
        const l = learners.bySession(sid);
        const body: MeResponse = {
          learner: l ? { id: l.id, name: l.displayName } : null,
          courseCodeRequired: courseCode !== '',
          resume: l ? `${PATHS.resume}?code=${encodeURIComponent(resumeCodes.codeFor(l.id))}` : null,
          help: l ? instructor.helpOf(l.id) : null,
        };
        json(res, 200, body, headers);
        return;
      }
      if (path === PATHS.resume && (req.method === 'GET' || req.method === 'HEAD' || req.method === 'POST')) {
        resume(req, res);
        return;
      }
      if (path === PATHS.join) {
        if (req.method !== 'POST') {
          json(res, 405, { code: 'GATEWAY_ERR_METHOD', message: 'use POST' }, { Allow: 'POST' });
          return;
        }
        postFromSite(
          req,
          res,
          JoinRequest,
          'send {"code": "<course code>", "name": "<optional name>"}',
          (r) => {
            const headers: Record<string, string> = {};
            const joined = joinCourse(req, headers, r.code, r.name);
            if (!joined.ok) {
              json(res, 403, { code: joined.code, message: joined.message }, headers);
              return;
            }
            const body: MeResponse = {
              learner: { id: joined.learner.id, name: joined.learner.displayName },
              courseCodeRequired: courseCode !== '',
            };
            json(res, 200, body, headers);
          },
        );
        return;
      }
      if (path === PATHS.joinLink && (req.method === 'GET' || req.method === 'HEAD')) {
        // The link an instructor puts on a slide or a QR code: /join?code=XEN42[&to=/labs/…/]. A top-level
        // navigation, so no Origin to check; joining a course is all it can do.
        const q = new URL(req.url ?? '/', 'http://gateway').searchParams;
        const headers: Record<string, string> = {};
        const joined = joinCourse(req, headers, q.get('code') ?? '', q.get('name') ?? undefined);
        if (!joined.ok) {
          page(res, 403, 'Could not join', `${joined.message}.`, headers);
          return;
        }
        const to = q.get('to') ?? '/';
        // Only a path of this site: never an open redirect.
        const target = /^\/(?![/\\])[\x21-\x7e]*$/.test(to) ? to : '/';
        // Nobody in the room is a random id: a learner with no name yet says who they are first.
        const location = joined.learner.displayName
          ? target
          : `${PATHS.welcomePage}?${new URLSearchParams({ code: q.get('code') ?? '', to: target }).toString()}`;
        res.writeHead(303, { ...headers, Location: location, 'Cache-Control': 'no-store' }).end();
        return;
      }
      if (path === PATHS.instructorLink && (req.method === 'GET' || req.method === 'HEAD')) {
        const key = new URL(req.url ?? '/', 'http://gateway').searchParams.get('key');
        if (key !== null && !guesses.allows(clientIp(req))) {
          page(res, 429, 'Too many tries', 'Too many wrong keys from your address: wait a minute.', {});
          return;
        }
        if (key !== null && !instructor.keyMatches(key)) guesses.take(clientIp(req));
        if (instructor.keyMatches(key)) {
          res
            .writeHead(303, {
              'Set-Cookie': instructor.cookieHeader(),
              Location: PATHS.instructorPage,
              'Cache-Control': 'no-store',
              'Referrer-Policy': 'no-referrer',
            })
            .end();
          return;
        }
        if (instructor.recognises(req)) {
          res.writeHead(303, { Location: PATHS.instructorPage }).end();
          return;
        }
        page(
          res,
          403,
          'Instructors only',
          'Open the instructor link that xenlab serve printed when it started.',
          {},
        );
        return;
      }
      if (path?.startsWith('/api/instructor/')) {
        if (!instructor.recognises(req)) {
          json(res, 403, { code: GatewayError.NOT_INSTRUCTOR, message: 'open the instructor link first' });
          return;
        }
        if (path === PATHS.instructorRoom && req.method === 'GET') {
          json(res, 200, instructor.room(), { 'Cache-Control': 'no-store' });
          return;
        }
        if (path === PATHS.instructorExport && req.method === 'GET') {
          const body = instructor.csv();
          res
            .writeHead(200, {
              'Content-Type': 'text/csv; charset=utf-8',
              'Content-Disposition': 'attachment; filename="xenlab-progress.csv"',
              'Cache-Control': 'no-store',
            })
            .end(body);
          return;
        }
        if (path === PATHS.instructorHelpDone && req.method === 'POST') {
          postFromSite(req, res, HelpDoneRequest, 'send {"learner": "<learner id>"}', (body) => {
            instructor.setHelp(body.learner, null);
            json(res, 200, { done: true });
          });
          return;
        }
        if (path === PATHS.instructorRemove && req.method === 'POST') {
          postFromSite(req, res, RemoveLearnerRequest, 'send {"learner": "<learner id>"}', (body) => {
            return instructor.removeLearner(body.learner).then((removed) => {
              if (removed) json(res, 200, { removed: true });
              else json(res, 404, { code: 'GATEWAY_ERR_NOT_FOUND', message: 'no such learner' });
            });
          });
          return;
        }
        if (path === PATHS.instructorBroadcast && req.method === 'POST') {
          postFromSite(req, res, BroadcastRequest, 'send {"text": "…"} (1 to 500 characters)', (body) => {
            json(res, 200, { reached: environments.broadcast(body.text) });
          });
          return;
        }
        json(res, 404, { code: 'GATEWAY_ERR_NOT_FOUND', message: 'not found' });
        return;
      }
      if (path === PATHS.help && req.method === 'POST') {
        const sid = readCookie(req, COOKIE);
        const learner = sid === null ? undefined : learners.bySession(sid);
        if (!learner) {
          json(res, 403, { code: GatewayError.NOT_JOINED, message: 'join the course first' });
          return;
        }
        postFromSite(
          req,
          res,
          HelpRequest,
          'send {"lab": "<lab id>", "note": "<what you are stuck on>"} or {"cancel": true}',
          (r) => {
            instructor.setHelp(learner.id, r.cancel ? null : { lab: r.lab, note: r.note });
            json(res, 200, { raised: !r.cancel });
          },
        );
        return;
      }
      if (path === '/api/health') {
        json(res, 200, { ok: true, driver: options.driver.name, jailed: options.driver.jailed, terminals });
        return;
      }
      // A page sets the session cookie, so that the links it opens at once (terminal, lab panel) ask for their
      // tickets as one learner, not as one new learner each. Never on a navigation from another site: a browser
      // may hold a cookie it did not send there, and a new one would replace the learner's identity.
      if (
        (req.method === 'GET' || req.method === 'HEAD') &&
        isPagePath(path) &&
        req.headers.cookie?.includes(`${COOKIE}=`) !== true &&
        req.headers['sec-fetch-site'] !== 'cross-site'
      )
        res.setHeader('Set-Cookie', sessionCookie(newSessionId()));
      if (site?.(req, res)) return;
      json(res, 404, { code: 'GATEWAY_ERR_NOT_FOUND', message: 'not found' });
    }),
  );
  const connections = capConnections(server, limits);

  /**
   * `/resume?code=…`: GET shows what the code is for and a button; the POST (a form of this site) makes this browser
   * that learner, with a new session cookie. Never a GET that switches identity: a link alone can not swap a
   * learner's browser to someone else. Wrong codes count against the address (a few a minute).
   */
  const resume = (req: IncomingMessage, res: ServerResponse): void => {
    const ip = clientIp(req);
    /** The learner of a code, or why not: a wrong code (counted) or too many wrong ones from this address. */
    const check = (code: string | null): { id: string } | { refused: 403 | 429 } => {
      if (!guesses.allows(ip)) return { refused: 429 };
      const id = resumeCodes.learnerOf(code);
      if (id !== null && learners.get(id)) return { id };
      guesses.take(ip);
      return { refused: 403 };
    };
    const refuse = (status: 403 | 429): void => {
      if (status === 429)
        page(res, 429, 'Too many tries', 'Too many wrong resume codes from your address: wait a minute.', {});
      else page(res, 403, 'Not a resume link', 'Check that you copied the whole resume link.', {});
    };
    if (req.method !== 'POST') {
      const code = new URL(req.url ?? '/', 'http://gateway').searchParams.get('code');
      const found = check(code);
      if ('refused' in found) {
        refuse(found.refused);
        return;
      }
      const id = found.id;
      const esc = (t: string) => t.replace(/[&<>"']/g, (c) => `&#${String(c.charCodeAt(0))};`);
      const name = learners.get(id)?.displayName;
      const body =
        `<!doctype html><html lang="en"><meta charset="utf-8"><title>Resume · xenlab</title><h1>Resume your work</h1>` +
        `<p>This makes this browser ${name ? esc(name) : 'the learner of this link'}: their terminals, files and ` +
        `progress. If this browser was someone else in the course, it stops being them (their own resume link ` +
        `brings that back).</p><form method="post" action="${PATHS.resume}"><input type="hidden" name="code" ` +
        `value="${esc(code ?? '')}"><button type="submit">Resume here</button></form><p><a href="/">Back to the ` +
        `course</a></p></html>`;
      res
        .writeHead(200, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Security-Policy': "default-src 'none'; form-action 'self'",
          'Cache-Control': 'no-store',
          'Referrer-Policy': 'no-referrer',
          'X-Frame-Options': 'DENY',
        })
        .end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (!fromSite(req, policy, true)) {
      json(res, 403, { code: GatewayError.BAD_ORIGIN, message: 'resume from the course site' });
      return;
    }
    readBody(req, limits.maxBodyBytes)
      .then((text) => {
        if (text === null) return;
        if (text === TOO_BIG) {
          json(res, 413, { code: GatewayError.TOO_LARGE, message: 'send code=…' }, { Connection: 'close' });
          return;
        }
        const found = check(new URLSearchParams(text).get('code'));
        if ('refused' in found) {
          refuse(found.refused);
          return;
        }
        const sid = newSessionId();
        learners.addSession(sid, found.id);
        res
          .writeHead(303, { 'Set-Cookie': sessionCookie(sid), Location: '/', 'Cache-Control': 'no-store' })
          .end();
      })
      .catch((err: unknown) => {
        failed(req, res, err);
      });
  };
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    else socket.destroy();
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      upgrade(req, socket, head);
    } catch (err) {
      logError(`upgrade ${(req.url ?? '/').split('?')[0] ?? '/'}`, err);
      socket.destroy();
    }
  });
  const upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway');
    } catch {
      refuseUpgrade(socket, 404, GatewayError.BAD_MESSAGE, 'bad request URL');
      return;
    }
    if (url.pathname !== PATHS.terminal && url.pathname !== LAB_PATH) {
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
    const watch = url.searchParams.get('watch');
    if (watch !== null && url.pathname === PATHS.terminal) {
      watchTerminal(req, socket, head, watch, url.searchParams.get('terminal') ?? 'main');
      return;
    }
    const learner = learners.bySession(check.sessionId);
    if (!learner) {
      refuseUpgrade(socket, 403, GatewayError.NOT_JOINED, 'join the course first');
      return;
    }
    const lab = url.searchParams.get('lab') ?? PLAYGROUND_LAB;
    const name = url.searchParams.get('terminal') ?? 'main';
    if (!NAME_PATTERN.test(lab) || !NAME_PATTERN.test(name)) {
      refuseUpgrade(socket, 404, GatewayError.BAD_TARGET, 'lab and terminal names are kebab-case');
      return;
    }
    if (!environments.admits(learner.id, lab)) {
      refuseUpgrade(
        socket,
        429,
        GatewayError.TOO_MANY_ENVIRONMENTS,
        `you have ${String(limits.liveEnvironmentsPerLearner)} labs open already: close the page of one of them first`,
      );
      return;
    }
    if (url.pathname === LAB_PATH) {
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => undefined);
        alive.set(ws, true);
        ws.on('pong', () => alive.set(ws, true));
        // The channel waits for the environment (a nested-Xen lab takes a while to boot).
        // Meanwhile the page hears what is starting (lab.starting); a driver that cannot run here is a permanent
        // LAB_ERR_DRIVER_UNAVAILABLE (close 4003).
        attachLabChannel(
          ws,
          labStarting(
            ws,
            (l) => labs.watchStart(EnvironmentManager.idFor(learner.id, lab), l),
            environments.open(learner.id, lab).then(async (env) => {
              const labEnv = await labs.environment(env.row.id);
              if (!labEnv) throw new Error(`"${lab}" is not a lab`);
              return labEnv;
            }),
          ),
        );
      });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {
        // A broken client (bad frame, too big, reset) only ever ends its own socket; ws closes it with the
        // matching code (1009 for an oversized frame) and the 'close' handler detaches it from its terminal.
      });
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      linkTerminal(ws, async (size) => {
        // While a slow driver brings the lab up the page sees the boot (console, ETA); a driver that cannot run
        // here is refused for good (GATEWAY_ERR_DRIVER_UNAVAILABLE, close 4003).
        const env = await openShowingStart(
          ws,
          (l) => labs.watchStart(EnvironmentManager.idFor(learner.id, lab), l),
          environments.open(learner.id, lab),
        );
        // The driver this environment runs on (a lab's own, or the default one).
        const driver = labs.driverOf(env.row.id) ?? options.driver;
        // A lab names its terminals (and the node each runs on); other names are refused.
        const labEnv = await labs.environment(env.row.id);
        let node: string | undefined;
        if (labEnv) {
          const spec =
            labEnv.terminals.find((t) => t.name === name) ??
            (name === 'main' ? labEnv.terminals[0] : undefined);
          if (!spec) throw new Error(`this lab has no terminal named "${name}"`);
          node = spec.node;
        }
        const before = env.terminals.get(name);
        const fresh = !before || before.exited;
        const terminal = environments.terminal(env, name, size, node);
        if (fresh) {
          terminals++;
          spawned++;
          terminal.onEnd(() => {
            terminals--;
          });
        }
        const notices = [
          driver.notice,
          fresh && env.revived && !env.announced
            ? 'Welcome back: this is a new shell. Your files and your pool are as you left them.'
            : undefined,
        ].filter(Boolean);
        if (fresh) env.announced = true;
        return {
          terminal,
          driver: driver.name,
          jailed: driver.jailed,
          lab,
          name,
          notice: notices.length ? notices.join(' ') : undefined,
          activity: () => {
            environments.activity(env);
          },
          subscribe: (l) => {
            env.listeners.add(l);
            return () => env.listeners.delete(l);
          },
        };
      });
    });
  };

  /** An instructor watching a learner's running terminal: read-only, and only a terminal that already runs. */
  const watchTerminal = (req: IncomingMessage, socket: Duplex, head: Buffer, envId: string, name: string) => {
    if (!instructor.recognises(req)) {
      refuseUpgrade(socket, 403, GatewayError.NOT_INSTRUCTOR, 'only the instructor can watch terminals');
      return;
    }
    const env = environments.find(envId);
    const terminal = env?.terminals.get(name);
    if (!env || !terminal || terminal.exited) {
      refuseUpgrade(socket, 404, GatewayError.BAD_TARGET, 'that terminal is not running');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => undefined);
      alive.set(ws, true);
      ws.on('pong', () => alive.set(ws, true));
      linkTerminal(ws, () =>
        Promise.resolve({
          terminal,
          driver: (labs.driverOf(env.row.id) ?? options.driver).name,
          jailed: (labs.driverOf(env.row.id) ?? options.driver).jailed,
          lab: env.row.labId,
          name,
          notice: undefined,
          activity: () => undefined,
          subscribe: () => () => undefined,
          readOnly: true,
        }),
      );
    });
  };

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
  let closing: Promise<void> | undefined;

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
    get connections() {
      return connections.open;
    },
    get staticCacheEntries() {
      return site?.cacheEntries ?? 0;
    },
    environments,
    labs,
    db,
    instructorUrl: `http://${shown}:${port}${PATHS.instructorLink}?key=${instructorKey}`,
    close: () =>
      (closing ??= (async () => {
        clearInterval(heartbeat);
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) =>
          server.close(() => {
            resolve();
          }),
        );
        // Simulators save their pools; environment records stay active so learners get them back.
        await environments.close();
        db.close();
      })()),
  };
}
