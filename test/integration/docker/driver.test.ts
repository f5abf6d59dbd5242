// The docker driver against the real engine: environments, terminals, checks, reset, snapshots, several nodes on
// one private network, re-attaching after a restart, the warm pool. Nothing is mocked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerDriver } from '../../../sandbox/src/drivers/docker/index.js';
import type { DockerDriver } from '../../../sandbox/src/drivers/docker/index.js';
import { cleanup, collect, docker, ensureImage, runLabel, until } from './helpers.js';

const label = runLabel();
let driver: DockerDriver;

beforeAll(async () => {
  await ensureImage();
  driver = await createDockerDriver({ labels: { [label.key]: label.value } });
}, 360_000);

afterAll(async () => {
  await (driver as DockerDriver | undefined)?.close();
  await cleanup(label);
}, 120_000);

describe('docker driver', () => {
  it('runs a terminal as the learner in a hardened container, with resize and environment', async () => {
    const env = await driver.create({
      id: 'alice@lab-1',
      home: '/unused',
      env: { XENAPI_URL: 'http://sim:1' },
    });
    const term = env.attachTerminal({ cols: 100, rows: 30 });
    const out = collect(term);
    term.write('echo "[$(id -un)] [$XENAPI_URL] [$(stty size)]"\n');
    await until(
      () => (out.text().includes('[learner] [http://sim:1] [30 100]') ? true : undefined),
      10_000,
      'echo',
    );
    term.resize(120, 40);
    term.write('stty size\n');
    await until(() => (out.text().includes('40 120') ? true : undefined), 10_000, 'resized');
    // The hardening a learner would notice: no capabilities, read-only system, private writable home.
    const caps = await env.exec([
      'sh',
      '-c',
      'grep -E "CapEff|NoNewPrivs" /proc/self/status; touch /etc/x; touch ~/ok && echo home-ok',
    ]);
    expect(caps.stdout).toMatch(/CapEff:\s+0000000000000000/);
    expect(caps.stdout).toMatch(/NoNewPrivs:\s+1/);
    expect(caps.stderr).toMatch(/Read-only file system/);
    expect(caps.stdout).toContain('home-ok');
    // A job left running in the background (even one ignoring hangups) ends with the terminal. (The `[1]` keeps
    // pgrep's pattern from matching the exec's own command line.)
    term.write('nohup sleep 1001 >/dev/null 2>&1 &\n');
    await until(
      async () => ((await env.exec(['pgrep', '-f', 'sleep 100[1]'])).code === 0 ? true : undefined),
      10_000,
      'job',
    );
    const exited = new Promise<number | null>((resolve) => {
      term.onExit(resolve);
    });
    term.kill();
    await exited;
    await until(
      async () =>
        (await env.exec(['sh', '-c', 'pgrep -x bash; pgrep -f "sleep 100[1]"'])).stdout === ''
          ? true
          : undefined,
      10_000,
      'no learner processes left',
    );
    await env.destroy();
  });

  it('exec: exit codes, stdin, root, timeouts and a capped output', async () => {
    const env = await driver.create({ id: 'exec-user', home: '/unused' });
    const r = await env.exec(['sh', '-c', 'cat; echo err >&2; exit 3'], { input: 'from stdin' });
    expect(r).toEqual({ code: 3, stdout: 'from stdin', stderr: 'err\n', timedOut: false });
    expect((await env.exec(['id', '-u'], { root: true })).stdout.trim()).toBe('0');
    const t0 = Date.now();
    const slow = await env.exec(['sleep', '30'], { timeoutMs: 1000 });
    expect(slow.timedOut).toBe(true);
    expect(Date.now() - t0).toBeLessThan(8000);
    const flood = await env.exec(['sh', '-c', 'yes | head -c 5000000']);
    expect(flood.stdout.length).toBe(1024 * 1024);
    const missing = await env.exec(['no-such-command']);
    expect(missing.code).toBe(127);
    await env.destroy();
  });

  it('reset gives a fresh environment; snapshot and restore bring files back', async () => {
    const env = await driver.create({ id: 'snap-user', home: '/unused' });
    await env.exec(['sh', '-c', 'mkdir -p ~/work && echo precious > ~/work/notes.txt']);
    const snap = await env.snapshot();
    await env.reset();
    expect((await env.exec(['ls', '-A', '/home/learner'])).stdout).not.toContain('work');
    await env.restore(snap);
    expect((await env.exec(['cat', '/home/learner/work/notes.txt'])).stdout).toBe('precious\n');
    await expect(env.restore({ ...snap, driver: 'local' })).rejects.toThrow(/SANDBOX_ERR_BAD_SNAPSHOT/);
    await env.destroy();
  }, 60_000);

  it('nodes of one environment share a private network and reach each other by name', async () => {
    const env = await driver.create({
      id: 'cluster-user',
      home: '/unused',
      nodes: [{ name: 'node1' }, { name: 'node2' }],
    });
    expect(env.nodes).toEqual(['node1', 'node2']);
    expect((await env.exec(['hostname'], { node: 'node2' })).stdout.trim()).toBe('node2');
    const ping = await env.exec(['ping', '-c', '1', '-W', '2', 'node2'], { node: 'node1' });
    expect(ping.code).toBe(0);
    await expect(driver.create({ id: 'bad', home: '/u', nodes: [{ name: 'A B' }] })).rejects.toThrow(
      /SANDBOX_ERR_BAD_NODE/,
    );
    await env.destroy();
  }, 60_000);

  it('bad requests get clear errors and leave nothing behind', async () => {
    await expect(
      driver.create({
        id: 'no-image',
        home: '/u',
        nodes: [{ name: 'a' }, { name: 'b', image: 'xenlab/nope:1' }],
      }),
    ).rejects.toThrow(/SANDBOX_ERR_NO_IMAGE: image xenlab\/nope:1 .*xenlab image build/);
    await expect(driver.create({ id: 'greedy', home: '/u', limits: { memoryMb: 1e9 } })).rejects.toThrow(
      /SANDBOX_ERR_BAD_LIMITS: memoryMb/,
    );
    const filters = JSON.stringify({ label: [label.filter] });
    expect(
      await docker.listContainers({ all: true, filters: JSON.stringify({ name: ['no-image'] }) }),
    ).toEqual([]);
    // The earlier tests destroyed their environments, so no network of this file may remain.
    expect((await docker.listNetworks({ filters })).map((n) => n.Name)).toEqual([]);
  });

  it('a restarted gateway re-attaches to running environments; destroy leaves nothing behind', async () => {
    const env = await driver.create({ id: 'restart-user', home: '/unused' });
    await env.exec(['sh', '-c', 'echo still-here > ~/f']);
    const again = await createDockerDriver({ labels: { [label.key]: label.value } });
    expect(await again.list()).toContain('restart-user');
    const back = await again.create({ id: 'restart-user', home: '/unused' });
    expect((await back.exec(['cat', '/home/learner/f'])).stdout).toBe('still-here\n');
    await back.destroy();
    const left = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ name: ['restart-user'] }),
    });
    expect(left).toEqual([]);
    expect(await again.list()).not.toContain('restart-user');
  }, 60_000);

  it('the warm pool serves starts without a container create, and refills', async () => {
    const pooled = await createDockerDriver({ labels: { [label.key]: label.value }, pool: 1 });
    try {
      await pooled.poolReady(60_000);
      const t0 = performance.now();
      const env = await pooled.create({ id: 'pool-user', home: '/unused', limits: { memoryMb: 128 } });
      const ms = performance.now() - t0;
      expect(pooled.pool?.hits).toBe(1);
      expect(ms).toBeLessThan(500);
      // The claimed container took the environment's own memory limit.
      const limit = await env.exec(['cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
      expect(limit.stdout.trim()).toBe(String(128 * 1024 * 1024));
      expect(await pooled.list()).toContain('pool-user');
      await pooled.poolReady(60_000);
      expect(pooled.pool?.ready).toBe(1);
      await env.destroy();
    } finally {
      await pooled.close();
    }
  }, 120_000);
});
