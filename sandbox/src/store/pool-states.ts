import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { ObjectSink, PoolChanges, PoolLocation, StateSink } from '../sim/persist.js';
import { migrate, type Db } from './index.js';
import { moduleLogger } from '../log/index.js';

const log = moduleLogger('store');

/**
 * Pools kept object by object: one row per object (`pool_objects`, a rowid table so rows come back in creation
 * order), and the generation the pool had at its last
 * save (`pool_saves`). A save writes only the objects that changed, in one transaction.
 * Older versions kept a pool as one JSON text (`pool_states`), or as a file beside the environment: read until the
 * first save, which writes every object and drops the older save.
 */
const POOL_OBJECT_MIGRATIONS = [
  `CREATE TABLE pool_objects (
     env_id TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
     cls TEXT NOT NULL,
     ref TEXT NOT NULL,
     record TEXT NOT NULL,
     PRIMARY KEY (env_id, cls, ref)
   );
   CREATE TABLE pool_saves (
     env_id TEXT PRIMARY KEY REFERENCES environments(id) ON DELETE CASCADE,
     generation INTEGER NOT NULL,
     saved_at INTEGER NOT NULL
   );`,
];

/**
 * Where an environment's simulator keeps its pool: its rows in the gateway's database. The sink carries its
 * {@link PoolLocation} (database file and environment), so a simulator in a worker thread opens the same place with
 * its own connection ({@link openPoolSink}); in-memory databases are written through this connection only.
 * @example
 * const sim = await startSimulator({ state: poolStateSink(db, row.id, row.simState) });
 */
export function poolStateSink(db: Db, envId: string, legacyFile?: string): StateSink {
  migrate(db, 'pool-objects', POOL_OBJECT_MIGRATIONS);
  const file = db.memory ? undefined : db.name;
  return {
    ...objectSink(db, envId, legacyFile),
    ...(file === undefined
      ? {}
      : {
          location: {
            kind: 'sqlite',
            path: file,
            envId,
            ...(legacyFile === undefined ? {} : { legacyFile }),
          },
        }),
  };
}

/**
 * Opens the place a {@link PoolLocation} names with a connection of its own (a simulator's worker thread). The
 * database must exist and carry the schema (the gateway opened it with `openStore` and made the sink).
 * Synchronous commits are `NORMAL` in WAL mode: a committed save survives the process being killed (the WAL is
 * written before the commit returns); only a power cut may lose the last commits, never corrupt the pool.
 */
export function openPoolSink(location: Extract<PoolLocation, { kind: 'sqlite' }>): StateSink {
  const db = new Database(location.path, { fileMustExist: true });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const sink = objectSink(db, location.envId, location.legacyFile);
  return {
    ...sink,
    location,
    objects: {
      ...sink.objects,
      close: () => {
        db.close();
      },
    },
  };
}

function objectSink(
  db: Db,
  envId: string,
  legacyFile: string | undefined,
): StateSink & { readonly objects: ObjectSink } {
  const getLegacy = db.prepare('SELECT state FROM pool_states WHERE env_id = ?');
  const putLegacy = db.prepare(
    `INSERT INTO pool_states (env_id, saved_at, state) VALUES (?, ?, ?)
     ON CONFLICT (env_id) DO UPDATE SET saved_at = excluded.saved_at, state = excluded.state`,
  );
  const dropLegacy = db.prepare('DELETE FROM pool_states WHERE env_id = ?');
  const getSave = db.prepare('SELECT generation FROM pool_saves WHERE env_id = ?');
  // In the order objects were first saved (rowid), which is their creation order: `all(cls)` keeps its order.
  const rows = db.prepare('SELECT cls, ref, record FROM pool_objects WHERE env_id = ? ORDER BY rowid');
  const put = db.prepare(
    `INSERT INTO pool_objects (env_id, cls, ref, record) VALUES (?, ?, ?, ?)
     ON CONFLICT (env_id, cls, ref) DO UPDATE SET record = excluded.record`,
  );
  const del = db.prepare('DELETE FROM pool_objects WHERE env_id = ? AND cls = ? AND ref = ?');
  const dropAll = db.prepare('DELETE FROM pool_objects WHERE env_id = ?');
  const saved = db.prepare(
    `INSERT INTO pool_saves (env_id, generation, saved_at) VALUES (?, ?, ?)
     ON CONFLICT (env_id) DO UPDATE SET generation = excluded.generation, saved_at = excluded.saved_at`,
  );
  let first = true;
  const apply = db.transaction((changes: PoolChanges) => {
    if (first) dropLegacy.run(envId);
    for (const [cls, ref, rec] of changes.put) put.run(envId, cls, ref, JSON.stringify(rec));
    for (const [cls, ref] of changes.del) del.run(envId, cls, ref);
    saved.run(envId, changes.generation, Date.now());
  });
  return {
    name: `the saved pool of environment ${envId}`,
    /** The older whole-pool save, when there is one. */
    read() {
      const row = getLegacy.get(envId) as { state: string } | undefined;
      if (row) return row.state;
      if (legacyFile === undefined) return undefined;
      try {
        return readFileSync(legacyFile, 'utf8');
      } catch (err) {
        // No older save (ENOENT) is the usual case; anything else would lose a pool, so it is said.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
          log.warn('reading an older pool save failed', { environmentId: envId, file: legacyFile, err });
        return undefined;
      }
    },
    /** A whole-pool save (snapshots of older tools): replaces the object rows. */
    write(text) {
      db.transaction(() => {
        dropAll.run(envId);
        db.prepare('DELETE FROM pool_saves WHERE env_id = ?').run(envId);
        putLegacy.run(envId, Date.now(), text);
      })();
      return Promise.resolve();
    },
    objects: {
      load() {
        const save = getSave.get(envId) as { generation: number } | undefined;
        if (!save) return undefined;
        const tables: Record<string, [string, Record<string, unknown>][]> = {};
        for (const r of rows.iterate(envId) as Iterable<{ cls: string; ref: string; record: string }>) {
          (tables[r.cls] ??= []).push([r.ref, JSON.parse(r.record) as Record<string, unknown>]);
        }
        return { version: 1, generation: save.generation, tables };
      },
      apply(changes) {
        apply(changes);
        first = false;
      },
    },
  };
}
