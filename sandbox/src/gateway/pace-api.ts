import type { IncomingMessage, ServerResponse } from 'node:http';
import { PATHS } from '../protocol/index.js';
import { json } from './http.js';
import type { Pacing } from './pacing.js';
import type { Route } from './router.js';

/**
 * `GET /api/pace`: the room's pacing for any page (a lesson without a terminal, a locked lab waiting to open).
 * Pages with a terminal get it pushed on their socket (`room.pace`) and do not ask. Pages ask every 15 s or so,
 * with `If-None-Match`: unchanged, the answer is an empty 304 (bad wifi, 200 learners).
 */
export function paceRoutes(pacing: Pacing): Route[] {
  const pace = (req: IncomingMessage, res: ServerResponse): void => {
    const etag = `"${String(pacing.rev)}"`;
    // Never cached by the browser: a cached body's time left would be stale. Pages send If-None-Match themselves
    // and keep what they had on a 304 (their countdown runs on from when they got it).
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag, 'Cache-Control': 'no-store' }).end();
      return;
    }
    json(res, 200, pacing.view(), { ETag: etag });
  };
  return [{ methods: ['GET'], path: PATHS.pace, handle: pace }];
}
