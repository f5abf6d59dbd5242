// Containment, each the way a learner (or an attacker) would try it, against the real engine: a fork bomb, a
// memory bomb and a disk fill stay inside their environment; `yes` through the real gateway still answers Ctrl-C;
// one learner can't reach another's container; no container reaches services on the host. In every case the
// other learner's environment keeps answering. (perf-security.md E-checklist #8, #14, #15, #16, #18.)
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../../../sandbox/src/gateway/index.js';
import type { Gateway } from '../../../sandbox/src/gateway/index.js';
import { createDockerDriver } from '../../../sandbox/src/drivers/docker/index.js';
import type { DockerDriver } from '../../../sandbox/src/drivers/docker/index.js';
import type { Sandbox } from '../../../sandbox/src/drivers/types.js';
import { firstHost } from '../../../sandbox/src/drivers/docker/pool-link.js';
import { openTerminal } from '../../helpers/terminal-client.js';
import { containerName } from '../../../sandbox/src/drivers/docker/client.js';
import { cleanup, collect, docker, ensureImage, runLabel, until } from './helpers.js';

const label = runLabel();
let driver: DockerDriver;
let bystander: Sandbox;

/** The bystander answers a command quickly: what "nothing of anyone else's disturbed" means here. */
async function bystanderAnswers(): Promise<void> {
  const t0 = Date.now();
  const r = await bystander.exec(['echo', 'fine']);
  expect(r.stdout).toBe('fine\n');
  expect(Date.now() - t0).toBeLessThan(5000);
}

beforeAll(async () => {
  await ensureImage();
  driver = await createDockerDriver({
    labels: { [label.key]: label.value },
    limits: { memoryMb: 128, pids: 64, diskMb: 32 },
  });
  bystander = await driver.create({ id: 'bystander', home: '/unused' });
}, 360_000);

afterAll(async () => {
  // undefined when beforeAll failed (e.g. the host firewall check refused to start).
  await (driver as DockerDriver | undefined)?.close();
  await cleanup(label);
}, 120_000);

