import { readFileSync } from 'node:fs';
import type { StateSink } from '../sim/persist.js';
import type { Db } from './index.js';

/**
 * Where an environment's simulator keeps its pool: a row of `pool_states`, written in one statement (SQLite's
 * journal makes it atomic). Pools saved as files by older versions (`legacyFile`, the row's `sim_state` path) are
 * read once, then live in the database.
 * @example
 * const sim = await startSimulator({ state: poolStateSink(db, row.id, row.simState) });
 */
export function poolStateSink(db: Db, envId: string, legacyFile?: string): StateSink {
  const get = db.prepare('SELECT state FROM pool_states WHERE env_id = ?');
  const put = db.prepare(
    `INSERT INTO pool_states (env_id, saved_at, state) VALUES (?, ?, ?)
     ON CONFLICT (env_id) DO UPDATE SET saved_at = excluded.saved_at, state = excluded.state`,
  );
  return {
    name: `the saved pool of environment ${envId}`,
    read() {
      const row = get.get(envId) as { state: string } | undefined;
      if (row) return row.state;
      if (legacyFile === undefined) return undefined;
      try {
        return readFileSync(legacyFile, 'utf8');
      } catch {
        return undefined;
      }
    },
    write(text) {
      put.run(envId, Date.now(), text);
      return Promise.resolve();
    },
  };
}
