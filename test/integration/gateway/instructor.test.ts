// The instructor's side of a real gateway: only the browser that opened the instructor link gets the room, the
// export, the broadcast and a look at terminals; the room shows what a learner achieved as they achieve it; a
// broadcast reaches open terminals; watching is read-only and never holds the learner's shell back.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLearnerLocalDriver } from '../../../sandbox/src/drivers/local/learner-tools.js';
import { createGateway, type Gateway } from '../../../sandbox/src/gateway/index.js';
import { GradingStore } from '../../../sandbox/src/grading/store.js';
import { PATHS, type InstructorRoom } from '../../../sandbox/src/protocol/index.js';
import { fetchTicket, openTerminal, tryUpgrade, type TerminalClient } from '../../helpers/terminal-client.js';

let gateway: Gateway;
let dataDir: string;
/** The instructor's browser: the cookie the instructor link set. */
let instructorCookie = '';
let learner: TerminalClient;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-instructor-'));
  gateway = await createGateway({
    port: 0,
    dataDir,
    driver: createLearnerLocalDriver({ toolBinDir: join(dataDir, 'bin') }),
    labPollMs: 300,
  });
  learner = await openTerminal(gateway.url, { lab: 'anatomy-of-a-pool', terminal: 'shell' });
}, 60_000);

