// Skip on a lab whose solutions are scripts the learner writes (The XenAPI, on the simulator and the local shell):
// its first tasks' solutions are JavaScript files (```` ```js file=~/list-vms.mjs ````), and the events task starts a
// watcher that runs until stopped (```` ```sh terminal=watch until=stopped ````). Skip to the last task writes the
// files, runs them, starts the watcher without waiting for its end (its exec limit is 300 s: this test's timeout is
// far below), shuts the VM down while it watches, and stops it once the task is graded — the three tasks pass,
// skipped. Below, the runner of such a block on its own: it goes on once the block prints, stops it (nothing keeps
// running), and reports a block that fails at once.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLabEnvironment,
  createLabLocalDriver,
  type LabEnvironment,
} from '../../../sandbox/src/lab-runtime/environment.js';
import { startUntilStopped } from '../../../sandbox/src/lab-runtime/until-stopped.js';

let root: string;
let env: LabEnvironment;
const home = () => join(root, 'home');

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-skip-xenapi-'));
  env = await createLabEnvironment({
    lab: 'the-xenapi',
    driver: createLabLocalDriver(),
    learnerId: 'skipper',
    home: home(),
    fast: true,
    pollMs: 3_600_000,
  });
}, 60_000);
afterAll(async () => {
  await env.close();
  rmSync(root, { recursive: true, force: true });
});

describe('Skip on The XenAPI', () => {
  it('writes and runs the JavaScript solutions and starts the watcher without waiting for it to end', async () => {
    await env.steps.skip('maintenance');
    const v = env.grader.view();
    for (const id of ['sessions-and-records', 'async-tasks', 'events'])
      expect(v.tasks.find((t) => t.id === id)).toMatchObject({ pass: true, skipped: true, earned: 0 });
    expect(v.tasks.find((t) => t.id === 'maintenance')?.pass).toBe(false);
    expect(readFileSync(join(home(), 'list-vms.mjs'), 'utf8')).toContain("xapi.call('VM.get_all_records')");
    expect(readFileSync(join(home(), 'events.log'), 'utf8')).toMatch(
      new RegExp(`^${env.params.vmName ?? '?'} Halted$`, 'm'),
    );
    // The watcher's folder is gone with it.
    expect(readdirSync(home()).filter((f) => f.startsWith('.xenlab-until-stopped'))).toEqual([]);
  }, 120_000);
});

describe('a block that runs until stopped', () => {
  it('is started, left once it prints, and stopped whole (its loop no longer runs)', async () => {
    const r = await startUntilStopped(
      env.sandbox,
      'echo up\nwhile :; do date +%s%N > ~/tick; sleep 0.1; done | cat\n',
      undefined,
      60_000,
    );
    if (!('stop' in r)) throw new Error(`it ended: ${JSON.stringify(r.ended)}`);
    const stopped = await r.stop();
    expect(stopped).toMatchObject({ code: 0, stdout: 'up\n' });
    const tick = statSync(join(home(), 'tick')).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(statSync(join(home(), 'tick')).mtimeMs).toBe(tick);
  }, 60_000);

  it('reports a block that fails before it has started', async () => {
    // No output: it is not started yet when it ends (one that prints first is reported when Skip stops it).
    const r = await startUntilStopped(env.sandbox, 'cd /nonexistent 2>/dev/null\n');
    expect(r).toMatchObject({ ended: { code: 1, stdout: '' } });
  }, 30_000);
});
