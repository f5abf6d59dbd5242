/**
 * The learner's own progress (`GET /api/progress`, the course site's progress page). Its own file so that the
 * learner-facing progress shape is read in one place; the instructor's room (index.ts) carries more per learner.
 * @module
 */
import { z } from 'zod';

/**
 * `GET /api/progress`: what this browser's learner achieved, lab by lab and task by task (from the grading history,
 * as the instructor's room has it, but only their own). `learner` is null, and `labs` empty, for a browser that has
 * not become a learner yet. Tasks never attempted are absent: the page knows every lab's tasks from the manifests.
 * @example
 * { learner: { id: 'Xq…', name: 'Ada' }, labs: { 'anatomy-of-a-pool': { score: 10, tasks: {
 *   'name-the-pool': { passed: true, passedAt: 1718000000000, points: 10 } } } } }
 */
export const ProgressResponse = z
  .object({
    learner: z.object({ id: z.string(), name: z.string().nullable() }).strict().nullable(),
    labs: z.record(
      z.string(),
      z
        .object({
          /** Points earned in the lab (its tasks passed at least once). */
          score: z.number(),
          tasks: z.record(
            z.string(),
            z
              .object({
                /** Passed at least once (points are kept once earned). */
                passed: z.boolean(),
                /** When it first passed (ms since the epoch), or null. */
                passedAt: z.number().nullable(),
                /** Points earned: the task's points once passed, else 0. */
                points: z.number(),
              })
              .strict(),
          ),
        })
        .strict(),
    ),
  })
  .strict();
export type ProgressResponse = z.infer<typeof ProgressResponse>;
