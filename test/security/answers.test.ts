// Answers cannot be guessed by enumerating (issue #11): a learner's answers to a task's questions are rate-limited
// over the lab channel — 100 rapid guesses get at most the allowed number evaluated, the rest refused with a stable
// code and a message saying when to retry; after waiting, a right answer counts. Every attempt (and every refusal)
// is recorded, and the instructor's room shows the counts per task.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Instructor } from '../../sandbox/src/gateway/instructor.js';
import { createGrader, type Grader } from '../../sandbox/src/grading/engine.js';
import { answerAttempts } from '../../sandbox/src/grading/store.js';
import {
  createLabEnvironment,
  createLabLocalDriver,
  type LabEnvironment,
} from '../../sandbox/src/lab-runtime/environment.js';
import type { LabServerMessage } from '../../sandbox/src/protocol/lab.js';
import type { EnvironmentManager } from '../../sandbox/src/sessions/index.js';
import { openStore, type Db } from '../../sandbox/src/store/index.js';
import { createClient } from '@xenlab/toolkit/xenapi';
import { openLabPage, serveLabChannel, until, type LabChannelServer } from '../helpers/lab-channel.js';

const LAB = 'anatomy-of-a-pool';
const CHECK = 'how-many-pifs'; // task count-the-parts; the default pool has 6 physical PIFs
const LIMIT = { attempts: 5, windowMs: 2_000 };

let home: string;
let env: LabEnvironment;
let db: Db;
let grader: Grader;
let xapi: ReturnType<typeof createClient>;
let channel: LabChannelServer;
const learner = 'guesser';

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'xenlab-answers-'));
  db = openStore(':memory:');
  db.prepare(
    'INSERT INTO learners (id, display_name, course_code, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)',
  ).run(learner, 'Guesser', null, Date.now(), Date.now());
  env = await createLabEnvironment({
    lab: LAB,
    driver: createLabLocalDriver(),
    learnerId: learner,
    home,
    fast: true,
  });
  // The learner's grader as the gateway makes it, with the database and a short window (the default is a minute).
  xapi = createClient({ url: env.xapi.url, user: env.xapi.user, password: env.xapi.password });
  grader = createGrader({
    lab: env.lab,
    params: env.params,
    xapi,
    sandbox: env.sandbox,
    learnerId: learner,
    db,
    answerLimit: LIMIT,
  });
  await grader.start();
  channel = await serveLabChannel({ grader });
}, 60_000);

afterAll(async () => {
  await channel.close();
  await grader.close();
  await xapi.close();
  await env.close();
  db.close();
  rmSync(home, { recursive: true, force: true });
});

/** A page on the lab channel, collecting every message, that answers the question. */
async function page() {
  const p = await openLabPage(channel.url);
  const answer = (text: string) => {
    p.send({ type: 'lab.answer', check: CHECK, answer: text });
  };
  return { ...p, answer };
}

const replies = (got: LabServerMessage[]) =>
  got.filter(
    (m) => m.type === 'lab.answer.result' || (m.type === 'error' && m.code === 'LAB_ERR_TOO_MANY_ANSWERS'),
  );

describe('answers over the lab channel', () => {
  it('evaluates at most the allowed number of 100 rapid guesses and refuses the rest with when to retry', async () => {
    const p = await page();
    await until(() => p.got.some((m) => m.type === 'lab.state'), 20_000);
    // Enumerate: 100 wrong numbers as fast as the socket takes them (6 is the right one; it is not among them).
    for (let i = 0; i < 100; i++) p.answer(String(100 + i));
    await until(() => replies(p.got).length === 100, 20_000);
    const evaluated = p.got.filter(
      (m): m is Extract<LabServerMessage, { type: 'lab.answer.result' }> => m.type === 'lab.answer.result',
    );
    const refused = p.got.filter((m) => m.type === 'error' && m.code === 'LAB_ERR_TOO_MANY_ANSWERS');
    expect(evaluated).toHaveLength(LIMIT.attempts);
    expect(evaluated.every((m) => !m.correct)).toBe(true);
    expect(refused).toHaveLength(100 - LIMIT.attempts);
    for (const m of refused)
      expect(m.type === 'error' && m.message).toMatch(
        /^Too many answers in a short time: try again in \d+ s\./,
      );

    // Right answer, but still within the wait: refused too, not evaluated.
    p.answer('6');
    await until(() => replies(p.got).length === 101, 20_000);
    const last = replies(p.got).at(-1);
    expect(last?.type).toBe('error');
    const wait = Number(/try again in (\d+) s/.exec(last?.type === 'error' ? last.message : '')?.[1]);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(Math.ceil(LIMIT.windowMs / 1000));

    // After waiting as told, the right answer counts.
    await new Promise((r) => setTimeout(r, wait * 1000 + 100));
    p.answer('6');
    await until(() => replies(p.got).length === 102, 20_000);
    expect(replies(p.got).at(-1)).toMatchObject({ type: 'lab.answer.result', check: CHECK, correct: true });
    p.ws.close();
  }, 60_000);

  it('records the attempts and refusals, and the instructor sees them per task', () => {
    expect(answerAttempts(db, { learner })).toEqual([
      {
        learner,
        lab: LAB,
        task: 'count-the-parts',
        check: CHECK,
        attempts: LIMIT.attempts + 1,
        refused: 100 - LIMIT.attempts + 1,
        correct: true,
      },
    ]);
    const instructor = new Instructor({
      key: 'k'.repeat(32),
      db,
      environments: { find: () => undefined } as unknown as EnvironmentManager,
      labsDir: join(import.meta.dirname, '..', '..', 'labs'),
    });
    const me = instructor.room().learners.find((l) => l.id === learner);
    expect(me?.labs[LAB]?.tasks['count-the-parts']).toMatchObject({
      answerAttempts: LIMIT.attempts + 1,
      answersRefused: 100 - LIMIT.attempts + 1,
    });
  });
});
