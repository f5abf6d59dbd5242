/**
 * Where a lab environment's fault player keeps what it did, so a gateway restart neither fires a fault twice nor
 * forgets one: when the environment first came up (timed faults count from it) and every fault that fired after
 * setup (which, what, by what, when). Tables in the gateway's database, per learner × lab like the grading
 * history; without a database, memory only (`xenlab lab test`, tests).
 * @module
 */
import type Database from 'better-sqlite3';
import { migrate } from '../store/index.js';

/** What fired a fault after setup. */
export type FiredBy = 'after' | 'task' | 'button';

/** One fault that fired. */
export interface FiredFault {
  /** The fault's id, or `#<index>` in `environment.faults` for one without. */
  readonly key: string;
  readonly kind: string;
  readonly by: FiredBy;
  /** What happened, in words ("xcp-ng-02 lost power"). */
  readonly text: string;
  /** When (ms since epoch). */
  readonly at: number;
}

const MIGRATIONS = [
  `CREATE TABLE lab_fault_clocks (
     learner TEXT NOT NULL, lab TEXT NOT NULL, started_at INTEGER NOT NULL,
     PRIMARY KEY (learner, lab)
   );
   CREATE TABLE lab_faults_fired (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     learner TEXT NOT NULL, lab TEXT NOT NULL, fault TEXT NOT NULL, kind TEXT NOT NULL,
     fired_by TEXT NOT NULL, text TEXT NOT NULL, at INTEGER NOT NULL
   );
   CREATE INDEX lab_faults_fired_by_learner ON lab_faults_fired (learner, lab, id);`,
];

/** One learner × lab's fault record. */
export class FaultStore {
  readonly #db: Database.Database | undefined;
  readonly #learner: string;
  readonly #lab: string;
  #startedAt: number | undefined;
  #fired: FiredFault[] = [];

  constructor(db: Database.Database | undefined, learner: string, lab: string) {
    this.#db = db;
    this.#learner = learner;
    this.#lab = lab;
    if (!db) return;
    migrate(db, 'lab-faults', MIGRATIONS);
    const clock = db
      .prepare('SELECT started_at FROM lab_fault_clocks WHERE learner = ? AND lab = ?')
      .get(learner, lab) as { started_at: number } | undefined;
    this.#startedAt = clock?.started_at;
    this.#fired = (
      db
        .prepare(
          'SELECT fault, kind, fired_by, text, at FROM lab_faults_fired WHERE learner = ? AND lab = ? ORDER BY id',
        )
        .all(learner, lab) as { fault: string; kind: string; fired_by: FiredBy; text: string; at: number }[]
    ).map((r) => ({ key: r.fault, kind: r.kind, by: r.fired_by, text: r.text, at: r.at }));
  }

  /** When the environment first came up: kept from before, else `now` (and kept from now on). */
  startedAt(now: number): number {
    if (this.#startedAt !== undefined) return this.#startedAt;
    this.#startedAt = now;
    this.#db
      ?.prepare('INSERT OR IGNORE INTO lab_fault_clocks (learner, lab, started_at) VALUES (?, ?, ?)')
      .run(this.#learner, this.#lab, now);
    return now;
  }

  /** Every fault that fired, oldest first. */
  fired(): readonly FiredFault[] {
    return this.#fired;
  }

  record(f: FiredFault): void {
    this.#fired.push(f);
    this.#db
      ?.prepare(
        'INSERT INTO lab_faults_fired (learner, lab, fault, kind, fired_by, text, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(this.#learner, this.#lab, f.key, f.kind, f.by, f.text, f.at);
  }

  /**
   * Forgets the faults that fired after `at` (a reset restored the pool as it was then): they may fire again.
   * Returns their keys.
   */
  forgetSince(at: number): string[] {
    const gone = this.#fired.filter((f) => f.at > at).map((f) => f.key);
    this.#fired = this.#fired.filter((f) => f.at <= at);
    this.#db
      ?.prepare('DELETE FROM lab_faults_fired WHERE learner = ? AND lab = ? AND at > ?')
      .run(this.#learner, this.#lab, at);
    return gone;
  }

  /** Forgets the clock and the fired faults (a fresh environment: its story starts again). */
  reset(): void {
    this.#startedAt = undefined;
    this.#fired = [];
    const db = this.#db;
    if (!db) return;
    db.transaction(() => {
      db.prepare('DELETE FROM lab_fault_clocks WHERE learner = ? AND lab = ?').run(this.#learner, this.#lab);
      db.prepare('DELETE FROM lab_faults_fired WHERE learner = ? AND lab = ?').run(this.#learner, this.#lab);
    })();
  }
}

/**
 * Every fault that fired for learners (the instructor's view; filter by lab or learner), oldest first.
 * @example
 * firedFaults(db, { lab: 'ha-in-practice' }).filter((f) => f.by === 'button')
 */
export function firedFaults(
  db: Database.Database,
  filter: { lab?: string; learner?: string } = {},
): (FiredFault & { readonly learner: string; readonly lab: string })[] {
  migrate(db, 'lab-faults', MIGRATIONS);
  return (
    db
      .prepare(
        `SELECT learner, lab, fault, kind, fired_by, text, at FROM lab_faults_fired
         WHERE (? IS NULL OR lab = ?) AND (? IS NULL OR learner = ?) ORDER BY id`,
      )
      .all(filter.lab ?? null, filter.lab ?? null, filter.learner ?? null, filter.learner ?? null) as {
      learner: string;
      lab: string;
      fault: string;
      kind: string;
      fired_by: FiredBy;
      text: string;
      at: number;
    }[]
  ).map((r) => ({
    learner: r.learner,
    lab: r.lab,
    key: r.fault,
    kind: r.kind,
    by: r.fired_by,
    text: r.text,
    at: r.at,
  }));
}
