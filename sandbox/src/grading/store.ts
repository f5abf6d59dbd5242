/**
 * Durable grading state in the gateway's SQLite database (better-sqlite3): the learner's current progress (so a
 * reload or a restart shows the same panel) and the instructor's history — every change of every check, and when
 * each task was first achieved (Labtainers' "ever achieved" goals next to the learner's current state).
 * @module
 */
import type Database from 'better-sqlite3';
import type { LabMode } from '../protocol/lab.js';

type Db = Database.Database;

const STEPS = [
  `CREATE TABLE grading_checks (
     learner TEXT NOT NULL, lab TEXT NOT NULL, check_id TEXT NOT NULL,
     pass INTEGER NOT NULL, message TEXT, first_passed_at INTEGER, updated_at INTEGER NOT NULL,
     PRIMARY KEY (learner, lab, check_id)
   );
   CREATE TABLE grading_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     learner TEXT NOT NULL, lab TEXT NOT NULL, task TEXT NOT NULL, check_id TEXT NOT NULL,
     pass INTEGER NOT NULL, message TEXT, trigger TEXT NOT NULL, at INTEGER NOT NULL
   );
   CREATE INDEX grading_events_by_learner ON grading_events (learner, lab, at);
   CREATE TABLE grading_tasks (
     learner TEXT NOT NULL, lab TEXT NOT NULL, task TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0, hints TEXT NOT NULL DEFAULT '[]', solution_shown INTEGER NOT NULL DEFAULT 0,
     first_passed_at INTEGER, points INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL,
     PRIMARY KEY (learner, lab, task)
   );
   CREATE TABLE grading_answers (
     learner TEXT NOT NULL, lab TEXT NOT NULL, check_id TEXT NOT NULL,
     answer_sha256 TEXT NOT NULL, correct INTEGER NOT NULL, at INTEGER NOT NULL,
     PRIMARY KEY (learner, lab, check_id)
   );`,
  // Answer attempts (issue #11): how many were evaluated and how many refused by the rate limit, per question.
  `ALTER TABLE grading_answers ADD COLUMN task TEXT;
   ALTER TABLE grading_answers ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE grading_answers ADD COLUMN refused INTEGER NOT NULL DEFAULT 0;`,
  // Reset, skip, modes (issue #16). `first_passed_at` and `points` stay the history (ever achieved, best points);
  // `passed_at` and `earned` are the learner's current pass, cleared by a reset to the task or an earlier one.
  // What helped is kept with the task: Run presses on its solution, skipped, resets. `mode`: the lab's mode when the
  // task passed. An answer reopened by a reset no longer counts (its attempts stay for the instructor).
  `ALTER TABLE grading_tasks ADD COLUMN passed_at INTEGER;
   ALTER TABLE grading_tasks ADD COLUMN earned INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE grading_tasks ADD COLUMN ran INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE grading_tasks ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE grading_tasks ADD COLUMN resets INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE grading_tasks ADD COLUMN mode TEXT;
   UPDATE grading_tasks SET passed_at = first_passed_at, earned = points;
   ALTER TABLE grading_answers ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE grading_modes (
     learner TEXT NOT NULL, lab TEXT NOT NULL, mode TEXT NOT NULL, updated_at INTEGER NOT NULL,
     PRIMARY KEY (learner, lab)
   );`,
];

/**
 * Creates or upgrades the `grading_*` tables (each step once, tracked in `grading_schema`). Safe to call on
 * every start.
 * @example
 * const db = openStore('.xenlab/xenlab.db'); migrateGrading(db);
 */
export function migrateGrading(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS grading_schema (step INTEGER PRIMARY KEY)');
  const done = new Set(
    (db.prepare('SELECT step FROM grading_schema').all() as { step: number }[]).map((r) => r.step),
  );
  STEPS.forEach((sql, i) => {
    if (done.has(i)) return;
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO grading_schema (step) VALUES (?)').run(i);
    })();
  });
}

/** A task's record: what the learner did and what helped. */
export interface SavedTask {
  attempts: number;
  hints: number[];
  solutionShown: boolean;
  /** When it was first achieved (not by skipping): the instructor's history, never cleared. */
  firstPassedAt: number | null;
  /** When its current pass happened (skipped ones too); null while open (again, after a reset). */
  passedAt: number | null;
  /** Points of the current pass. */
  earned: number;
  /** Run presses on code blocks of its solution. */
  ran: number;
  skipped: boolean;
  /** Resets to its start. */
  resets: number;
  /** The lab's mode when it passed. */
  mode: LabMode | null;
}

