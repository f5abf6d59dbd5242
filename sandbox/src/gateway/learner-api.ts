import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, HelpRequest, JoinRequest, PATHS, isName, sitePathOr } from '../protocol/index.js';
import type { MeResponse, TicketResponse } from '../protocol/index.js';
import type { SandboxDriver } from '../drivers/types.js';
import type { Learner, Learners } from '../store/index.js';
import { TOO_BIG, clientIp, esc, fromSite, json, page, queryOf, readBody, type HandlerKit } from './http.js';
import type { Instructor } from './instructor.js';
import type { RateLimiter } from './limits.js';
import { lockedLab, type Pacing } from './pacing.js';
import type { Route } from './router.js';
import { readSession, session, sessionCookie } from './session-cookie.js';
import { newSessionId, type ResumeCodes, type TicketIssuer } from './tickets.js';

/** What the learner's endpoints need. */
export interface LearnerApiDeps {
  readonly kit: HandlerKit;
  readonly learners: Learners;
  readonly tickets: TicketIssuer;
  readonly resumeCodes: ResumeCodes;
  readonly instructor: Instructor;
  /** The course code; '' = self-paced. */
  readonly courseCode: string;
  /** The default driver: without a jail, one learner only. */
  readonly driver: SandboxDriver;
  /** New learners per address. */
  readonly newLearners: RateLimiter;
  /** Wrong resume codes per address (shared with wrong instructor keys). */
  readonly guesses: RateLimiter;
  /** Labs the instructor locked: a ticket asked for one (`?lab=`) is refused. */
  readonly pacing: Pacing;
}

type Refusal = { ok: false; code: GatewayError; message: string };

const rateLimited = (what: string): Refusal => ({
  ok: false,
  code: GatewayError.RATE_LIMITED,
  message: `too many ${what} from your address: wait a minute and try again`,
});

const POST = ['POST'];
const GET = ['GET'];
const PAGE = ['GET', 'HEAD'];

