// A data center going dark (fault kind pool-power-off): one button, and every host of the lab's pool loses power as
// the learner's tools and the checks see it (host_metrics.live false), listed as fired with its text; a second press
// is refused (it fires once). Span-data-centers' "Lose dc-east".
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLabEnvironment, createLabLocalDriver } from '../../../sandbox/src/lab-runtime/environment.js';
import { loadLab, type Lab } from '../../../sandbox/src/labs/loader.js';
import { createClient } from '../../../toolkit/src/xenapi/index.js';
import { writeLab } from '../../helpers/lab-channel.js';

let root: string;
let lab: Lab;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-pool-power-off-'));
  lab = loadLab(
    writeLab(root, 'dark', {
      title: 'Dark',
      solve: 'true\n',
      yaml: `id: dark
title: Dark
summary: The whole pool loses power.
environment:
  faults:
    - { id: lose-dc, kind: pool-power-off, trigger: { button: 'Lose the data center' } }
tasks:
  - id: t
    title: T
    text: T
    checks: [{ id: dark, kind: xapi, select: host, where: { metrics: { is: { live: true } } }, expect: { count: 0 } }]
`,
    }),
  );
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('fault pool-power-off', () => {
  it('powers off every host of the pool from one button, once', { timeout: 120_000 }, async () => {
    const env = await createLabEnvironment({
      lab,
      driver: createLabLocalDriver(),
      learnerId: 'l',
      home: join(root, 'home'),
      stateFile: join(root, 'pool.json'),
      fast: true,
    });
    const x = createClient({ url: env.xapi.url, user: env.xapi.user, password: env.xapi.password });
    const live = async () => {
      const metrics = await x.call('host_metrics.get_all_records');
      return Object.values(metrics).map((m) => m.live);
    };
    try {
      expect(await live()).toEqual([true, true, true]);
      expect(env.faults.view()?.buttons).toEqual([
        expect.objectContaining({ id: 'lose-dc', kind: 'pool-power-off', destructive: true, fired: false }),
      ]);
      await env.faults.press('lose-dc');
      expect(await live()).toEqual([false, false, false]);
      expect(env.faults.view()?.events.map((e) => e.text)).toEqual(['every host of the pool lost power']);
      const view = await env.grader.evaluate('check', false);
      expect(view.tasks[0]?.checks[0]?.pass).toBe(true);
      await expect(env.faults.press('lose-dc')).rejects.toMatchObject({ code: 'LAB_ERR_FAULT_FIRED' });
    } finally {
      await x.close();
      await env.close();
    }
  });
});
