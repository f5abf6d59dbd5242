import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalDriver } from '../../../sandbox/src/drivers/local/index.js';
import { createGateway, type Gateway } from '../../../sandbox/src/gateway/index.js';
import { openTerminal, type TerminalClient } from '../../helpers/terminal-client.js';

// Each attack runs in one learner's environment while a bystander keeps typing in another: the attack must be
// stopped inside its own environment with a clear message, and the bystander must not notice.
let gateway: Gateway;
let dataDir: string;
let bystander: TerminalClient;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-contain-'));
  gateway = await createGateway({
    port: 0,
    dataDir,
    driver: createLocalDriver({
      jail: 'required',
      limits: { pids: 64, memoryMb: 128, diskMb: 40 },
      quotaCheckMs: 500,
    }),
  });
  bystander = await openTerminal(gateway.url);
});
afterAll(async () => {
  bystander.close();
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The bystander's keystroke-to-answer time, ms. */
async function bystanderEcho(tag: string): Promise<number> {
  const t0 = performance.now();
  bystander.type(`echo "ok-${tag}-$((1+1))"\r`);
  await bystander.waitFor(new RegExp(`^ok-${tag}-2$`, 'm'), 10_000);
  return performance.now() - t0;
}

/** The home of the newest environment (the learner who just connected). */
function newestHome(): string {
  const rows = gateway.db.prepare('SELECT home FROM environments ORDER BY created_at DESC LIMIT 1').get() as {
    home: string;
  };
  return rows.home;
}

describe('containment in the local jail', () => {
  it('stops a fork bomb at the environment’s process limit; the bystander and the gateway carry on', async () => {
    const t = await openTerminal(gateway.url);
    t.type(':(){ :|:& };:\r');
    await t.waitFor(/fork: (retry: )?Resource temporarily unavailable|Cannot fork|fork: Resource/, 20_000);
    expect(await bystanderEcho('fork')).toBeLessThan(2_000);
    const health = await fetch(`${gateway.url}/api/health`);
    expect(health.status).toBe(200);
    // The gateway can still end it: closing the environment kills the whole bomb.
    const envId = (
      gateway.db.prepare('SELECT id FROM environments ORDER BY created_at DESC LIMIT 1').get() as {
        id: string;
      }
    ).id;
    await gateway.environments.cull(envId, 'test');
    t.close();
  });

  it('OOM-kills a memory bomb inside the environment; the shell survives and says so', async () => {
    const t = await openTerminal(gateway.url);
    // tail keeps a whole "line" of /dev/zero in memory: it grows until the cgroup's limit stops it.
    t.type('tail /dev/zero; echo "exit=$?"\r');
    await t.waitFor(/^exit=137$/m, 30_000);
    expect(t.plain).toMatch(/Killed/);
    t.type('echo "alive-$((2+3))"\r');
    await t.waitFor(/^alive-5$/m);
    expect(await bystanderEcho('mem')).toBeLessThan(2_000);
    t.close();
  });

  it('caps one file, /tmp, and the whole home, each with a clear message', async () => {
    const t = await openTerminal(gateway.url);
    const home = newestHome();
    t.type(
      'dd if=/dev/zero of=/tmp/fill bs=1M count=100 2>&1 | grep -o "No space left on device"; echo tmp-done\r',
    );
    await t.waitFor(/^tmp-done$/m, 20_000);
    expect(t.plain).toMatch(/No space left on device/);
    t.type('dd if=/dev/zero of=~/one bs=1M count=100; echo "dd=$?"\r');
    await t.waitFor(/^dd=\d+$/m, 20_000);
    // As root the home is a 40 MB filesystem of its own, which fills before the per-file cap; without root the
    // per-file cap (RLIMIT_FSIZE) stops the write.
    expect(t.plain).toMatch(/File size limit exceeded|No space left on device/);
    expect(statSync(join(home, 'one')).size).toBeLessThanOrEqual(40 * 1024 * 1024);
    // Many files under the per-file cap still hit the home quota: refused while writing (a home image, as root) or
    // the environment's programs stopped (the du check, without root). Either way the learner is told why.
    t.type('rm -f ~/one; for i in 1 2 3 4 5 6; do head -c 30M /dev/zero > ~/part$i; done; sleep 30\r');
    await t.waitFor(/Your home folder is full|over its 40 MB quota/, 20_000);
    expect(existsSync(home)).toBe(true);
    expect(await bystanderEcho('disk')).toBeLessThan(2_000);
    t.close();
  });

  it('keeps the gateway answering Ctrl-C under an output flood', async () => {
    const t = await openTerminal(gateway.url);
    t.type('cat /dev/urandom | base64\r');
    await t.until((c) => c.bytes > 1_000_000, 15_000, 'flood');
    const t0 = performance.now();
    t.type('\x03');
    t.output = '';
    t.type('echo "calm-$((3*3))"\r');
    await t.waitFor(/calm-9/, 5_000);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(await bystanderEcho('flood')).toBeLessThan(2_000);
    t.close();
  });
});
