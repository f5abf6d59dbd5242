import { PATHS } from '@xenlab/sandbox/protocol';

let last: Promise<unknown> = Promise.resolve();

/**
 * Asks the gateway for a WebSocket ticket. A page opens several links at once (a lab's terminal and its task
 * panel); on a first visit the browser has no session cookie yet, and two requests racing would each be given a
 * new one, so the terminal and the grader would belong to two learners. Requests go one after another: the first
 * answer sets the cookie, the next ones carry it. (The gateway also sets it with the page itself.)
 */
export function requestTicket(): Promise<Response> {
  const next = last.then(() => fetch(PATHS.ticket, { method: 'POST', credentials: 'same-origin' }));
  last = next.catch(() => undefined);
  return next;
}
