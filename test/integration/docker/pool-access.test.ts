// The learner's own pool from a docker environment, through the real gateway: `xe` in the container's terminal
// reaches that learner's simulator with no flags, the lab grader sees what was typed there, and another learner's
// container can't reach it. The link to the pool goes when the environment does.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../../toolkit/src/xenapi/index.js';
import { createDockerDriver } from '../../../sandbox/src/drivers/docker/index.js';
import type { DockerDriver } from '../../../sandbox/src/drivers/docker/index.js';
import { createGateway } from '../../../sandbox/src/gateway/index.js';
import type { Gateway } from '../../../sandbox/src/gateway/index.js';
import type { LiveEnvironment } from '../../../sandbox/src/sessions/index.js';
import { openTerminal } from '../../helpers/terminal-client.js';
import { cleanup, ensureImage, runLabel } from './helpers.js';

const label = runLabel();
let driver: DockerDriver;
let gateway: Gateway;
let dataDir: string;

beforeAll(async () => {
  await ensureImage();
  driver = await createDockerDriver({ labels: { [label.key]: label.value } });
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-docker-pool-'));
  gateway = await createGateway({ port: 0, dataDir, driver, labPollMs: 500 });
}, 360_000);

afterAll(async () => {
  await (gateway as Gateway | undefined)?.close();
  await (driver as DockerDriver | undefined)?.close();
  await cleanup(label);
  rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

/** The live environment of a lab (the playground's id is `playground`), by its row in the gateway's database. */
function environmentOf(labId: string, except: string[] = []): LiveEnvironment {
  const rows = gateway.db.prepare('SELECT id FROM environments WHERE lab_id = ?').all(labId) as {
    id: string;
  }[];
  const live = rows.map((r) => gateway.environments.find(r.id)).filter((e) => e !== undefined);
  const env = live.find((e) => !except.includes(e.row.id));
  if (!env) throw new Error(`no live ${labId} environment`);
  return env;
}

describe('the learner’s pool from a docker environment', () => {
  it('xe in the container reaches the learner’s own pool with no flags; another learner’s does not', async () => {
    const a = await openTerminal(gateway.url);
    a.type(
      'xe pool-param-set uuid=$(xe pool-list --minimal) name-label=pool-of-a && echo renamed-$((40+2))\r',
    );
    await a.waitFor(/^renamed-42$/m, 30_000);
    const envA = environmentOf('playground');
    const poolA = envA.xapi;
    if (!poolA) throw new Error('the playground has a pool');
    // The change is in A's simulator, the one the gateway started for A.
    const client = createClient({ url: poolA.url, user: poolA.user, password: poolA.password });
    const pools = Object.values(await client.call('pool.get_all_records'));
    expect(pools.map((p) => p.name_label)).toEqual(['pool-of-a']);
    await client.close();
    a.type('xe pool-list params=name-label --minimal; cat ~/.xe | grep -c password=\r');
    await a.waitFor(/^pool-of-a$/m, 30_000);
    await a.waitFor(/^1$/m, 10_000);
    const at = envA.sandbox.pool;
    expect(at?.host).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(at?.host).not.toBe('127.0.0.1');

    // A second learner: their own pool, untouched by A; and A's pool is out of their reach.
    const b = await openTerminal(gateway.url);
    b.type('xe pool-list params=name-label --minimal; echo listed-$((1+1))\r');
    await b.waitFor(/^listed-2$/m, 30_000);
    expect(b.output).not.toContain('pool-of-a');
    const envB = environmentOf('playground', [envA.row.id]);
    expect(envB.sandbox.pool?.host).not.toBe(at?.host);
    const probe = await envB.sandbox.exec(['nc', '-z', '-w', '2', at?.host ?? '', String(at?.port)]);
    expect(probe.code, 'B reached A’s pool').not.toBe(0);
    const withCreds = await envB.sandbox.exec(
      [
        'xe',
        '-s',
        at?.host ?? '',
        '-p',
        String(at?.port),
        '-u',
        poolA.user,
        '-pw',
        poolA.password,
        'pool-list',
      ],
      { timeoutMs: 5_000 },
    );
    // Dropped, not refused: xe waits on a connection that never comes (as it would across a firewall).
    expect(withCreds.code).not.toBe(0);
    expect(withCreds.stdout).not.toContain('pool-of-a');
    a.close();
    b.close();
  }, 120_000);

  it('a lab in a docker environment: the grader sees what the learner types in the container', async () => {
    const t = await openTerminal(gateway.url, { lab: 'anatomy-of-a-pool' });
    const labEnv = await gateway.labs.list().find((e) => e.labId === 'anatomy-of-a-pool')?.environment;
    if (!labEnv) throw new Error('no lab environment');
    const named = () => labEnv.grader.view().tasks.find((x) => x.id === 'name-the-pool')?.pass;
    expect(named()).toBe(false);
    t.type('xe pool-param-set uuid=$(xe pool-list --minimal) name-label=$LAB_POOL_NAME\r');
    const deadline = Date.now() + 30_000;
    while (named() !== true && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(named()).toBe(true);
    t.close();
  }, 120_000);

  it('takes the link down with the environment: no rule is left in the host firewall', async () => {
    const env = environmentOf('playground');
    const at = env.sandbox.pool;
    const rules = () => spawnSync('iptables', ['-S', 'INPUT'], { encoding: 'utf8' }).stdout;
    expect(rules()).toContain(`--dport ${String(at?.port)} `);
    await gateway.environments.cull(env.row.id, 'test');
    expect(rules()).not.toContain(`--dport ${String(at?.port)} `);
  }, 60_000);

  it('a gateway restart keeps the container, the learner’s files and pool; xe reaches the pool again', async () => {
    const t = await openTerminal(gateway.url);
    t.type(
      'echo kept-$((6*7)) > ~/notes && xe pool-param-set uuid=$(xe pool-list --minimal) name-label=before-restart && echo saved\r',
    );
    await t.waitFor(/^saved$/m, 30_000);
    const oldPort = environmentOf('playground').sandbox.pool?.port;
    t.close();
    await gateway.close();
    // A new gateway process: a new driver and gateway on the same data folder.
    await driver.close();
    driver = await createDockerDriver({ labels: { [label.key]: label.value } });
    gateway = await createGateway({ port: 0, dataDir, driver, labPollMs: 500 });
    const again = await openTerminal(gateway.url, { cookie: t.cookie });
    again.type('cat ~/notes; xe pool-list params=name-label --minimal\r');
    await again.waitFor(/^kept-42$/m, 30_000);
    await again.waitFor(/^before-restart$/m, 30_000);
    // The pool was started afresh from its saved state, on a new port, and ~/.xe follows it.
    expect(environmentOf('playground').sandbox.pool?.port).not.toBe(oldPort);
    again.close();
  }, 120_000);
});
