// Grading costs nothing while nobody watches (issue #12): a lab environment with no lab channel open spawns no
// script checks and does not poll, yet its XenAPI checks follow events; a page attaching resumes everything at once
// and gets the state; script checks that keep failing are retried with exponential backoff, not on every poll.
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
import { createClient } from '../../../toolkit/src/xenapi/index.js';
import {
  checkOf,
  openLabPage,
  serveLabChannel,
  until,
  writeLab,
  type LabChannelServer,
} from '../../helpers/lab-channel.js';

const POLL_MS = 100;
let root: string;
let env: LabEnvironment;
let channel: LabChannelServer;
/** Every command the grader (or anyone) ran in the learner's sandbox. */
const execs: string[][] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-grading-idle-'));
  const dir = writeLab(root, 'idle-lab', {
    title: 'Idle',
    solve: 'touch ~/done\nxe pool-param-set uuid=$(xe pool-list --minimal) name-label=idle-ok\n',
    yaml: `id: idle-lab
title: Idle
summary: A script check and a XenAPI check.
tasks:
  - id: make-file
    title: Make a file
    text: Touch ~/done.
    checks:
      - id: file-made
        kind: script
        run: |
          [ -f ~/done ] || { echo "FAIL: there is no ~/done yet."; exit 1; }
  - id: name-pool
    title: Name the pool
    text: Name it.
    checks: [{ id: pool-named, kind: xapi, select: pool, where: { name_label: idle-ok } }]
`,
  });
  env = await createLabEnvironment({
    lab: loadLab(dir),
    driver: createLabLocalDriver(),
    learnerId: 'idle',
    home: join(root, 'home'),
    pollMs: POLL_MS,
    fast: true,
  });
  // Count exec calls as the grader makes them (it calls env.sandbox.exec).
  const exec = env.sandbox.exec.bind(env.sandbox);
  env.sandbox.exec = (argv, opts) => {
    execs.push([...argv]);
    return exec(argv, opts);
  };
  channel = await serveLabChannel(env);
}, 60_000);

afterAll(async () => {
  await channel.close();
  await env.close();
  rmSync(root, { recursive: true, force: true });
});

describe('grading nobody watches', () => {
  it('spawns nothing and does not poll without a page, while XenAPI checks still follow events', async () => {
    const before = env.grader.stats();
    expect(before.watchers).toBe(0);
    const n = execs.length;
    // 20 polls' worth of time: the old grader ran the failing script check on every one of them.
    await sleep(20 * POLL_MS);
    expect(execs.length - n).toBe(0);
    expect(env.grader.stats().scriptRuns).toBe(before.scriptRuns);
    expect(env.grader.stats().scriptRuns).toBe(0); // not even at bring-up
    expect(env.grader.stats().evaluations - before.evaluations).toBeLessThanOrEqual(1);

    // The learner names the pool with no page open (over the XenAPI from here: no sandbox exec to count).
    const xapi = createClient({ url: env.xapi.url, user: env.xapi.user, password: env.xapi.password });
    const [pool] = await xapi.call('pool.get_all');
    if (pool === undefined) throw new Error('no pool');
    await xapi.call('pool.set_name_label', pool, 'idle-ok');
    await xapi.close();
    await until(() => checkOf(env.grader.view(), 'pool-named')?.pass === true);
    expect(execs.length - n).toBe(0);
  });

  it('resumes at once when a page attaches: the script check runs and its result arrives', async () => {
    const n = execs.length;
    const p = await openLabPage(channel.url);
    await until(() => p.states.length > 0);
    expect(p.states[0]?.trigger).toBe('initial');
    // The resumed evaluation runs the script check, which the page sees with its feedback.
    await until(() =>
      p.states.some((s) => checkOf(s.view, 'file-made')?.message === 'there is no ~/done yet.'),
    );
    expect(execs.length - n).toBeGreaterThanOrEqual(1);
    expect(env.grader.stats().watchers).toBe(1);

    // Failing the same way, the check backs off: far fewer runs than polls.
    const m = execs.length;
    await sleep(30 * POLL_MS);
    const runs = execs.length - m;
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(runs).toBeLessThanOrEqual(10);

    // Fixed: the next run (a Check press runs it at once) turns it green.
    await env.sandbox.exec(['bash', '-c', 'touch ~/done']);
    p.send({ type: 'lab.check' });
    await until(() => p.states.some((s) => checkOf(s.view, 'file-made')?.pass === true));

    // The page goes away: the grader pauses again.
    p.ws.close();
    await until(() => env.grader.stats().watchers === 0);
    const k = execs.length;
    await sleep(20 * POLL_MS);
    expect(execs.length - k).toBe(0);
  });
});
