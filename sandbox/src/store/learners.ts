import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './index.js';

export interface Learner {
  readonly id: string;
  readonly displayName: string | null;
  readonly courseCode: string | null;
  readonly createdAt: number;
}

const hashSid = (sid: string) => createHash('sha256').update(sid).digest('hex');

/**
 * Learners and the browsers they use. A browser's session cookie maps to one learner; the cookie itself is never
 * stored, only its hash, so a copy of the database does not let anyone impersonate a learner.
 */
export class Learners {
  readonly #db: Db;
  readonly #now: () => number;

  constructor(db: Db, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** The learner behind a browser session, if that browser has joined. */
  bySession(sid: string): Learner | undefined {
    const row = this.#db
      .prepare(
        `SELECT l.id, l.display_name, l.course_code, l.created_at FROM browser_sessions b
         JOIN learners l ON l.id = b.learner_id WHERE b.sid_hash = ?`,
      )
      .get(hashSid(sid)) as
      { id: string; display_name: string | null; course_code: string | null; created_at: number } | undefined;
    if (!row) return undefined;
    this.#db.prepare('UPDATE learners SET last_seen_at = ? WHERE id = ?').run(this.#now(), row.id);
    return {
      id: row.id,
      displayName: row.display_name,
      courseCode: row.course_code,
      createdAt: row.created_at,
    };
  }

  /** Makes a new learner for this browser (joining a course, or self-paced with no code). */
  join(sid: string, courseCode: string | null, displayName: string | null = null): Learner {
    const id = randomBytes(9).toString('base64url');
    const now = this.#now();
    this.#db.transaction(() => {
      this.#db
        .prepare(
          'INSERT INTO learners (id, display_name, course_code, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(id, displayName, courseCode, now, now);
      this.#db
        .prepare(
          'INSERT OR REPLACE INTO browser_sessions (sid_hash, learner_id, created_at) VALUES (?, ?, ?)',
        )
        .run(hashSid(sid), id, now);
    })();
    return { id, displayName, courseCode, createdAt: now };
  }

  /** Sets the name the instructor sees (a learner who joined by link names themselves afterwards). */
  rename(id: string, displayName: string): void {
    this.#db.prepare('UPDATE learners SET display_name = ? WHERE id = ?').run(displayName, id);
  }

  /**
   * Lets another browser (a new session) be an existing learner: how a resume code brings a learner back. The
   * browser's previous session, if any, is replaced for this browser only; the learner's other browsers keep theirs.
   */
  addSession(sid: string, learnerId: string): void {
    this.#db
      .prepare('INSERT OR REPLACE INTO browser_sessions (sid_hash, learner_id, created_at) VALUES (?, ?, ?)')
      .run(hashSid(sid), learnerId, this.#now());
  }

  get(id: string): Learner | undefined {
    const row = this.#db
      .prepare('SELECT id, display_name, course_code, created_at FROM learners WHERE id = ?')
      .get(id) as
      { id: string; display_name: string | null; course_code: string | null; created_at: number } | undefined;
    return (
      row && {
        id: row.id,
        displayName: row.display_name,
        courseCode: row.course_code,
        createdAt: row.created_at,
      }
    );
  }

  count(): number {
    return (this.#db.prepare('SELECT count(*) AS n FROM learners').get() as { n: number }).n;
  }
}