describe('containment in docker environments', () => {
  it('a fork bomb hits the pids limit inside its container; the learner sees why; others carry on', async () => {
    const env = await driver.create({ id: 'forker', home: '/unused' });
    const term = env.attachTerminal({ cols: 80, rows: 24 });
    const out = collect(term);
    term.write(':(){ :|:& };:\n');
    await until(
      () => (/fork: (retry: )?Resource temporarily unavailable/.test(out.text()) ? true : undefined),
      20_000,
      'fork refusal',
    );
    // Read from the host, as an operator would (`docker stats`): a check inside would need a free pid itself, and
    // the bomb takes each one the moment it frees up.
    const stats = (await docker.getContainer(containerName('forker', 'main')).stats({ stream: false })) as {
      pids_stats?: { current?: number; limit?: number };
    };
    expect(stats.pids_stats?.limit).toBe(64);
    expect(stats.pids_stats?.current).toBeGreaterThan(32);
    expect(stats.pids_stats?.current).toBeLessThanOrEqual(64);
    await bystanderAnswers();
    // The gateway can still end it all: reset gives a fresh, working environment.
    await env.reset();
    expect((await env.exec(['echo', 'fresh'])).stdout).toBe('fresh\n');
    await env.destroy();
  }, 90_000);

  it('a memory bomb is OOM-killed inside its container ("Killed"); the shell survives', async () => {
    const env = await driver.create({ id: 'hog', home: '/unused' });
    const term = env.attachTerminal({ cols: 80, rows: 24 });
    const out = collect(term);
    // tail keeps a line with no newline in memory: it grows until the 128 MiB limit.
    term.write('head -c 1000000000 /dev/zero | tail > /dev/null; echo "after:$?"\n');
    await until(() => (/Killed[\s\S]*after:137/.test(out.text()) ? true : undefined), 60_000, 'OOM kill');
    term.write('echo still-$((40+2))\n');
    await until(() => (out.text().includes('still-42') ? true : undefined), 10_000, 'shell alive');
    await bystanderAnswers();
    await env.destroy();
  }, 90_000);

  it('a disk fill ends in "No space left on device" in the home; the host disk is untouched', async () => {
    const env = await driver.create({ id: 'filler', home: '/unused' });
    const r = await env.exec(
      ['sh', '-c', 'dd if=/dev/zero of=$HOME/big bs=1M count=1000; df -m $HOME | tail -1'],
      {
        timeoutMs: 30_000,
      },
    );
    expect(r.stderr).toContain('No space left on device');
    // The 32 MiB home is full, and that's all that is.
    expect((await env.exec(['stat', '-c', '%s', '/home/learner/big'])).stdout.trim()).toBe(
      String(32 * 1024 * 1024),
    );
    const root = await env.exec(['sh', '-c', 'echo x > /var/lib/x'], { root: true });
    expect(root.stderr).toMatch(/Read-only file system/);
    await bystanderAnswers();
    await env.destroy();
  }, 60_000);

  it('`yes` through the real gateway: Ctrl-C answers, and the gateway stays small', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'xenlab-docker-gw-'));
    const gw: Gateway = await createGateway({ dataDir, driver });
    try {
      const c = await openTerminal(gw.url);
      await c.waitFor(/\$ $/m, 20_000);
      c.type('yes\r');
      await c.until((x) => x.bytes > 2_000_000, 20_000, '2 MB of yes');
      const rss0 = process.memoryUsage().rss;
      c.type('\x03');
      c.output = '';
      c.type('echo done-$((6*7))\r');
      const t0 = Date.now();
      await c.waitFor(/done-42/, 15_000);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(process.memoryUsage().rss - rss0).toBeLessThan(100 * 1024 * 1024);
      await bystanderAnswers();
      c.close();
    } finally {
      await gw.close();
      for (const id of await driver.list())
        if (id !== 'bystander') await (await driver.create({ id, home: '/u' })).destroy();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it("a learner can't reach another learner's container, by address or by name", async () => {
    const a = await driver.create({ id: 'learner-a', home: '/unused' });
    const b = await driver.create({ id: 'learner-b', home: '/unused' });
    const bTerm = b.attachTerminal({ cols: 80, rows: 24 });
    const bOut = collect(bTerm);
    bTerm.write('nc -lk -p 7777 -s 0.0.0.0 & echo listening\n');
    await until(() => (bOut.text().includes('listening') ? true : undefined), 10_000, 'listener');
    const bIp = (
      await b.exec(['sh', '-c', "ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1"])
    ).stdout.trim();
    expect(bIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // B reaches its own listener (the listener works)…
    expect((await b.exec(['nc', '-z', '-w', '2', bIp, '7777'])).code).toBe(0);
    // …A gets nowhere: not by address, not by ping, not by B's hostname.
    expect((await a.exec(['nc', '-z', '-w', '2', bIp, '7777'])).code).not.toBe(0);
    expect((await a.exec(['ping', '-c', '1', '-W', '2', bIp])).code).not.toBe(0);
    expect((await a.exec(['getent', 'hosts', 'learner-b'], { timeoutMs: 3000 })).code).not.toBe(0);
    bTerm.kill();
    await a.destroy();
    await b.destroy();
  }, 60_000);

  it('no container reaches services on the host (gateway, simulators), through any host address', async () => {
    const servers: Server[] = [];
    const listen = (host: string) =>
      new Promise<number>((resolve) => {
        const s = createServer((_q, r) => r.end('host-ok'));
        servers.push(s);
        s.listen(0, host, () => {
          resolve((s.address() as AddressInfo).port);
        });
      });
    const any = await listen('0.0.0.0');
    const env = await driver.create({ id: 'prober', home: '/unused' });
    try {
      // The bridge's own address: the first host of the container's subnet (docker gives it to the bridge).
      const cidr = (await env.exec(['sh', '-c', "ip -4 -o addr show eth0 | awk '{print $4}'"])).stdout.trim();
      const bridge = firstHost(cidr);
      const hostAddrs = Object.values(networkInterfaces())
        .flat()
        .filter((i) => i?.family === 'IPv4' && !i.internal)
        .map((i) => i?.address ?? '');
      const targets = [...new Set([bridge, ...hostAddrs].filter((t) => /^\d+\./.test(t)))];
      expect(targets.length).toBeGreaterThan(1);
      // The server really answers from the host side (so a refusal below means something).
      const ok = await fetch(`http://127.0.0.1:${any}/`);
      expect(await ok.text()).toBe('host-ok');
      for (const t of targets) {
        const r = await env.exec(['nc', '-z', '-w', '2', t, String(any)]);
        expect(r.code, `container reached ${t}:${any}`).not.toBe(0);
      }
    } finally {
      for (const s of servers) s.close();
      await env.destroy();
    }
  }, 60_000);
});
