// Environments outlive a gateway restart so that the next gateway can adopt them; one that nobody comes back to
// must not live forever. A gateway that crashed (no destroy, no detach) leaves its containers; the next driver
// removes those that no environment claims within its idle window, at once those no record wants, and keeps the
// ones it adopted (files included). (Issue #11.)
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDockerDriver } from '../../sandbox/src/drivers/docker/index.js';
import type { DockerDriver } from '../../sandbox/src/drivers/docker/index.js';
import { containerName } from '../../sandbox/src/drivers/docker/client.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvironmentManager } from '../../sandbox/src/sessions/environments.js';
import { Environments, openStore } from '../../sandbox/src/store/index.js';
import { cleanup, docker, ensureImage, runLabel, until } from '../integration/docker/helpers.js';

const label = runLabel();
const labels = { [label.key]: label.value };
const drivers: DockerDriver[] = [];

/** A driver of this test; closed (pool and timers, never environments) after it, so it culls no later test's. */
async function driver(extra: { orphanMs?: number; pool?: number } = {}): Promise<DockerDriver> {
  const d = await createDockerDriver({ labels, ...extra });
  drivers.push(d);
  return d;
}

const exists = async (id: string) =>
  (await docker.listContainers({ all: true, filters: JSON.stringify({ name: [containerName(id, 'main')] }) }))
    .length > 0;

const networkOf = async (id: string) => {
  const info = await docker.getContainer(containerName(id, 'main')).inspect();
  return Object.keys(info.NetworkSettings.Networks)[0] ?? '';
};

beforeAll(async () => {
  await ensureImage();
}, 360_000);

afterEach(async () => {
  for (const d of drivers.splice(0)) await d.close();
});

afterAll(async () => {
  await cleanup(label);
}, 120_000);

describe('environments an earlier docker gateway left behind', () => {
  it('are removed when nobody claims them within the idle window; claimed ones stay with their files', async () => {
    const crashed = await driver();
    await crashed.create({ id: 'left-behind', home: '/unused' });
    const claimed = await crashed.create({ id: 'comes-back', home: '/unused' });
    await claimed.exec(['sh', '-c', 'echo mine > ~/f']);
    const orphanNet = await networkOf('left-behind');
    // The gateway dies here: no destroy(), no detach(). (close() only stops its pool and timers.)
    await crashed.close();

    const t0 = Date.now();
    const next = await driver({ orphanMs: 4000 });
    const back = await next.create({ id: 'comes-back', home: '/unused' });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await exists('left-behind')).toBe(true);
    await until(async () => ((await exists('left-behind')) ? undefined : true), 30_000, 'the orphan to go');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3500);
    expect((await docker.listNetworks({ filters: JSON.stringify({ name: [orphanNet] }) })).length).toBe(0);
    // The adopted one is the new gateway's, however long it idles here; its files are as they were.
    await new Promise((r) => setTimeout(r, 4500));
    expect(await exists('comes-back')).toBe(true);
    expect((await back.exec(['cat', '/home/learner/f'])).stdout).toBe('mine\n');
    expect(await next.list()).toEqual(['comes-back']);
    await back.destroy();
  }, 90_000);

  it('cullOrphans removes at once what no record wants, and gives the rest the window', async () => {
    const crashed = await driver();
    await crashed.create({ id: 'no-record', home: '/unused' });
    await crashed.create({ id: 'has-record', home: '/unused' });
    await crashed.close();
    const next = await driver();
    const removed = await next.cullOrphans({ keep: (id) => id === 'has-record', olderThanMs: 60_000 });
    expect(removed).toEqual(['no-record']);
    expect(await exists('no-record')).toBe(false);
    expect(await exists('has-record')).toBe(true);
    // A learner coming back after the cull of someone else's orphan gets their environment.
    const back = await next.create({ id: 'has-record', home: '/unused' });
    expect((await back.exec(['echo', 'here'])).stdout).toBe('here\n');
    await back.destroy();
  }, 90_000);

  it('warm containers of an earlier gateway go when the next one starts', async () => {
    const crashed = await driver({ pool: 1 });
    await crashed.poolReady(60_000);
    const warm = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [label.filter, 'xenlab.pool'] }),
    });
    expect(warm.length).toBe(1);
    // Crashed: its pool is never disposed of (close() would). A second later the next gateway starts.
    await new Promise((r) => setTimeout(r, 1100));
    await driver();
    await until(
      async () => {
        const left = await docker.listContainers({
          all: true,
          filters: JSON.stringify({ label: [label.filter, 'xenlab.pool'] }),
        });
        return left.some((c) => c.Id === warm[0]?.Id) ? undefined : true;
      },
      20_000,
      'the stale warm container to go',
    );
  }, 90_000);

  it('the gateway start (EnvironmentManager) removes those whose record is gone or culled, keeps active ones', async () => {
    const crashed = await driver();
    for (const id of ['ann~lab1', 'bob~lab1', 'cid~lab1']) await crashed.create({ id, home: '/unused' });
    await crashed.close();
    const dataDir = mkdtempSync(join(tmpdir(), 'xenlab-orphans-'));
    const db = openStore(':memory:');
    const rows = new Environments(db);
    for (const l of ['ann', 'bob'])
      db.prepare('INSERT INTO learners (id, created_at, last_seen_at) VALUES (?, ?, ?)').run(l, 0, 0);
    const row = (id: string, status: 'active' | 'culled') => ({
      id,
      learnerId: id.split('~')[0] ?? '',
      labId: 'lab1',
      driver: 'docker',
      home: join(dataDir, id),
      xapiUser: 'root',
      xapiPassword: 'x',
      simState: join(dataDir, id, 'pool.json'),
      status,
      createdAt: Date.now(),
      lastActiveAt: Date.now(),
    });
    rows.insert(row('ann~lab1', 'culled'));
    rows.insert(row('bob~lab1', 'active'));
    // cid~lab1 has no record at all.
    const manager = new EnvironmentManager({ db, driver: await driver(), dataDir });
    try {
      await until(
        async () => ((await exists('ann~lab1')) || (await exists('cid~lab1')) ? undefined : true),
        20_000,
        'the unwanted orphans to go',
      );
      expect(await exists('bob~lab1')).toBe(true);
    } finally {
      await manager.close();
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
