/**
 * Durable state of the gateway in SQLite (better-sqlite3 12): learners, their browsers, environments; other
 * modules (grading) add their own tables through {@link migrate}. WAL mode, so readers never block the writer and
 * a crash loses at most the last transaction.
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { XenlabError, type ErrorCode, type XenlabErrorOptions } from '../errors/index.js';

export type Db = Database.Database;

/**
 * Opens (creating if needed) the state database and applies the core schema.
 * @example
 * const db = openStore('.xenlab/xenlab.db');   // or ':memory:' in tests
 */
export function openStore(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let db: Db | undefined;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, 'core', CORE_MIGRATIONS);
    return db;
  } catch (err) {
    db?.close();
    const code = (err as { code?: unknown }).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT')
      throw new StoreError(
        'STORE_ERR_CORRUPT',
        `the state database ${path} is corrupt or not a database (${(err as Error).message}). ` +
          `Move it aside (e.g. mv ${path} ${path}.corrupt, with its -wal and -shm files) to start with a fresh one, ` +
          'or restore it from a backup.',
        { cause: err },
      );
    throw err;
  }
}

/** The state database can not be used as it is (the message says which file and what to do). */
export class StoreError extends XenlabError {
  constructor(code: ErrorCode, message: string, options: XenlabErrorOptions = {}) {
    super(code, message, { ...options, codeInMessage: false });
  }
}

/**
 * Applies a module's migrations in order, each once (tracked in `schema_migrations` by module name and index).
 * Append new steps; never edit a step that has shipped.
 */
export function migrate(db: Db, module: string, steps: readonly string[]): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT NOT NULL, step INTEGER NOT NULL, PRIMARY KEY (module, step))',
  );
  const done = new Set(
    (db.prepare('SELECT step FROM schema_migrations WHERE module = ?').all(module) as { step: number }[]).map(
      (r) => r.step,
    ),
  );
  const mark = db.prepare('INSERT INTO schema_migrations (module, step) VALUES (?, ?)');
  steps.forEach((sql, i) => {
    if (done.has(i)) return;
    db.transaction(() => {
      db.exec(sql);
      mark.run(module, i);
    })();
  });
}

const CORE_MIGRATIONS = [
  `CREATE TABLE learners (
     id TEXT PRIMARY KEY,
     display_name TEXT,
     course_code TEXT,
     created_at INTEGER NOT NULL,
     last_seen_at INTEGER NOT NULL
   );
   CREATE TABLE browser_sessions (
     sid_hash TEXT PRIMARY KEY,
     learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE environments (
     id TEXT PRIMARY KEY,
     learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
     lab_id TEXT NOT NULL,
     driver TEXT NOT NULL,
     home TEXT NOT NULL,
     xapi_user TEXT NOT NULL,
     xapi_password TEXT NOT NULL,
     sim_state TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('active', 'culled')),
     created_at INTEGER NOT NULL,
     last_active_at INTEGER NOT NULL
   );
   CREATE INDEX environments_by_learner ON environments (learner_id);`,
  // Each environment's simulated pool, as the simulator saves it (debounced after changes, and on shutdown).
  `CREATE TABLE pool_states (
     env_id TEXT PRIMARY KEY REFERENCES environments(id) ON DELETE CASCADE,
     saved_at INTEGER NOT NULL,
     state TEXT NOT NULL
   );`,
  // A learner's raised hand: which lab, an optional note, since when. Cleared by them or the instructor.
  `CREATE TABLE help_requests (
     learner_id TEXT PRIMARY KEY REFERENCES learners(id) ON DELETE CASCADE,
     lab_id TEXT NOT NULL,
     note TEXT NOT NULL,
     at INTEGER NOT NULL
   );`,
];

export { Learners, type Learner } from './learners.js';
export { Environments, type EnvironmentRow } from './environments.js';
export { poolStateSink } from './pool-states.js';
