import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

describe('pools saved object by object', () => {
  it('write only what a call changed, before its answer, and come back after a restart', async () => {
    const { startSimulator } = await import('../sim/index.js');
    const { createClient } = await import('@xenlab/toolkit/xenapi');
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-pool-objects-'));
    dirs.push(dir);
    const legacy = join(dir, 'pool.json');
    // An older version's whole-pool save in pool_states: read once, then kept object by object.
    const old = await startSimulator({ port: 0, fast: true, seed: 's', stateFile: join(dir, 'old.json') });
    await old.close();

    const file = join(dir, 'xenlab.db');
    const main = openStore(file);
    const learner = new Learners(main).join('b'.repeat(43), null);
    new Environments(main).insert({
      id: 'env-2',
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
    main
      .prepare('INSERT INTO pool_states (env_id, saved_at, state) VALUES (?, ?, ?)')
      .run('env-2', 0, readFileSync(join(dir, 'old.json'), 'utf8'));
    const sim = await startSimulator({ port: 0, fast: true, seed: 's', state: poolStateSink(main, 'env-2') });
    // Migrated: every object in pool_objects, the older save gone.
    const count = () =>
      (main.prepare('SELECT count(*) AS n FROM pool_objects WHERE env_id = ?').get('env-2') as { n: number })
        .n;
    const all = count();
    expect(all).toBeGreaterThan(50);
    expect(main.prepare('SELECT count(*) AS n FROM pool_states').get()).toEqual({ n: 0 });

    const client = createClient({ url: sim.url, user: 'root', password: 'xenlab', transport: 'json-rpc' });
    await client.login();
    const [pool] = (await client.callRaw('pool.get_all')) as string[];
    // Watch writes through a second connection, as a crash would leave the file: no waiting for a debounce.
    const reader = openStore(file);
    const nameOf = () =>
      (
        reader.prepare("SELECT record FROM pool_objects WHERE env_id = 'env-2' AND cls = 'pool'").get() as {
          record: string;
        }
      ).record;
    await client.callRaw('pool.set_name_label', pool, 'saved-before-the-answer');
    expect(nameOf()).toContain('saved-before-the-answer');
    // Only the changed objects are rewritten: the rows' data is not rewritten wholesale (the pool row changed).
    const before = main
      .prepare("SELECT cls, ref, record FROM pool_objects WHERE cls != 'pool' AND cls != 'session'")
      .all();
    await client.callRaw('pool.set_name_description', pool, 'again');
    const after = main
      .prepare("SELECT cls, ref, record FROM pool_objects WHERE cls != 'pool' AND cls != 'session'")
      .all();
    expect(after).toEqual(before);
    await client.logout();
    await sim.close();
    reader.close();

    const again = await startSimulator({
      port: 0,
      fast: true,
      seed: 's',
      state: poolStateSink(main, 'env-2'),
    });
    const c2 = createClient({ url: again.url, user: 'root', password: 'xenlab', transport: 'json-rpc' });
    await c2.login();
    const [pool2] = (await c2.callRaw('pool.get_all')) as string[];
    expect(await c2.callRaw('pool.get_name_label', pool2)).toBe('saved-before-the-answer');
    // The same objects, in the same order.
    expect(await c2.callRaw('VM.get_all')).toEqual(again.sim.store.all('VM').map(([ref]) => ref));
    await c2.logout();
    await again.close();
    // Gone with the environment.
    main.prepare('DELETE FROM environments WHERE id = ?').run('env-2');
    expect(count()).toBe(0);
    main.close();
  }, 60_000);
});