/** A browser's own endpoints: ticket, me, join (API and link), resume, raising a hand. */
export function learnerRoutes(d: LearnerApiDeps): Route[] {
  const { kit, learners, courseCode } = d;

  /** Makes the browser a learner of the course (or finds it is one); the course code is checked when set. */
  const joinCourse = (
    req: IncomingMessage,
    headers: Record<string, string>,
    code: string,
    name: string | undefined,
  ): { ok: true; learner: Learner } | Refusal => {
    if (courseCode && code.trim().toUpperCase() !== courseCode.toUpperCase()) {
      return {
        ok: false,
        code: GatewayError.BAD_COURSE_CODE,
        message: 'that course code is not right: check it with your instructor',
      };
    }
    const sid = session(req, headers);
    const known = learners.bySession(sid);
    if (!known && !d.newLearners.take(clientIp(req))) return rateLimited('new learners');
    if (!known && !d.driver.jailed && learners.count() > 0) {
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

  const ticket = (req: IncomingMessage, res: ServerResponse): void => {
    const origin = req.headers.origin;
    if (origin !== undefined && !kit.policy().allowsOrigin(origin)) {
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
    if (!learners.bySession(sid) && !d.instructor.recognises(req)) {
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
      if (!d.driver.jailed && learners.count() > 0) {
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
      if (!d.newLearners.take(clientIp(req))) {
        json(res, 429, rateLimited('new learners'), headers);
        return;
      }
      learners.join(sid, null);
    }
    // A page says which lab the ticket is for (`?lab=`): a locked one is refused here, where the page can read why
    // (a refused WebSocket upgrade only says 1006), and the page waits for it to be unlocked.
    const lab = queryOf(req).get('lab');
    if (lab !== null && isName(lab) && d.pacing.isLocked(lab) && !d.instructor.recognises(req)) {
      json(res, 423, lockedLab(), headers);
      return;
    }
    const body: TicketResponse = { token: d.tickets.issue(sid), expiresInMs: d.tickets.ttlMs };
    json(res, 200, body, headers);
  };

  const me = (req: IncomingMessage, res: ServerResponse): void => {
    const headers: Record<string, string> = {};
    const sid = session(req, headers);
    const l = learners.bySession(sid);
    const body: MeResponse = {
      learner: l ? { id: l.id, name: l.displayName } : null,
      courseCodeRequired: courseCode !== '',
      resume: l ? `${PATHS.resume}?code=${encodeURIComponent(d.resumeCodes.codeFor(l.id))}` : null,
      help: l ? d.instructor.helpOf(l.id) : null,
    };
    json(res, 200, body, headers);
  };

  const join = (req: IncomingMessage, res: ServerResponse): void => {
    kit.postFromSite(
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
  };

  /**
   * The link an instructor puts on a slide or a QR code: /join?code=XEN42[&to=/labs/…/]. A top-level navigation,
   * so no Origin to check; joining a course is all it can do.
   */
  const joinLink = (req: IncomingMessage, res: ServerResponse): void => {
    const q = queryOf(req);
    const headers: Record<string, string> = {};
    const joined = joinCourse(req, headers, q.get('code') ?? '', q.get('name') ?? undefined);
    if (!joined.ok) {
      page(res, 403, 'Could not join', `${joined.message}.`, headers);
      return;
    }
    // Only a path of this site: never an open redirect.
    const target = sitePathOr(q.get('to'));
    // Nobody in the room is a random id: a learner with no name yet says who they are first.
    const location = joined.learner.displayName
      ? target
      : `${PATHS.welcomePage}?${new URLSearchParams({ code: q.get('code') ?? '', to: target }).toString()}`;
    res.writeHead(303, { ...headers, Location: location, 'Cache-Control': 'no-store' }).end();
  };

  // `/resume?code=…`: GET shows what the code is for and a button; the POST (a form of this site) makes this
  // browser that learner, with a new session cookie. Never a GET that switches identity: a link alone can not swap
  // a learner's browser to someone else. Wrong codes count against the address (a few a minute).

  /** The learner of a code, or why not: a wrong code (counted) or too many wrong ones from this address. */
  const checkResume = (
    req: IncomingMessage,
    code: string | null,
  ): { id: string } | { refused: 403 | 429 } => {
    const ip = clientIp(req);
    if (!d.guesses.allows(ip)) return { refused: 429 };
    const id = d.resumeCodes.learnerOf(code);
    if (id !== null && learners.get(id)) return { id };
    d.guesses.take(ip);
    return { refused: 403 };
  };
  const refuseResume = (res: ServerResponse, status: 403 | 429): void => {
    if (status === 429)
      page(res, 429, 'Too many tries', 'Too many wrong resume codes from your address: wait a minute.', {});
    else page(res, 403, 'Not a resume link', 'Check that you copied the whole resume link.', {});
  };

  const resumePage = (req: IncomingMessage, res: ServerResponse): void => {
    const code = queryOf(req).get('code');
    const found = checkResume(req, code);
    if ('refused' in found) {
      refuseResume(res, found.refused);
      return;
    }
    const name = learners.get(found.id)?.displayName;
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
  };

  const resumePost = (req: IncomingMessage, res: ServerResponse): void => {
    if (!fromSite(req, kit.policy(), true)) {
      json(res, 403, { code: GatewayError.BAD_ORIGIN, message: 'resume from the course site' });
      return;
    }
    readBody(req, kit.maxBodyBytes)
      .then((text) => {
        if (text === null) return;
        if (text === TOO_BIG) {
          json(res, 413, { code: GatewayError.TOO_LARGE, message: 'send code=…' }, { Connection: 'close' });
          return;
        }
        const found = checkResume(req, new URLSearchParams(text).get('code'));
        if ('refused' in found) {
          refuseResume(res, found.refused);
          return;
        }
        const sid = newSessionId();
        learners.addSession(sid, found.id);
        res
          .writeHead(303, { 'Set-Cookie': sessionCookie(sid), Location: '/', 'Cache-Control': 'no-store' })
          .end();
      })
      .catch((err: unknown) => {
        kit.failed(req, res, err);
      });
  };

  /** A learner raises (or lowers) a hand. */
  const help = (req: IncomingMessage, res: ServerResponse): void => {
    const sid = readSession(req);
    const learner = sid === null ? undefined : learners.bySession(sid);
    if (!learner) {
      json(res, 403, { code: GatewayError.NOT_JOINED, message: 'join the course first' });
      return;
    }
    kit.postFromSite(
      req,
      res,
      HelpRequest,
      'send {"lab": "<lab id>", "note": "<what you are stuck on>"} or {"cancel": true}',
      (r) => {
        d.instructor.setHelp(learner.id, r.cancel ? null : { lab: r.lab, note: r.note });
        json(res, 200, { raised: !r.cancel });
      },
    );
  };

  return [
    { methods: POST, path: PATHS.ticket, handle: ticket },
    { methods: GET, path: PATHS.me, handle: me },
    { methods: POST, path: PATHS.join, handle: join },
    { methods: PAGE, path: PATHS.joinLink, handle: joinLink },
    { methods: PAGE, path: PATHS.resume, handle: resumePage },
    { methods: POST, path: PATHS.resume, handle: resumePost },
    { methods: POST, path: PATHS.help, handle: help },
  ];
}
