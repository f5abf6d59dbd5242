import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import {
  BroadcastRequest,
  GatewayError,
  HelpDoneRequest,
  LockRequest,
  ModeRequest,
  MoveToRequest,
  PATHS,
  RemoveLearnerRequest,
  TimerRequest,
} from '../protocol/index.js';
import type { EnvironmentManager } from '../sessions/index.js';
import { clientIp, json, page, queryOf, type HandlerKit } from './http.js';
import type { Instructor } from './instructor.js';
import type { RateLimiter } from './limits.js';
import type { RoomModes } from './modes.js';
import type { RoomCapacity } from './room-capacity.js';
import { UnknownLabError, type Pacing } from './pacing.js';
import type { Gate, Route } from './router.js';

/** What the instructor's endpoints need. */
export interface InstructorApiDeps {
  readonly kit: HandlerKit;
  readonly instructor: Instructor;
  readonly environments: EnvironmentManager;
  /** Wrong instructor keys per address (shared with wrong resume codes). */
  readonly guesses: RateLimiter;
  /** Locked labs, "everyone to lab N", the countdown. */
  readonly pacing: Pacing;
  /** Each lab's mode (individual, shared demo, tables of N). */
  readonly modes: RoomModes;
  /** Limits per driver and the line, shown on the room. */
  readonly capacity: RoomCapacity;
}

/** Everything under it is the instructor's: any other browser is refused, whatever the path. */
const INSTRUCTOR_API = '/api/instructor/';

/**
 * The instructor's link (`/instructor?key=…`) and API: room, export, help done, remove, broadcast, and pacing
 * (lock, move-to, timer: each answers the new pacing).
 */
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

  /** Modes, tables and capacity per lab, besides the room and the pacing. */
  const rooms = () => {
    const labs = instructor.labs().map((l) => l.id);
    return {
      modes: Object.fromEntries(
        labs.map((lab) => {
          const m = d.modes.get(lab);
          return [lab, m.mode === 'tables' ? { ...m, tables: d.modes.tables(lab) } : m];
        }),
      ),
      capacity: d.capacity.view(labs),
    };
  };

  const room = (_req: IncomingMessage, res: ServerResponse): void => {
    json(
      res,
      200,
      { ...instructor.room(), pace: d.pacing.view(), ...rooms() },
      { 'Cache-Control': 'no-store' },
    );
  };

  /** A lab's mode: 404 for a lab the course does not have; answers every lab's mode and capacity. */
  const mode = (req: IncomingMessage, res: ServerResponse): void => {
    kit.postFromSite(
      req,
      res,
      ModeRequest,
      'send {"lab": "<lab id>", "mode": "individual"|"demo"} or {"lab": "<lab id>", "mode": "tables", "size": 2..12}',
      (body) => {
        if (!instructor.labs().some((l) => l.id === body.lab)) {
          json(res, 404, { code: GatewayError.NOT_FOUND, message: `no lab "${body.lab}" in this course` });
          return;
        }
        d.modes.set(
          body.lab,
          body.mode === 'tables' ? { mode: 'tables', size: body.size } : { mode: body.mode },
        );
        json(res, 200, rooms());
      },
    );
  };

  /** A pacing change: answered with the pacing as pages now see it, or 404 for a lab the course does not have. */
  const pace = <T>(schema: z.ZodType<T>, usage: string, change: (body: T) => void) => {
    return (req: IncomingMessage, res: ServerResponse): void => {
      kit.postFromSite(req, res, schema, usage, (body) => {
        try {
          change(body);
        } catch (err) {
          if (!(err instanceof UnknownLabError)) throw err;
          json(res, 404, { code: GatewayError.NOT_FOUND, message: err.message });
          return;
        }
        json(res, 200, d.pacing.view());
      });
    };
  };
  const lock = pace(LockRequest, 'send {"labs": ["<lab id>", …], "locked": true|false}', (b) => {
    d.pacing.setLocked(b.labs, b.locked);
  });
  const moveTo = pace(MoveToRequest, 'send {"lab": "<lab id>"} or {"lab": null}', (b) => {
    d.pacing.moveTo(b.lab);
  });
  const timer = pace(
    TimerRequest,
    'send {"seconds": 900, "label": "Lab 5"} (1 s to 24 h) or {"stop": true}',
    (b) => {
      d.pacing.setTimer('stop' in b ? null : b);
    },
  );

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
      { methods: ['POST'], path: PATHS.instructorLock, handle: lock },
      { methods: ['POST'], path: PATHS.instructorMoveTo, handle: moveTo },
      { methods: ['POST'], path: PATHS.instructorTimer, handle: timer },
      { methods: ['POST'], path: PATHS.instructorMode, handle: mode },
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
