import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Environments, Learners, openStore, poolStateSink } from './index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A database with one learner and one environment whose pool the older layout kept in `legacy`. */
function setup(legacy: string) {
  const db = openStore(':memory:');
  const learner = new Learners(db).join('a'.repeat(43), null);
  new Environments(db).insert({
    id: 'env-1',
    learnerId: learner.id,
    labId: 'playground',
    driver: 'local',
    home: '/nonexistent',
    xapiUser: 'root',
    xapiPassword: 'x',
    simState: legacy,
    status: 'active',
    createdAt: 0,
    lastActiveAt: 0,
  });
  return db;
}

describe('saved pools', () => {
  it('come from the database; a pool an older version saved as a file is read until the first save', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-pool-states-'));
    dirs.push(dir);
    const legacy = join(dir, 'pool.json');
    const db = setup(legacy);
    const sink = poolStateSink(db, 'env-1', legacy);
    expect(sink.read()).toBeUndefined();
    writeFileSync(legacy, '{"from":"file"}');
    expect(sink.read()).toBe('{"from":"file"}');
    await sink.write('{"from":"db"}');
    expect(sink.read()).toBe('{"from":"db"}');
    await sink.write('{"from":"db, again"}');
    expect(sink.read()).toBe('{"from":"db, again"}');
    // Kept with its environment, and gone with it.
    db.prepare('DELETE FROM environments WHERE id = ?').run('env-1');
    expect(db.prepare('SELECT count(*) AS n FROM pool_states').get()).toEqual({ n: 0 });
    db.close();
  });
});
