// The author's loop, through the `xenlab lab` command in-process: scaffold, validate, hash, prove.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../../sandbox/src/cli/index.js';
import Database from 'better-sqlite3';
import { hashAnswer } from '../../../sandbox/src/grading/checks.js';
import { GradingStore } from '../../../sandbox/src/grading/store.js';
import { LABS_DIR } from '../../../sandbox/src/labs/loader.js';

let root: string;
let out: string[];
let err: string[];
const io = {
  out: (l: string) => out.push(l),
  err: (l: string) => err.push(l),
};
const xenlab = (...argv: string[]) => main(['lab', ...argv], io);

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-cli-labs-'));
  copyFileSync(join(LABS_DIR, 'lab.schema.json'), join(root, 'lab.schema.json'));
  out = [];
  err = [];
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('xenlab lab', () => {
  it('validates the course labs', async () => {
    expect(await xenlab('validate')).toBe(0);
    expect(out).toEqual(
      expect.arrayContaining(['ok   anatomy-of-a-pool (5 tasks)', 'ok   the-xenapi (4 tasks)']),
    );
    expect(err).toEqual([]);
  });

  it(
    'scaffolds a lab that validates and proves solvable, with every check able to fail',
    { timeout: 120_000 },
    async () => {
      expect(await xenlab('new', 'my-first-lab', '--title', 'My first lab', '--labs', root)).toBe(0);
      expect(out[0]).toBe(
        `created ${join(root, 'my-first-lab')}: edit lab.yaml and guide.mdx, then run npx xenlab lab test my-first-lab`,
      );
      expect(await xenlab('validate', '--labs', root)).toBe(0);
      out = [];
      expect(await xenlab('test', 'my-first-lab', '--labs', root)).toBe(0);
      expect(out.at(-1)).toMatch(/^PASS {2}my-first-lab +1 checks {2}2 rounds {2}\d+\.\d s$/);
      // Where each round spends its time, part by part (an author tuning a slow multi-machine lab reads these).
      expect(out).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^ {2}round 1: environment up in \d+\.\d s$/),
          expect.stringMatching(/^ {2}round 2: part 1 \d+\.\d s$/),
          expect.stringMatching(/^ {2}round 2: solved, 1\/1 tasks green \(round \d+\.\d s\)$/),
        ]),
      );
    },
  );

  it(
    'fails a lab whose check passes before the solve script, and says which',
    { timeout: 120_000 },
    async () => {
      await xenlab('new', 'always-green', '--labs', root);
      // A check that is true in every fresh pool can never fail: `lab test` must catch it.
      const manifest = join(root, 'always-green', 'lab.yaml');
      writeFileSync(
        manifest,
        `id: always-green
title: Always green
summary: A broken lab.
tasks:
  - id: t
    title: T
    checks:
      - { id: has-a-pool, kind: xapi, select: pool }
`,
      );
      writeFileSync(join(root, 'always-green', 'solve.sh'), 'true\n');
      expect(await xenlab('test', 'always-green', '--labs', root, '--rounds', '1')).toBe(1);
      expect(err).toEqual([
        '  round 1 before has-a-pool: passes before the solve script ran: it can never fail (task t)',
      ]);
    },
  );

  it(
    'judges the tasks done before a button press before it: a task passed then stays done',
    { timeout: 120_000 },
    async () => {
      await xenlab('new', 'before-the-plug', '--labs', root);
      // Task `before` is true only between the first part and the press (as "the service runs on storage-a" is in
      // the storage lab); `after` only once the script's second part ran.
      writeFileSync(
        join(root, 'before-the-plug', 'lab.yaml'),
        `id: before-the-plug
title: Before the plug
summary: A state that a fault ends.
environment:
  faults:
    - { id: pull-the-plug, kind: host-power-off, target: xcp-ng-02, trigger: { button: 'Pull the plug' } }
tasks:
  - id: before
    title: Before
    checks:
      - { id: only-a, kind: script, run: 'test -f ~/a && ! test -f ~/b' }
  - id: after
    title: After
    checks:
      - { id: b, kind: script, run: 'test -f ~/b' }
`,
      );
      const solve = join(root, 'before-the-plug', 'solve.sh');
      writeFileSync(solve, 'touch ~/a\n# xenlab-lab-test: press pull-the-plug\ntouch ~/b\n');
      expect(await xenlab('test', 'before-the-plug', '--labs', root, '--rounds', '1')).toBe(0);
      expect(err).toEqual([]);
      expect(out).toContain('  round 1: pressed pull-the-plug');
      // Without the part before the press, `before` never passes: the end alone does not make it green.
      writeFileSync(solve, '# xenlab-lab-test: press pull-the-plug\ntouch ~/a ~/b\n');
      err = [];
      expect(await xenlab('test', 'before-the-plug', '--labs', root, '--rounds', '1')).toBe(1);
      expect(err).toEqual([
        expect.stringMatching(
          /^ {2}round 1 after only-a: still fails after the solve script: .*\(task before\)$/,
        ),
      ]);
    },
  );

  it('reports a stale JSON schema and prints answer hashes', async () => {
    writeFileSync(join(root, 'lab.schema.json'), '{}');
    expect(await xenlab('validate', '--labs', root)).toBe(1);
    expect(err.at(-1)).toBe(
      `LAB_ERR_STALE_SCHEMA: ${join(root, 'lab.schema.json')} is missing or out of date: run npx xenlab lab schema`,
    );
    expect(await xenlab('hash', ' VM-Copy ')).toBe(0);
    expect(out.at(-1)).toBe(hashAnswer('vm-copy'));
    expect(await xenlab('frobnicate')).toBe(2);
  });

  it('shows the instructor what each learner achieved, and when', async () => {
    const file = join(root, 'xenlab.db');
    const db = new Database(file);
    const alice = new GradingStore(db, 'alice', 'anatomy-of-a-pool');
    alice.saveTask('name-the-pool', {
      attempts: 0,
      hints: [],
      solutionShown: false,
      firstPassedAt: Date.UTC(2026, 10, 25, 13, 5, 7),
      points: 10,
    });
    alice.saveTask('create-a-disk', {
      attempts: 3,
      hints: [1],
      solutionShown: true,
      firstPassedAt: null,
      points: 0,
    });
    db.close();
    expect(await xenlab('report', '--db', file)).toBe(0);
    expect(out).toEqual([
      'learner               lab                       task                      first passed (UTC)    pts  tries hints',
      'alice                 anatomy-of-a-pool         create-a-disk             —                        0      3     1 (solution shown)',
      'alice                 anatomy-of-a-pool         name-the-pool             2026-11-25 13:05:07    10      0     0',
    ]);
    expect(await xenlab('report', '--db', join(root, 'missing.db'))).toBe(1);
    expect(err.at(-1)).toBe(
      `LAB_ERR_NO_DATABASE: no gateway database at ${join(root, 'missing.db')} (pass --db FILE)`,
    );
  });
});
