import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BroadcastRequest,
  GatewayError,
  HelpDoneRequest,
  PATHS,
  RemoveLearnerRequest,
} from '../protocol/index.js';
import type { EnvironmentManager } from '../sessions/index.js';
import { clientIp, json, page, queryOf, type HandlerKit } from './http.js';
import type { Instructor } from './instructor.js';
import type { RateLimiter } from './limits.js';
import type { Gate, Route } from './router.js';

/** What the instructor's endpoints need. */
export interface InstructorApiDeps {
  readonly kit: HandlerKit;
  readonly instructor: Instructor;
  readonly environments: EnvironmentManager;
  /** Wrong instructor keys per address (shared with wrong resume codes). */
  readonly guesses: RateLimiter;
}

/** Everything under it is the instructor's: any other browser is refused, whatever the path. */
const INSTRUCTOR_API = '/api/instructor/';

/** The instructor's link (`/instructor?key=…`) and API: room, export, help done, remove, broadcast. */
export function instructorApi(d: InstructorApiDeps): { routes: Route[]; gate: Gate } {
  const { kit, instructor } = d;

  /** Opening the printed link makes this browser the instructor's (a cookie), then lands on their page. */
  const link = (req: IncomingMessage, res: ServerResponse): void => {
    const key = queryOf(req).get('key');
    if (key !== null && !d.guesses.allows(clientIp(req))) {
      page(res, 429, 'Too many tries', 'Too many wrong keys from your address: wait a minute.', {});
      return;
    }
    if (key !== null && !instructor.keyMatches(key)) d.guesses.take(clientIp(req));
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
  };

  const room = (_req: IncomingMessage, res: ServerResponse): void => {
    json(res, 200, instructor.room(), { 'Cache-Control': 'no-store' });
  };

  const exportCsv = (_req: IncomingMessage, res: ServerResponse): void => {
    const body = instructor.csv();
    res
      .writeHead(200, {
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': 'attachment; filename="xenlab-progress.csv"',
        'Cache-Control': 'no-store',
      })
      .end(body);
  };

  const helpDone = (req: IncomingMessage, res: ServerResponse): void => {
    kit.postFromSite(req, res, HelpDoneRequest, 'send {"learner": "<learner id>"}', (body) => {
      instructor.setHelp(body.learner, null);
      json(res, 200, { done: true });
    });
  };

  const remove = (req: IncomingMessage, res: ServerResponse): void => {
    kit.postFromSite(req, res, RemoveLearnerRequest, 'send {"learner": "<learner id>"}', (body) => {
      return instructor.removeLearner(body.learner).then((removed) => {
        if (removed) json(res, 200, { removed: true });
        else json(res, 404, { code: GatewayError.NOT_FOUND, message: 'no such learner' });
      });
    });
  };

  const broadcast = (req: IncomingMessage, res: ServerResponse): void => {
    kit.postFromSite(req, res, BroadcastRequest, 'send {"text": "…"} (1 to 500 characters)', (body) => {
      json(res, 200, { reached: d.environments.broadcast(body.text) });
    });
  };

  return {
    routes: [
      { methods: ['GET', 'HEAD'], path: PATHS.instructorLink, handle: link },
      { methods: ['GET'], path: PATHS.instructorRoom, handle: room },
      { methods: ['GET'], path: PATHS.instructorExport, handle: exportCsv },
      { methods: ['POST'], path: PATHS.instructorHelpDone, handle: helpDone },
      { methods: ['POST'], path: PATHS.instructorRemove, handle: remove },
      { methods: ['POST'], path: PATHS.instructorBroadcast, handle: broadcast },
    ],
    gate: {
      prefix: INSTRUCTOR_API,
      admit: (req, res) => {
        if (instructor.recognises(req)) return true;
        json(res, 403, { code: GatewayError.NOT_INSTRUCTOR, message: 'open the instructor link first' });
        return false;
      },
    },
  };
}
