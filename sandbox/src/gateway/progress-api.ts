import type { IncomingMessage, ServerResponse } from 'node:http';
import { gradingHistory } from '../grading/store.js';
import { PATHS, type ProgressResponse } from '../protocol/index.js';
import type { Db, Learners } from '../store/index.js';
import { json } from './http.js';
import type { Route } from './router.js';
import { readSession } from './session-cookie.js';

/** What the learner's progress endpoint needs: who the browser is, and the grading history. */
export interface ProgressApiDeps {
  readonly learners: Learners;
  readonly db: Db;
}

/**
 * `GET /api/progress`: the browser's own learner's labs × tasks × passed, points and when — the grading history the
 * instructor's room reads, filtered to the learner behind this browser's session cookie, and only theirs (there is
 * no parameter to name another learner). A browser that is no learner yet gets `learner: null` and no labs; this
 * endpoint never makes one, nor sets a cookie.
 */
export function progressRoutes(d: ProgressApiDeps): Route[] {
  const progress = (req: IncomingMessage, res: ServerResponse): void => {
    const sid = readSession(req);
    const learner = sid === null ? undefined : d.learners.bySession(sid);
    const body: ProgressResponse = {
      learner: learner ? { id: learner.id, name: learner.displayName } : null,
      labs: {},
    };
    if (learner)
      for (const h of gradingHistory(d.db, { learner: learner.id })) {
        const lab = (body.labs[h.lab] ??= { score: 0, tasks: {} });
        const passed = h.firstPassedAt !== null;
        const points = passed ? h.points : 0;
        lab.score += points;
        lab.tasks[h.task] = { passed, passedAt: h.firstPassedAt, points };
      }
    json(res, 200, body, { Vary: 'Cookie' });
  };
  return [{ methods: ['GET'], path: PATHS.progress, handle: progress }];
}