/**
 * What {@link GradingStore.saveTask} takes: a task's record; without the current pass it is the first pass, with
 * `points` earned (how records were written before resets existed).
 */
export type TaskRecord = Pick<SavedTask, 'attempts' | 'solutionShown' | 'firstPassedAt'> & {
  readonly hints: readonly number[];
} & Partial<Omit<SavedTask, 'attempts' | 'hints' | 'solutionShown' | 'firstPassedAt'>> & {
    readonly points?: number;
  };

/** A learner's saved progress on one lab. */
export interface SavedProgress {
  readonly checks: Map<string, { pass: boolean; firstPassedAt: number | null }>;
  readonly tasks: Map<string, SavedTask>;
  readonly answers: Map<string, boolean>;
  /** The lab's mode, when the learner chose one. */
  readonly mode: LabMode | undefined;
}

/** One learner × lab's grading records. Without a database everything is kept in memory only. */
export class GradingStore {
  readonly #db: Db | undefined;
  readonly #learner: string;
  readonly #lab: string;

  constructor(db: Db | undefined, learner: string, lab: string) {
    this.#db = db;
    this.#learner = learner;
    this.#lab = lab;
    if (db) migrateGrading(db);
  }

  /** What was saved before (empty without a database). */
  load(): SavedProgress {
    const db = this.#db;
    if (!db) return { checks: new Map(), tasks: new Map(), answers: new Map(), mode: undefined };
    const k = [this.#learner, this.#lab];
    const mode = (
      db.prepare('SELECT mode FROM grading_modes WHERE learner = ? AND lab = ?').get(...k) as
        { mode: LabMode } | undefined
    )?.mode;
    const out: SavedProgress = { checks: new Map(), tasks: new Map(), answers: new Map(), mode };
    for (const r of db
      .prepare('SELECT check_id, pass, first_passed_at FROM grading_checks WHERE learner = ? AND lab = ?')
      .all(...k) as { check_id: string; pass: number; first_passed_at: number | null }[])
      out.checks.set(r.check_id, { pass: r.pass === 1, firstPassedAt: r.first_passed_at });
    for (const r of db
      .prepare(
        `SELECT task, attempts, hints, solution_shown, first_passed_at, passed_at, earned, ran, skipped, resets, mode
         FROM grading_tasks WHERE learner = ? AND lab = ?`,
      )
      .all(...k) as {
      task: string;
      attempts: number;
      hints: string;
      solution_shown: number;
      first_passed_at: number | null;
      passed_at: number | null;
      earned: number;
      ran: number;
      skipped: number;
      resets: number;
      mode: LabMode | null;
    }[])
      out.tasks.set(r.task, {
        attempts: r.attempts,
        hints: JSON.parse(r.hints) as number[],
        solutionShown: r.solution_shown === 1,
        firstPassedAt: r.first_passed_at,
        passedAt: r.passed_at,
        earned: r.earned,
        ran: r.ran,
        skipped: r.skipped === 1,
        resets: r.resets,
        mode: r.mode,
      });
    for (const r of db
      .prepare(
        'SELECT check_id, correct FROM grading_answers WHERE learner = ? AND lab = ? AND attempts > 0 AND reopened = 0',
      )
      .all(...k) as { check_id: string; correct: number }[])
      out.answers.set(r.check_id, r.correct === 1);
    return out;
  }

  /** Records a check whose result changed (history) and its current state. */
  checkChanged(
    task: string,
    check: string,
    pass: boolean,
    message: string | undefined,
    trigger: string,
    at: number,
  ): void {
    const db = this.#db;
    if (!db) return;
    db.transaction(() => {
      db.prepare(
        `INSERT INTO grading_events (learner, lab, task, check_id, pass, message, trigger, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(this.#learner, this.#lab, task, check, pass ? 1 : 0, message ?? null, trigger, at);
      db.prepare(
        `INSERT INTO grading_checks (learner, lab, check_id, pass, message, first_passed_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (learner, lab, check_id) DO UPDATE SET pass = excluded.pass, message = excluded.message,
           first_passed_at = COALESCE(grading_checks.first_passed_at, excluded.first_passed_at), updated_at = excluded.updated_at`,
      ).run(this.#learner, this.#lab, check, pass ? 1 : 0, message ?? null, pass ? at : null, at);
    })();
  }

  /**
   * Saves a task's record. The history columns only grow: `first_passed_at` keeps the first achievement, `points`
   * the best pass; the current pass (`passed_at`, `earned`) is what the learner's panel shows.
   */
  saveTask(task: string, input: TaskRecord): void {
    const t: SavedTask = {
      ran: 0,
      skipped: false,
      resets: 0,
      mode: null,
      ...input,
      hints: [...input.hints],
      passedAt: input.passedAt === undefined ? input.firstPassedAt : input.passedAt,
      earned: input.earned ?? input.points ?? 0,
    };
    this.#db
      ?.prepare(
        `INSERT INTO grading_tasks (learner, lab, task, attempts, hints, solution_shown, first_passed_at, points, updated_at,
           passed_at, earned, ran, skipped, resets, mode)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (learner, lab, task) DO UPDATE SET attempts = excluded.attempts, hints = excluded.hints,
           solution_shown = excluded.solution_shown, first_passed_at = COALESCE(grading_tasks.first_passed_at, excluded.first_passed_at),
           points = MAX(grading_tasks.points, excluded.points), updated_at = excluded.updated_at,
           passed_at = excluded.passed_at, earned = excluded.earned, ran = excluded.ran, skipped = excluded.skipped,
           resets = excluded.resets, mode = excluded.mode`,
      )
      .run(
        this.#learner,
        this.#lab,
        task,
        t.attempts,
        JSON.stringify(t.hints),
        t.solutionShown ? 1 : 0,
        t.firstPassedAt,
        t.passedAt === null ? 0 : t.earned,
        Date.now(),
        t.passedAt,
        t.passedAt === null ? 0 : t.earned,
        t.ran,
        t.skipped ? 1 : 0,
        t.resets,
        t.mode,
      );
  }

  /** Keeps the lab's mode (guided or challenge). */
  saveMode(mode: LabMode): void {
    this.#db
      ?.prepare(
        `INSERT INTO grading_modes (learner, lab, mode, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (learner, lab) DO UPDATE SET mode = excluded.mode, updated_at = excluded.updated_at`,
      )
      .run(this.#learner, this.#lab, mode, Date.now());
  }

  /**
   * A reset reopened these checks: their answers no longer count and a temporal check must be proven again (the
   * events table keeps every change they went through).
   */
  reopenChecks(checks: readonly string[]): void {
    const db = this.#db;
    if (!db || checks.length === 0) return;
    db.transaction(() => {
      for (const c of checks) {
        db.prepare(
          'UPDATE grading_answers SET reopened = 1 WHERE learner = ? AND lab = ? AND check_id = ?',
        ).run(this.#learner, this.#lab, c);
        db.prepare(
          'UPDATE grading_checks SET first_passed_at = NULL WHERE learner = ? AND lab = ? AND check_id = ?',
        ).run(this.#learner, this.#lab, c);
      }
    })();
  }

  /** Saves an answer as its hash (never the text) and whether it was right, and counts the attempt. */
  saveAnswer(check: string, sha256: string, correct: boolean, at: number, task?: string): void {
    this.#db
      ?.prepare(
        `INSERT INTO grading_answers (learner, lab, check_id, answer_sha256, correct, at, task, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, 1)
         ON CONFLICT (learner, lab, check_id) DO UPDATE SET answer_sha256 = excluded.answer_sha256, correct = excluded.correct, at = excluded.at,
           task = COALESCE(excluded.task, grading_answers.task), attempts = grading_answers.attempts + 1, reopened = 0`,
      )
      .run(this.#learner, this.#lab, check, sha256, correct ? 1 : 0, at, task ?? null);
  }

  /**
   * Counts an answer the rate limit refused (not evaluated). The row may not exist yet (the evaluated answers
   * before it are still being saved): then it starts with no attempts, which the next saved answer fills in.
   */
  answerRefused(check: string, sha256: string, at: number, task?: string): void {
    this.#db
      ?.prepare(
        `INSERT INTO grading_answers (learner, lab, check_id, answer_sha256, correct, at, task, attempts, refused) VALUES (?, ?, ?, ?, 0, ?, ?, 0, 1)
         ON CONFLICT (learner, lab, check_id) DO UPDATE SET refused = grading_answers.refused + 1`,
      )
      .run(this.#learner, this.#lab, check, sha256, at, task ?? null);
  }
}

/** Answer attempts of one learner on one question: evaluated, refused by the rate limit, right now or not. */
export interface AnswerAttempts {
  readonly learner: string;
  readonly lab: string;
  /** The task of the question (null for answers recorded before tasks were). */
  readonly task: string | null;
  readonly check: string;
  readonly attempts: number;
  readonly refused: number;
  readonly correct: boolean;
}

/**
 * Every learner's answer attempts (the instructor's room shows them: many attempts on one question is guessing).
 * @example
 * answerAttempts(db).filter((a) => a.attempts > 5)
 */
export function answerAttempts(db: Db, filter: { lab?: string; learner?: string } = {}): AnswerAttempts[] {
  migrateGrading(db);
  return (
    db
      .prepare(
        `SELECT learner, lab, task, check_id, attempts, refused, correct FROM grading_answers
         WHERE (? IS NULL OR lab = ?) AND (? IS NULL OR learner = ?) ORDER BY learner, lab, check_id`,
      )
      .all(filter.lab ?? null, filter.lab ?? null, filter.learner ?? null, filter.learner ?? null) as {
      learner: string;
      lab: string;
      task: string | null;
      check_id: string;
      attempts: number;
      refused: number;
      correct: number;
    }[]
  ).map((r) => ({
    learner: r.learner,
    lab: r.lab,
    task: r.task,
    check: r.check_id,
    attempts: r.attempts,
    refused: r.refused,
    correct: r.correct === 1,
  }));
}

/** One row of the instructor's view: a learner's task, when first achieved, attempts and hints used. */
export interface InstructorRow {
  readonly learner: string;
  readonly lab: string;
  readonly task: string;
  readonly firstPassedAt: number | null;
  readonly points: number;
  readonly attempts: number;
  readonly hintsUsed: number;
  readonly solutionShown: boolean;
  /** The current pass (null while open again after a reset); skipped passes too. */
  readonly passedAt: number | null;
  /** Done by skipping (no points). */
  readonly skipped: boolean;
  /** Run presses on its solution's code blocks. */
  readonly ran: number;
  /** Resets to its start. */
  readonly resets: number;
  /** The lab's mode when it passed. */
  readonly mode: LabMode | null;
}

/**
 * The instructor's view of history: what every learner ever achieved, and when.
 * @example
 * gradingHistory(db, { lab: 'anatomy-of-a-pool' }).filter((r) => r.firstPassedAt !== null)
 */
export function gradingHistory(db: Db, filter: { lab?: string; learner?: string } = {}): InstructorRow[] {
  migrateGrading(db);
  const rows = db
    .prepare(
      `SELECT learner, lab, task, first_passed_at, points, attempts, hints, solution_shown, passed_at, skipped, ran, resets, mode
       FROM grading_tasks
       WHERE (? IS NULL OR lab = ?) AND (? IS NULL OR learner = ?) ORDER BY learner, lab, task`,
    )
    .all(filter.lab ?? null, filter.lab ?? null, filter.learner ?? null, filter.learner ?? null) as {
    learner: string;
    lab: string;
    task: string;
    first_passed_at: number | null;
    points: number;
    attempts: number;
    hints: string;
    solution_shown: number;
    passed_at: number | null;
    skipped: number;
    ran: number;
    resets: number;
    mode: LabMode | null;
  }[];
  return rows.map((r) => ({
    learner: r.learner,
    lab: r.lab,
    task: r.task,
    firstPassedAt: r.first_passed_at,
    points: r.points,
    attempts: r.attempts,
    hintsUsed: (JSON.parse(r.hints) as number[]).length,
    solutionShown: r.solution_shown === 1,
    passedAt: r.passed_at,
    skipped: r.skipped === 1,
    ran: r.ran,
    resets: r.resets,
    mode: r.mode,
  }));
}

/** Every recorded change of a learner's checks on a lab, oldest first (the evidence timeline). */
export function checkTimeline(
  db: Db,
  learner: string,
  lab: string,
): { task: string; check: string; pass: boolean; message: string | null; trigger: string; at: number }[] {
  migrateGrading(db);
  return (
    db
      .prepare(
        'SELECT task, check_id, pass, message, trigger, at FROM grading_events WHERE learner = ? AND lab = ? ORDER BY id',
      )
      .all(learner, lab) as {
      task: string;
      check_id: string;
      pass: number;
      message: string | null;
      trigger: string;
      at: number;
    }[]
  ).map((r) => ({
    task: r.task,
    check: r.check_id,
    pass: r.pass === 1,
    message: r.message,
    trigger: r.trigger,
    at: r.at,
  }));
}
