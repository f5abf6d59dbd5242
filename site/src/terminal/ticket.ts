import { PATHS } from '@xenlab/sandbox/protocol';

let last: Promise<unknown> = Promise.resolve();

/**
 * Asks the gateway for a WebSocket ticket. A page opens several links at once (a lab's terminal and its task
 * panel); on a first visit the browser has no session cookie yet, and two requests racing would each be given a
 * new one, so the terminal and the grader would belong to two learners. Requests go one after another: the first
 * answer sets the cookie, the next ones carry it. (The gateway also sets it with the page itself.)
 * A lab's socket names its lab: the gateway answers 423 `GATEWAY_ERR_LAB_LOCKED` while the instructor has it locked.
 */
export function requestTicket(lab?: string): Promise<Response> {
  // The lab it is for: the gateway refuses a ticket for a lab the instructor locked (423), in words a page can read.
  const url = lab ? `${PATHS.ticket}?${new URLSearchParams({ lab }).toString()}` : PATHS.ticket;
  const next = last.then(() => fetch(url, { method: 'POST', credentials: 'same-origin' }));
  last = next.catch(() => undefined);
  return next;
}
