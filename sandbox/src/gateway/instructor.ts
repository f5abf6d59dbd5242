/**
 * The instructor's side of the gateway: who is in the room, what each learner has achieved and when (the grading
 * history, durable), which environments run, a message to every open terminal, and a read-only look at a
 * learner's terminal. Instructors are recognised by a cookie derived from the instructor key, which they get by
 * opening the link `xenlab serve` prints (`/instructor?key=…`); the key itself never travels again.
 * @module
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { basename, dirname } from 'node:path';
import { answerAttempts, gradingHistory } from '../grading/store.js';
import { loadAllLabs } from '../labs/loader.js';
import type { InstructorRoom, RoomLearner } from '../protocol/index.js';
import { assistText } from '../protocol/lab.js';
import type { EnvironmentManager } from '../sessions/index.js';
import type { Db } from '../store/index.js';
import { taskTimes } from './task-times.js';

export const INSTRUCTOR_COOKIE = 'xenlab_instructor';

export interface InstructorOptions {
  /** The secret in the instructor's link. */
  readonly key: string;
  readonly db: Db;
  readonly environments: EnvironmentManager;
  readonly labsDir: string;
}

const same = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

function readCookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The instructor's view and powers; see the module comment. */
export class Instructor {
  readonly #opts: InstructorOptions;
  /** What the instructor's browser holds: derived from the key, so it survives a gateway restart. */
  readonly #cookieValue: string;
  #labList: InstructorRoom['labs'] | undefined;

  constructor(options: InstructorOptions) {
    this.#opts = options;
    this.#cookieValue = createHmac('sha256', options.key).update('xenlab-instructor-v1').digest('base64url');
  }

