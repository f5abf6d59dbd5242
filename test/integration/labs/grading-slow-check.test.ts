// One slow check never holds up the task panel (issue #12): the PXE lab's check boots a host for minutes, and the
// grader used to await every check of a pass together, so nothing reached the page until it ended. Here a script
// check sleeps 8 s: quick checks (a script, a XenAPI one) are published as soon as they are known, the slow one
// shows as pending ("checking…") and its result arrives later; it is never run twice at once; and
// `evaluate()` (what `lab test` uses) still waits for it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLabEnvironment,
  createLabLocalDriver,
  type LabEnvironment,
} from '../../../sandbox/src/lab-runtime/environment.js';
import { loadLab } from '../../../sandbox/src/labs/loader.js';
import type { LabView } from '../../../sandbox/src/protocol/lab.js';
import { createClient } from '../../../toolkit/src/xenapi/index.js';
import {
  checkOf,
  openLabPage,
  serveLabChannel,
  until,
  writeLab,
  type LabChannelServer,
} from '../../helpers/lab-channel.js';

const POLL_MS = 200;
const SLOW_S = 8;
let root: string;
let env: LabEnvironment;
let channel: LabChannelServer;
/** Runs of the slow check now, and the most there ever were at once. */
let slowRunning = 0;
let slowMaxAtOnce = 0;
let slowRuns = 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-grading-slow-'));
  const dir = writeLab(root, 'slow-lab', {
    title: 'Slow',
    solve: 'touch ~/quick ~/slow\nxe pool-param-set uuid=$(xe pool-list --minimal) name-label=slow-ok\n',
    yaml: `id: slow-lab
title: Slow
summary: A slow script check beside quick ones.
tasks:
  - id: boot-host
    title: Boot the host
    text: Touch ~/slow (the check takes ${String(SLOW_S)} s, like a PXE boot).
    checks:
      - id: slow-booted
        kind: script
        timeoutMs: 30000
        run: |
          sleep ${String(SLOW_S)}
          [ -f ~/slow ] || { echo "FAIL: the host did not boot."; exit 1; }
  - id: make-file
    title: Make a file
    text: Touch ~/quick.
    checks:
      - id: quick-made
        kind: script
        run: |
          [ -f ~/quick ] || { echo "FAIL: there is no ~/quick yet."; exit 1; }
  - id: name-pool
    title: Name the pool
    text: Name it.
    checks: [{ id: pool-named, kind: xapi, select: pool, where: { name_label: slow-ok } }]
`,
  });
  env = await createLabEnvironment({
    lab: loadLab(dir),
    driver: createLabLocalDriver(),
    learnerId: 'slow',
    home: join(root, 'home'),
    pollMs: POLL_MS,
    fast: true,
  });
  // Count the slow check's runs as the grader starts them (it calls env.sandbox.exec).
  const exec = env.sandbox.exec.bind(env.sandbox);
  env.sandbox.exec = async (argv, opts) => {
    const slow = argv.some((a) => a.includes(`sleep ${String(SLOW_S)}`));
    if (!slow) return exec(argv, opts);
    slowRuns++;
    slowMaxAtOnce = Math.max(slowMaxAtOnce, ++slowRunning);
    try {
      return await exec(argv, opts);
    } finally {
      slowRunning--;
    }
  };
  channel = await serveLabChannel(env);
}, 60_000);

afterAll(async () => {
  await channel.close();
  await env.close();
  rmSync(root, { recursive: true, force: true });
});

describe('a slow check', () => {
  it(
    'does not hold up the others: quick results arrive at once, the slow one shows pending, then its result',
    { timeout: 60_000 },
    async () => {
      // The page attaching runs every check at once, the slow one included.
      const { ws, states, send } = await openLabPage(channel.url);
      await until(() => slowRuns === 1, 5_000, 'the slow check started');
      await until(
        () => states.some((s) => checkOf(s.view, 'quick-made')?.message === 'there is no ~/quick yet.'),
        3_000,
        'the quick check reported failing while the slow one runs',
      );

      // The learner does the quick tasks while the slow check runs.
      const changed = Date.now();
      await env.sandbox.exec(['bash', '-c', 'touch ~/quick']);
      const xapi = createClient({ url: env.xapi.url, user: env.xapi.user, password: env.xapi.password });
      const [pool] = await xapi.call('pool.get_all');
      if (pool === undefined) throw new Error('no pool');
      await xapi.call('pool.set_name_label', pool, 'slow-ok');
      await xapi.close();
      const quickDone = (v: LabView) =>
        checkOf(v, 'quick-made')?.pass === true && checkOf(v, 'pool-named')?.pass === true;
      await until(
        () => states.some((s) => quickDone(s.view)),
        2_500,
        'the quick checks passed on the page while the slow check runs',
      );
      const first = states.find((s) => quickDone(s.view));
      expect(first && first.received - changed).toBeLessThan(2_500);
      // The slow check is still running: shown pending, its last result kept.
      await until(
        () => states.some((s) => quickDone(s.view) && checkOf(s.view, 'slow-booted')?.pending === true),
        2_000,
        'the slow check shown as pending',
      );
      const pending = states.find((s) => checkOf(s.view, 'slow-booted')?.pending === true);
      expect(checkOf(pending?.view ?? env.grader.view(), 'slow-booted')).toMatchObject({
        pass: false,
        pending: true,
        pendingSince: expect.any(Number) as number,
      });
      expect(env.grader.view().tasks.find((t) => t.id === 'make-file')?.pass).toBe(true);
      expect(slowRunning).toBe(1);

      // A Check press (and every poll) while it runs joins the run: never a second copy at once.
      send({ type: 'lab.check' });
      await sleep(500);
      expect(slowRunning).toBe(1);

      // Its result arrives by itself.
      await until(
        () =>
          states.some(
            (s) =>
              checkOf(s.view, 'slow-booted')?.pending === undefined &&
              checkOf(s.view, 'slow-booted')?.message === 'the host did not boot.',
          ),
        (SLOW_S + 4) * 1000,
        'the slow check result published',
      );
      expect(slowMaxAtOnce).toBe(1);
      ws.close();
      await until(() => env.grader.stats().watchers === 0, 5_000, 'the page gone');
    },
  );

  it(
    'evaluate() still waits for it (lab test); with wait: false it returns at once',
    { timeout: 60_000 },
    async () => {
      // A run the poll may have left is joined: wait for a clean slate first.
      await until(() => env.grader.stats().pending === 0, (SLOW_S + 4) * 1000, 'no run in progress');
      await env.sandbox.exec(['bash', '-c', 'touch ~/slow']);

      let t = Date.now();
      const quick = await env.grader.evaluate('check', true, { wait: false });
      expect(Date.now() - t).toBeLessThan(SLOW_S * 500);
      expect(checkOf(quick, 'slow-booted')?.pass).toBe(false);
      expect(slowRunning).toBe(1);

      t = Date.now();
      const done = await env.grader.evaluate('check', true);
      expect(Date.now() - t).toBeGreaterThan(SLOW_S * 500);
      expect(checkOf(done, 'slow-booted')).toEqual({ id: 'slow-booted', kind: 'script', pass: true });
      expect(done.tasks.every((x) => x.pass)).toBe(true);
      expect(env.grader.stats().pending).toBe(0);
      expect(slowMaxAtOnce).toBe(1);
    },
  );
});
