// Reset to the start of a task, skip ahead, and challenge scoring (issue #16), below the browser: a lab environment
// on the local driver with three tasks (a pool change, a file in the home, a question), driven over the lab channel.
// Reset brings back the pool and a file as they were at the task's start and opens the task again; a gateway
// restart (detach, bring up again on the same database) keeps checkpoints and grading; skip applies the earlier
// tasks' solutions as the learner and records them skipped (no points); challenge mode prices hints and refuses
// solutions.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLabEnvironment,
  createLabLocalDriver,
  type LabEnvironment,
} from '../../../sandbox/src/lab-runtime/environment.js';
import { gradingHistory } from '../../../sandbox/src/grading/store.js';
import { loadLab, type Lab } from '../../../sandbox/src/labs/loader.js';
import type { LabServerMessage, LabView } from '../../../sandbox/src/protocol/lab.js';
import { openStore } from '../../../sandbox/src/store/index.js';
import { createClient, type XapiClient } from '../../../toolkit/src/xenapi/index.js';
import { openLabPage, serveLabChannel, until, writeLab } from '../../helpers/lab-channel.js';

let root: string;
let lab: Lab;
let db: Database.Database;
const driver = createLabLocalDriver();

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-steps-'));
  lab = loadLab(
    writeLab(root, 'steps-lab', {
      title: 'Steps',
      solve: 'xe pool-param-set uuid=$(xe pool-list --minimal) name-label=go\necho hi > ~/done.txt\n',
      yaml: `id: steps-lab
title: Steps
summary: Three tasks to reset to and skip.
tasks:
  - id: name-pool
    title: Name the pool
    text: Name it go.
    points: 20
    checks: [{ id: pool-named, kind: xapi, select: pool, where: { name_label: go } }]
    hints: [Use xe pool-param-set., 'name-label=go', Look at xe pool-list., Really.]
    solution: |
      \`\`\`sh
      xe pool-param-set uuid=$(xe pool-list --minimal) name-label=go
      \`\`\`
  - id: make-file
    title: Make a file
    text: Write ~/done.txt.
    checks: [{ id: file-there, kind: script, run: 'test -f ~/done.txt || { echo "FAIL: no ~/done.txt"; exit 1; }' }]
    solution: |
      \`\`\`sh
      echo hi > ~/done.txt
      \`\`\`
  - id: count-hosts
    title: Count the hosts
    text: How many?
    checks: [{ id: hosts, kind: answer, question: How many hosts?, expect: { count: { select: host } } }]
    solution: |
      \`\`\`sh
      xe host-list --minimal
      \`\`\`
`,
    }),
  );
  db = openStore(':memory:');
});
afterAll(() => {
  db.close();
  rmSync(root, { recursive: true, force: true });
});

const up = (learnerId: string): Promise<LabEnvironment> =>
  createLabEnvironment({
    lab,
    driver,
    learnerId,
    home: join(root, learnerId, 'home'),
    stateFile: join(root, learnerId, 'pool.json'),
    db,
    fast: true,
    pollMs: 200,
  });

const clientOf = (env: LabEnvironment): XapiClient =>
  createClient({ url: env.xapi.url, user: env.xapi.user, password: env.xapi.password });

async function poolRef(x: XapiClient) {
  const [pool] = await x.call('pool.get_all');
  if (!pool) throw new Error('no pool');
  return pool;
}

async function poolField(x: XapiClient, field: 'name_label' | 'name_description'): Promise<string> {
  const pool = await poolRef(x);
  return field === 'name_label'
    ? x.call('pool.get_name_label', pool)
    : x.call('pool.get_name_description', pool);
}

const task = (v: LabView, id: string) => {
  const t = v.tasks.find((x) => x.id === id);
  if (!t) throw new Error(`no task ${id}`);
  return t;
};