  /** Whether a key from a link is the instructor key. */
  keyMatches(key: string | null): boolean {
    return key !== null && same(key, this.#opts.key);
  }

  /** The Set-Cookie header that makes this browser the instructor's. */
  cookieHeader(): string {
    return `${INSTRUCTOR_COOKIE}=${this.#cookieValue}; Path=/; HttpOnly; SameSite=Strict; Max-Age=604800`;
  }

  /** Whether the request comes from the instructor's browser. */
  recognises(req: IncomingMessage): boolean {
    const v = readCookie(req, INSTRUCTOR_COOKIE);
    return v !== undefined && same(v, this.#cookieValue);
  }

  /** The course's labs as the room shows them: read once (the room is asked every 2 s), in course order. */
  labs(): InstructorRoom['labs'] {
    this.#labList ??= loadAllLabs(this.#opts.labsDir)
      .labs.map((lab) => ({
        id: lab.id,
        title: lab.manifest.title,
        order: lab.manifest.order,
        maxScore: lab.manifest.tasks.reduce((n, t) => n + t.points, 0),
        tasks: lab.manifest.tasks.map((t) => ({ id: t.id, title: t.title, points: t.points })),
      }))
      .sort((a, b) => a.order - b.order);
    return this.#labList;
  }

  /** The room now: every learner, their environments, and what they achieved in each lab. */
  room(): InstructorRoom {
    const { db, environments } = this.#opts;
    const learners = db
      .prepare(
        'SELECT id, display_name, course_code, created_at, last_seen_at FROM learners ORDER BY created_at',
      )
      .all() as {
      id: string;
      display_name: string | null;
      course_code: string | null;
      created_at: number;
      last_seen_at: number;
    }[];
    const rows = db
      .prepare('SELECT id, learner_id, lab_id, status, last_active_at FROM environments')
      .all() as { id: string; learner_id: string; lab_id: string; status: string; last_active_at: number }[];
    const byLearner = new Map<string, RoomLearner>();
    const hands = new Map(
      (
        db.prepare('SELECT learner_id, lab_id, note, at FROM help_requests').all() as {
          learner_id: string;
          lab_id: string;
          note: string;
          at: number;
        }[]
      ).map((h) => [h.learner_id, { lab: h.lab_id, note: h.note, at: h.at }]),
    );
    for (const l of learners)
      byLearner.set(l.id, {
        id: l.id,
        name: l.display_name,
        joinedAt: l.created_at,
        lastSeenAt: l.last_seen_at,
        help: hands.get(l.id) ?? null,
        environments: [],
        labs: {},
      });
    for (const r of rows) {
      const live = environments.find(r.id);
      byLearner.get(r.learner_id)?.environments.push({
        id: r.id,
        lab: r.lab_id,
        state: live ? 'running' : 'paused',
        lastActiveAt: live?.lastActivity ?? r.last_active_at,
        terminals: live
          ? [...live.terminals].map(([name, t]) => ({
              name,
              running: !t.exited,
              viewers: t.viewers,
            }))
          : [],
      });
    }
    for (const h of gradingHistory(db)) {
      const l = byLearner.get(h.learner);
      if (!l) continue;
      const lab = (l.labs[h.lab] ??= { score: 0, tasks: {} });
      if (h.firstPassedAt !== null) lab.score += h.points;
      const task: (typeof lab.tasks)[string] = {
        passedAt: h.firstPassedAt,
        attempts: h.attempts,
        hints: h.hintsUsed,
        solutionShown: h.solutionShown,
        ...(h.skipped ? { skipped: true } : {}),
      };
      lab.tasks[h.task] = task;
      const assisted = assistText({
        hints: h.hintsUsed,
        solution: h.solutionShown,
        ran: h.ran,
        skipped: h.skipped,
        resets: h.resets,
      });
      if (assisted !== '') task.assisted = assisted;
    }
    // Answers per task, evaluated and refused by the rate limit (issue #11): many on one question is guessing.
    for (const a of answerAttempts(db)) {
      const l = byLearner.get(a.learner);
      if (!l || a.task === null) continue;
      const lab = (l.labs[a.lab] ??= { score: 0, tasks: {} });
      const task = (lab.tasks[a.task] ??= { passedAt: null, attempts: 0, hints: 0, solutionShown: false });
      task.answerAttempts = (task.answerAttempts ?? 0) + a.attempts;
      task.answersRefused = (task.answersRefused ?? 0) + a.refused;
    }
    // Time per task and who looks stuck (issue #16), from the same history.
    const now = Date.now();
    const labs = this.labs();
    const times = taskTimes(db, labs, (id) => environments.find(id) !== undefined, now);
    for (const [learnerId, perLab] of times.current) {
      const l = byLearner.get(learnerId);
      if (!l) continue;
      for (const [lab, current] of perLab) (l.labs[lab] ??= { score: 0, tasks: {} }).current = current;
    }
    return {
      generatedAt: now,
      labs: labs.map((lab) => ({
        ...lab,
        tasks: lab.tasks.map((t) => ({ ...t, ...times.medians.get(lab.id)?.get(t.id) })),
      })),
      learners: [...byLearner.values()],
    };
  }

  /** A learner's raised hand, or null (never raised, lowered, or marked done). */
  helpOf(learnerId: string): { lab: string; note: string; at: number } | null {
    const row = this.#opts.db
      .prepare('SELECT lab_id, note, at FROM help_requests WHERE learner_id = ?')
      .get(learnerId) as { lab_id: string; note: string; at: number } | undefined;
    return row ? { lab: row.lab_id, note: row.note, at: row.at } : null;
  }

  /** A learner raises a hand (again: the note and time are replaced), or lowers it. */
  setHelp(learnerId: string, request: { lab: string; note: string } | null): void {
    if (request === null) {
      this.#opts.db.prepare('DELETE FROM help_requests WHERE learner_id = ?').run(learnerId);
      return;
    }
    this.#opts.db
      .prepare(
        `INSERT INTO help_requests (learner_id, lab_id, note, at) VALUES (?, ?, ?, ?)
         ON CONFLICT (learner_id) DO UPDATE SET lab_id = excluded.lab_id, note = excluded.note, at = excluded.at`,
      )
      .run(learnerId, request.lab, request.note, Date.now());
  }

  /**
   * Removes a learner from the room: their live environments end (shells and simulator stop), then the learner,
   * their browser sessions, environment records, saved pools, raised hand and grading history are deleted, and
   * their environments' folders removed. Their browser has to join again. False when there is no such learner.
   */
  async removeLearner(learnerId: string): Promise<boolean> {
    const { db, environments } = this.#opts;
    const exists = db.prepare('SELECT 1 FROM learners WHERE id = ?').get(learnerId) !== undefined;
    if (!exists) return false;
    const rows = db.prepare('SELECT id, home FROM environments WHERE learner_id = ?').all(learnerId) as {
      id: string;
      home: string;
    }[];
    for (const env of environments.all().filter((e) => e.row.learnerId === learnerId))
      await environments.cull(env.row.id, 'removed by the instructor');
    db.transaction(() => {
      const tables = ['grading_checks', 'grading_events', 'grading_tasks', 'grading_answers'];
      for (const table of [...tables, 'lab_faults_fired', 'lab_fault_clocks'])
        if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table))
          db.prepare(`DELETE FROM ${table} WHERE learner = ?`).run(learnerId);
      // Sessions, environments (and their saved pools) and the raised hand go with it (ON DELETE CASCADE).
      db.prepare('DELETE FROM learners WHERE id = ?').run(learnerId);
    })();
    for (const r of rows) {
      // The environment's own folder (<dataDir>/envs/<id>/home): only ever that folder, never above it.
      const dir = dirname(r.home);
      if (basename(dir) === r.id && basename(dirname(dir)) === 'envs')
        rmSync(dir, { recursive: true, force: true });
    }
    return true;
  }

  /** The history as CSV (one row per learner × task ever attempted), for a spreadsheet or a grade book. */
  csv(): string {
    const names = new Map(
      (
        this.#opts.db.prepare('SELECT id, display_name FROM learners').all() as {
          id: string;
          display_name: string | null;
        }[]
      ).map((r) => [r.id, r.display_name ?? '']),
    );
    const cell = (v: string | number | boolean | null) => {
      const s = v === null ? '' : String(v);
      // Quoted always; a leading = + - @ is defused so a spreadsheet never runs a learner-chosen name as a formula.
      return `"${(/^[=+\-@\t\r]/.test(s) ? `'${s}` : s).replace(/"/g, '""')}"`;
    };
    const lines = [
      ['learner', 'name', 'lab', 'task', 'first_passed_utc', 'points', 'attempts', 'hints', 'solution_shown']
        .map(cell)
        .join(','),
    ];
    for (const h of gradingHistory(this.#opts.db))
      lines.push(
        [
          h.learner,
          names.get(h.learner) ?? '',
          h.lab,
          h.task,
          h.firstPassedAt === null ? null : new Date(h.firstPassedAt).toISOString(),
          h.firstPassedAt === null ? 0 : h.points,
          h.attempts,
          h.hintsUsed,
          h.solutionShown,
        ]
          .map(cell)
          .join(','),
      );
    return `${lines.join('\r\n')}\r\n`;
  }
}