afterAll(async () => {
  learner.close();
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const room = async (cookie = instructorCookie) => {
  const res = await fetch(`${gateway.url}${PATHS.instructorRoom}`, { headers: { cookie } });
  return { status: res.status, body: (await res.json()) as InstructorRoom & { code?: string } };
};

describe('the instructor link', () => {
  it('lets in only the browser that opened it; a learner or a wrong key gets nothing', async () => {
    expect((await room('')).status).toBe(403);
    expect((await room(learner.cookie)).body.code).toBe('GATEWAY_ERR_NOT_INSTRUCTOR');
    const wrong = await fetch(`${gateway.url}/instructor?key=guess`, { redirect: 'manual' });
    expect(wrong.status).toBe(403);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const link = await fetch(gateway.instructorUrl, { redirect: 'manual' });
    expect(link.status).toBe(303);
    expect(link.headers.get('location')).toBe('/instructor/');
    instructorCookie = (link.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(instructorCookie).toMatch(/^xenlab_instructor=/);
    expect(link.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    expect((await room()).status).toBe(200);
  });

  it('answers an unknown instructor path 404 and a wrong method 405 (with Allow), each with its code', async () => {
    const headers = { cookie: instructorCookie };
    const unknown = await fetch(`${gateway.url}/api/instructor/nothing`, { headers });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ code: 'GATEWAY_ERR_NOT_FOUND', message: 'not found' });
    const wrong = await fetch(`${gateway.url}${PATHS.instructorRoom}`, { method: 'DELETE', headers });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    expect(await wrong.json()).toEqual({ code: 'GATEWAY_ERR_METHOD_NOT_ALLOWED', message: 'use GET' });
  });
});

describe('the room', () => {
  it('shows each learner, their running terminals, and a task the moment it is done', async () => {
    const before = (await room()).body;
    const me = before.learners.find((l) => l.environments.some((e) => e.lab === 'anatomy-of-a-pool'));
    expect(me?.environments[0]).toMatchObject({ lab: 'anatomy-of-a-pool', state: 'running' });
    expect(me?.environments[0]?.terminals).toEqual([{ name: 'shell', running: true, viewers: 1 }]);
    expect(before.labs.map((l) => l.id)).toContain('anatomy-of-a-pool');
    expect(me?.labs['anatomy-of-a-pool']?.tasks['name-the-pool']?.passedAt ?? null).toBeNull();

    learner.type(
      'xe pool-param-set uuid=$(xe pool-list --minimal) name-label=$LAB_POOL_NAME; echo renamed\r',
    );
    await learner.waitFor(/^renamed$/m, 15_000);
    const deadline = Date.now() + 15_000;
    let done: number | null | undefined;
    while (Date.now() < deadline) {
      const l = (await room()).body.learners.find((x) => x.id === me?.id);
      done = l?.labs['anatomy-of-a-pool']?.tasks['name-the-pool']?.passedAt;
      if (typeof done === 'number') {
        expect(l?.labs['anatomy-of-a-pool']?.score).toBe(10);
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(typeof done).toBe('number');

    // The same, as CSV for a grade book.
    const csv = await fetch(`${gateway.url}${PATHS.instructorExport}`, {
      headers: { cookie: instructorCookie },
    });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toBe(
      '"learner","name","lab","task","first_passed_utc","points","attempts","hints","solution_shown"',
    );
    expect(
      lines.some((l) => l.includes('"anatomy-of-a-pool","name-the-pool","20') && l.includes('"10"')),
    ).toBe(true);
  });
});

describe('what helped', () => {
  it('shows a task skipped ahead and one passed with hints, a reset and a Run press, per task', async () => {
    const me = (await room()).body.learners.find((l) =>
      l.environments.some((e) => e.lab === 'anatomy-of-a-pool'),
    );
    if (!me) throw new Error('no learner in the room');
    // What the lab channel records when the learner skips a task and takes help on another (steps.test.ts
    // drives the real thing; here only the room's reading of it is under test).
    const store = new GradingStore(gateway.db, me.id, 'the-xenapi');
    const now = Date.now();
    store.saveTask('sessions-and-records', {
      attempts: 0,
      hints: [],
      solutionShown: false,
      firstPassedAt: null,
      passedAt: now,
      earned: 0,
      skipped: true,
    });
    store.saveTask('async-tasks', {
      attempts: 3,
      hints: [now - 2000, now - 1000],
      solutionShown: false,
      firstPassedAt: now,
      passedAt: now,
      earned: 5,
      ran: 1,
      resets: 1,
    });
    const tasks = (await room()).body.learners.find((l) => l.id === me.id)?.labs['the-xenapi']?.tasks;
    expect(tasks?.['sessions-and-records']).toMatchObject({
      skipped: true,
      assisted: 'skipped',
      passedAt: null,
    });
    expect(tasks?.['async-tasks']).toMatchObject({ assisted: '2 hints, solution run once, reset once' });
    expect(tasks?.['async-tasks']?.skipped).toBeUndefined();
  });
});

describe('a broadcast', () => {
  it('reaches every open terminal; refused without the instructor cookie, from another site, or malformed', async () => {
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${gateway.url}${PATHS.instructorBroadcast}`, {
        method: 'POST',
        headers: { cookie: instructorCookie, 'Content-Type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    expect((await post({ text: 'hi' }, { cookie: learner.cookie })).status).toBe(403);
    expect((await post({ text: 'hi' }, { Origin: 'https://evil.example' })).status).toBe(403);
    expect((await post('{"text":')).status).toBe(400);
    expect((await post({ text: '' })).status).toBe(400);
    const ok = await post({ text: 'Break until 10:30' }, { Origin: gateway.url });
    expect(await ok.json()).toEqual({ reached: 1 });
    await learner.until(
      (c) => c.messages.some((m) => m.type === 'env.message' && m.text === 'Break until 10:30'),
      5_000,
      'the broadcast',
    );
  });
});

describe('watching a learner’s terminal', () => {
  it('shows the instructor what the learner sees, read-only', async () => {
    const env = (await room()).body.learners
      .flatMap((l) => l.environments)
      .find((e) => e.lab === 'anatomy-of-a-pool');
    if (!env) throw new Error('no environment');
    const watcher = await openTerminal(gateway.url, {
      cookie: instructorCookie,
      watch: env.id,
      terminal: 'shell',
    });
    expect(watcher.ready.readOnly).toBe(true);
    // The watcher's screen takes the learner's size, and follows it.
    expect(watcher.ready.size).toEqual({ cols: 80, rows: 24 });
    learner.send({ type: 'term.resize', cols: 100, rows: 30 });
    await watcher.until(
      (c) => c.messages.some((m) => m.type === 'term.size' && m.cols === 100 && m.rows === 30),
      5_000,
      'term.size',
    );
    // The replay: what the learner already did.
    await watcher.waitFor(/^renamed$/m);
    learner.type('echo "from-the-learner-$((20+1))"\r');
    await watcher.waitFor(/^from-the-learner-21$/m);
    // What the instructor types goes nowhere.
    watcher.type('echo "from-the-instructor-$((30+3))"\r');
    learner.type('echo "check-$((1+1))"\r');
    await learner.waitFor(/^check-2$/m);
    expect(learner.plain).not.toMatch(/from-the-instructor-33/);
    // A watcher that stops reading never holds the learner's shell back.
    watcher.autoAck = false;
    learner.type('head -c 3000000 /dev/zero | tr "\\0" x; echo; echo "flowed-$((5*5))"\r');
    // 3 MB through a real pty and flow control takes ~12 s here, more on a loaded CI machine; a held shell never ends.
    await learner.waitFor(/^flowed-25$/m, 45_000);
    watcher.close();
    // The watcher is not the learner: their tab count is unchanged.
    const again = (await room()).body.learners.flatMap((l) => l.environments).find((e) => e.id === env.id);
    expect(again?.terminals[0]?.viewers).toBe(1);
  }, 90_000);

  it('is refused to a learner, and for a terminal that is not running', async () => {
    const env = (await room()).body.learners
      .flatMap((l) => l.environments)
      .find((e) => e.lab === 'anatomy-of-a-pool');
    const tryWatch = async (cookie: string, watch: string) => {
      const t = await fetchTicket(gateway.url, cookie);
      const url = new URL(
        `${PATHS.terminal}?token=${encodeURIComponent(t.token)}`,
        gateway.url.replace(/^http/, 'ws'),
      );
      url.searchParams.set('watch', watch);
      url.searchParams.set('terminal', 'shell');
      return tryUpgrade(url.href, { Origin: gateway.url, Cookie: t.cookie });
    };
    const asLearner = await tryWatch(learner.cookie, env?.id ?? '');
    expect(asLearner.status).toBe(403);
    expect(asLearner.body).toContain('GATEWAY_ERR_NOT_INSTRUCTOR');
    const nothing = await tryWatch(instructorCookie, 'nobody~nothing');
    expect(nothing.status).toBe(404);
  });
});

describe('a raised hand', () => {
  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${gateway.url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const handOf = async (id: string) => (await room()).body.learners.find((l) => l.id === id)?.help ?? null;

  it('shows in the room with the lab and the note, until the learner or the instructor lowers it', async () => {
    const me = (await room()).body.learners.find((l) =>
      l.environments.some((e) => e.lab === 'anatomy-of-a-pool'),
    );
    if (!me) throw new Error('no learner');
    expect(await handOf(me.id)).toBeNull();
    // Only a learner of this gateway, from the course site, with a well-formed request.
    expect((await post(PATHS.help, { lab: 'anatomy-of-a-pool' }, {})).status).toBe(403);
    expect(
      (
        await post(
          PATHS.help,
          { lab: 'anatomy-of-a-pool' },
          { cookie: learner.cookie, Origin: 'https://evil.example' },
        )
      ).status,
    ).toBe(403);
    expect((await post(PATHS.help, { lab: '../etc' }, { cookie: learner.cookie })).status).toBe(400);

    const raised = await post(
      PATHS.help,
      { lab: 'anatomy-of-a-pool', note: 'vdi-create says SR_FULL?' },
      { cookie: learner.cookie, Origin: gateway.url },
    );
    expect(await raised.json()).toEqual({ raised: true });
    expect(await handOf(me.id)).toMatchObject({ lab: 'anatomy-of-a-pool', note: 'vdi-create says SR_FULL?' });
    await post(PATHS.help, { cancel: true }, { cookie: learner.cookie });
    expect(await handOf(me.id)).toBeNull();

    await post(PATHS.help, { lab: 'anatomy-of-a-pool' }, { cookie: learner.cookie });
    // A learner can't mark hands as dealt with; the instructor can.
    expect(
      (await post(PATHS.instructorHelpDone, { learner: me.id }, { cookie: learner.cookie })).status,
    ).toBe(403);
    expect(await handOf(me.id)).not.toBeNull();
    expect(
      (await post(PATHS.instructorHelpDone, { learner: me.id }, { cookie: instructorCookie })).status,
    ).toBe(200);
    expect(await handOf(me.id)).toBeNull();
  });
});