describe('reset to the start of a task', () => {
  it('brings back the pool and a file as they were when the task began, opens it again, and survives a restart', async () => {
    const home = join(root, 'alice', 'home');
    let env = await up('alice');
    let x = clientOf(env);
    try {
      expect(env.steps.view().resettable).toEqual(['name-pool']);
      writeFileSync(join(home, 'note.txt'), 'v1\n');
      const pool = await poolRef(x);
      await x.call('pool.set_name_label', pool, 'go');
      await env.grader.evaluate('check', true);
      expect(task(env.grader.view(), 'name-pool').pass).toBe(true);
      // The start of the next task is saved once this one passed.
      await until(
        () => env.steps.view().resettable.includes('make-file'),
        10_000,
        'the checkpoint of make-file',
      );
      // Work done in task 2: a file, the note changed, the pool's description.
      writeFileSync(join(home, 'done.txt'), 'hi\n');
      writeFileSync(join(home, 'note.txt'), 'v2\n');
      await x.call('pool.set_name_description', pool, 'later');
      await env.grader.evaluate('check', true);
      expect(task(env.grader.view(), 'make-file').pass).toBe(true);
      expect(env.grader.view().score).toBe(30);
      await until(
        () => env.steps.view().resettable.includes('count-hosts'),
        10_000,
        'the checkpoint of count-hosts',
      );

      // A gateway restart: the environment is let go and brought up again on the same database and pool file.
      await x.close();
      await env.detach();
      env = await up('alice');
      x = clientOf(env);
      expect(env.steps.view().resettable).toEqual(['name-pool', 'make-file', 'count-hosts']);
      expect(task(env.grader.view(), 'make-file').firstPassedAt).toBeDefined();

      // The learner resets to "Make a file" from the page.
      const channel = await serveLabChannel(env);
      const page = await openLabPage(channel.url);
      try {
        await until(() => page.states.length > 0, 5_000, 'the first state');
        page.send({ type: 'lab.reset', task: 'make-file' });
        await until(
          () => page.states.some((s) => s.trigger === 'reset' && s.steps?.busy === undefined),
          20_000,
          'the reset to finish',
        );
        const errors = page.got.filter(
          (m): m is Extract<LabServerMessage, { type: 'error' }> => m.type === 'error',
        );
        expect(errors).toEqual([]);
        const v = env.grader.view();
        expect(existsSync(join(home, 'done.txt'))).toBe(false);
        expect(readFileSync(join(home, 'note.txt'), 'utf8')).toBe('v1\n');
        expect(await poolField(x, 'name_label')).toBe('go');
        expect(await poolField(x, 'name_description')).toBe('');
        expect(task(v, 'name-pool').pass).toBe(true);
        expect(task(v, 'make-file').pass).toBe(false);
        expect(task(v, 'make-file').firstPassedAt).toBeUndefined();
        expect(task(v, 'make-file').assisted).toMatchObject({ resets: 1 });
        expect(v.score).toBe(20);
        // Later tasks' checkpoints went with it; the instructor still sees the first pass and its points.
        expect(env.steps.view().resettable).toEqual(['name-pool', 'make-file']);
        const history = gradingHistory(db, { learner: 'alice' }).find((h) => h.task === 'make-file');
        expect(history).toMatchObject({ points: 10, passedAt: null, resets: 1 });
        expect(history?.firstPassedAt).not.toBeNull();
        // Passing it again earns its points again.
        writeFileSync(join(home, 'done.txt'), 'hi\n');
        await env.grader.evaluate('check', true);
        expect(env.grader.view().score).toBe(30);
      } finally {
        page.ws.close();
        await channel.close();
      }
    } finally {
      await x.close();
      await env.close();
    }
  }, 90_000);

  it('refuses a task whose start was never saved', async () => {
    const env = await up('bob');
    try {
      await expect(env.steps.reset('count-hosts')).rejects.toMatchObject({
        code: 'LAB_ERR_RESET_UNAVAILABLE',
      });
    } finally {
      await env.close();
    }
  }, 60_000);
});

describe('skip ahead', () => {
  it("applies the earlier tasks' solutions as the learner and records them skipped, with no points", async () => {
    const env = await up('carol');
    const x = clientOf(env);
    try {
      await env.steps.skip('count-hosts');
      const v = env.grader.view();
      expect(await poolField(x, 'name_label')).toBe('go');
      expect(readFileSync(join(root, 'carol', 'home', 'done.txt'), 'utf8')).toBe('hi\n');
      for (const id of ['name-pool', 'make-file']) {
        expect(task(v, id)).toMatchObject({ pass: true, skipped: true, earned: 0 });
        expect(task(v, id).assisted).toMatchObject({ skipped: true });
      }
      expect(task(v, 'count-hosts').pass).toBe(false);
      expect(v.score).toBe(0);
      const history = gradingHistory(db, { learner: 'carol' });
      expect(
        history
          .filter((h) => h.skipped)
          .map((h) => h.task)
          .sort(),
      ).toEqual(['make-file', 'name-pool']);
      expect(history.every((h) => h.firstPassedAt === null && h.points === 0)).toBe(true);
      // Skipping saved the starts of the tasks it passed.
      expect(env.steps.view().resettable).toEqual(['name-pool', 'make-file', 'count-hosts']);
    } finally {
      await x.close();
      await env.close();
    }
  }, 90_000);

  it('says why when a solution cannot be applied, with the end of its output', async () => {
    const env = await up('dave');
    try {
      // Something in the way: ~/done.txt is a directory, so `echo hi > ~/done.txt` fails.
      const { mkdirSync } = await import('node:fs');
      mkdirSync(join(root, 'dave', 'home', 'done.txt'));
      const err = await env.steps.skip('count-hosts').then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(err?.code).toBe('LAB_ERR_SKIP_FAILED');
      expect(err?.message).toMatch(/Make a file/);
      expect(err?.message).toMatch(/Is a directory/);
      const v = env.grader.view();
      expect(task(v, 'name-pool')).toMatchObject({ skipped: true, pass: true });
      expect(task(v, 'make-file').skipped).toBeUndefined();
      expect(task(v, 'make-file').pass).toBe(false);
    } finally {
      await env.close();
    }
  }, 90_000);
});

describe('challenge mode', () => {
  it('prices hints, refuses solutions and records what helped', async () => {
    const env = await up('erin');
    const x = clientOf(env);
    try {
      env.grader.setMode('challenge');
      expect(env.grader.view().mode).toBe('challenge');
      expect(task(env.grader.view(), 'name-pool').hintCost).toBe(5);
      env.grader.hint('name-pool');
      expect(task(env.grader.view(), 'name-pool').hintCost).toBe(5);
      expect(() => env.grader.solution('name-pool')).toThrow(/challenge/);
      await x.call('pool.set_name_label', await poolRef(x), 'go');
      await env.grader.evaluate('check', true);
      const t = task(env.grader.view(), 'name-pool');
      expect(t).toMatchObject({ pass: true, earned: 15, assisted: { hints: 1, solution: false } });
      expect(env.grader.view().score).toBe(15);
      expect(gradingHistory(db, { learner: 'erin' }).find((h) => h.task === 'name-pool')).toMatchObject({
        points: 15,
        hintsUsed: 1,
        mode: 'challenge',
      });
    } finally {
      await x.close();
      await env.close();
    }
  }, 60_000);
});
