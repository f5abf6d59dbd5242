import type { IncomingMessage } from 'node:http';
import { isSessionId, newSessionId } from './tickets.js';

/** The browser's session: HttpOnly, SameSite=Lax, a year. Learners are found by it (by its hash). */
export const COOKIE = 'xenlab_sid';

export const sessionCookie = (sid: string): string =>
  `${COOKIE}=${sid}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000`;

/** The session id the browser sent, or null (none, or not one of ours). */
export function readSession(req: IncomingMessage): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === COOKIE) {
      const v = part.slice(eq + 1).trim();
      return isSessionId(v) ? v : null;
    }
  }
  return null;
}

/** The session id, made (and its cookie put in `headers`) when the browser has none. */
export function session(req: IncomingMessage, headers: Record<string, string>): string {
  let sid = readSession(req);
  if (!sid) {
    sid = newSessionId();
    headers['Set-Cookie'] = sessionCookie(sid);
  }
  return sid;
}

/** A course page (not an asset): `/`, `/labs/x/`, `/x.html`. */
const isPagePath = (path: string): boolean =>
  path.endsWith('/') || path.endsWith('.html') || !/\.[a-z0-9]+$/i.test(path);

/**
 * Whether a page answer sets a new session cookie: so that the links it opens at once (terminal, lab panel) ask for
 * their tickets as one learner, not as one new learner each. Never on a navigation from another site: a browser may
 * hold a cookie it did not send there, and a new one would replace the learner's identity.
 */
export const pageSetsCookie = (req: IncomingMessage, path: string): boolean =>
  (req.method === 'GET' || req.method === 'HEAD') &&
  isPagePath(path) &&
  req.headers.cookie?.includes(`${COOKIE}=`) !== true &&
  req.headers['sec-fetch-site'] !== 'cross-site';
