// The instructor paces the room (issue #16) on a real gateway: locked labs are refused before any environment
// exists (ticket and both sockets, 423 GATEWAY_ERR_LAB_LOCKED) and open once unlocked; "everyone to lab N" and the
// countdown reach open terminals at once (room.pace) and any page by GET /api/pace (304 when unchanged); the
// endpoints are the instructor's only, from the course site; locks survive a restart; the room shows the time on
// each learner's current task.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLearnerLocalDriver } from '../../../sandbox/src/drivers/local/learner-tools.js';
import { createGateway, type Gateway } from '../../../sandbox/src/gateway/index.js';
import {
  LAB_PATH,
  PATHS,
  RoomPace,
  type InstructorRoom,
  type ServerMessage,
} from '../../../sandbox/src/protocol/index.js';
import { fetchTicket, openTerminal, tryUpgrade, type TerminalClient } from '../../helpers/terminal-client.js';

const LOCKED = 'the-xenapi';
let gateway: Gateway;
let dataDir: string;
let instructorCookie = '';
/** A learner with a lesson terminal open (the playground): it gets the pacing pushed. */
let lesson: TerminalClient;

const start = () =>
  createGateway({
    port: 0,
    dataDir,
    driver: createLearnerLocalDriver({ toolBinDir: join(dataDir, 'bin') }),
    labPollMs: 300,
  });

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-pacing-'));
  gateway = await start();
  const link = await fetch(gateway.instructorUrl, { redirect: 'manual' });
  instructorCookie = (link.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  lesson = await openTerminal(gateway.url);
}, 60_000);

afterAll(async () => {
  lesson.close();
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: {
      cookie: instructorCookie,
      'Content-Type': 'application/json',
      Origin: gateway.url,
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const pace = async () => RoomPace.parse(await (await fetch(`${gateway.url}${PATHS.pace}`)).json());
const pushed = (c: TerminalClient) =>
  c.messages.filter((m): m is Extract<ServerMessage, { type: 'room.pace' }> => m.type === 'room.pace');
const lastPushed = (c: TerminalClient) => pushed(c).at(-1)?.pace;
const socketUrl = (path: string, token: string, lab: string) => {
  const url = new URL(path, gateway.url.replace(/^http/, 'ws'));
  url.searchParams.set('token', token);
  url.searchParams.set('lab', lab);
  return url.href;
};

describe('the pacing endpoints', () => {
  it('are the instructor’s only, from the course site, well formed, for labs of the course', async () => {
    const lock = { labs: [LOCKED], locked: true };
    expect((await post(PATHS.instructorLock, lock, { cookie: lesson.cookie })).status).toBe(403);
    expect((await post(PATHS.instructorLock, lock, { Origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(PATHS.instructorLock, { labs: ['../etc'], locked: true })).status).toBe(400);
    expect((await post(PATHS.instructorTimer, { seconds: 0 })).status).toBe(400);
    expect((await post(PATHS.instructorTimer, '{"seconds":')).status).toBe(400);
    const unknown = await post(PATHS.instructorMoveTo, { lab: 'no-such-lab' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'GATEWAY_ERR_NOT_FOUND' });
    const wrong = await fetch(`${gateway.url}${PATHS.instructorLock}`, {
      headers: { cookie: instructorCookie },
    });
    expect(wrong.status).toBe(405);
    expect((await pace()).locked).toEqual([]);
  });

  it('lock a lab: every page learns it (pushed and polled), with a 304 when nothing changed', async () => {
    const before = await fetch(`${gateway.url}${PATHS.pace}`);
    const etag = before.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"\d+"$/);
    const same = await fetch(`${gateway.url}${PATHS.pace}`, { headers: { 'If-None-Match': etag } });
    expect(same.status).toBe(304);
    expect(await same.text()).toBe('');
    // The terminal got the pacing right after term.ready.
    expect(lastPushed(lesson)).toMatchObject({ locked: [], moveTo: null, timer: null });

    const res = await post(PATHS.instructorLock, { labs: [LOCKED, 'finding-the-bottleneck'], locked: true });
    expect(res.status).toBe(200);
    const answer = RoomPace.parse(await res.json());
    // In course order (lab 2 before lab 5).
    expect(answer.locked).toEqual([LOCKED, 'finding-the-bottleneck']);
    await lesson.until((c) => lastPushed(c)?.locked.length === 2, 5_000, 'room.pace with the locks');
    const changed = await fetch(`${gateway.url}${PATHS.pace}`, { headers: { 'If-None-Match': etag } });
    expect(changed.status).toBe(200);
    expect(RoomPace.parse(await changed.json()).locked).toEqual(answer.locked);
  });
});

describe('a locked lab', () => {
  it('is refused a ticket, a terminal and a lab channel, and no environment is made', async () => {
    const spawned = gateway.spawned;
    const ticket = await fetch(`${gateway.url}${PATHS.ticket}?lab=${LOCKED}`, {
      method: 'POST',
      headers: { Origin: gateway.url, Cookie: lesson.cookie },
    });
    expect(ticket.status).toBe(423);
    expect(await ticket.json()).toEqual({
      code: 'GATEWAY_ERR_LAB_LOCKED',
      message: 'this lab opens when your instructor unlocks it',
    });
    // A ticket asked without the lab (an older page) still gets no socket.
    for (const path of [PATHS.terminal, LAB_PATH]) {
      const t = await fetchTicket(gateway.url, lesson.cookie);
      const refused = await tryUpgrade(socketUrl(path, t.token, LOCKED), {
        Origin: gateway.url,
        Cookie: t.cookie,
      });
      expect(refused.status).toBe(423);
      expect(JSON.parse(refused.body)).toMatchObject({ code: 'GATEWAY_ERR_LAB_LOCKED' });
    }
    expect(gateway.spawned).toBe(spawned);
    expect(gateway.db.prepare('SELECT count(*) AS n FROM environments WHERE lab_id = ?').get(LOCKED)).toEqual(
      { n: 0 },
    );
    // Other labs and lessons are not held back.
    const other = await fetch(`${gateway.url}${PATHS.ticket}?lab=anatomy-of-a-pool`, {
      method: 'POST',
      headers: { Origin: gateway.url, Cookie: lesson.cookie },
    });
    expect(other.status).toBe(200);
    // The instructor may open it to prepare (their browser gets the ticket).
    const asInstructor = await fetch(`${gateway.url}${PATHS.ticket}?lab=${LOCKED}`, {
      method: 'POST',
      headers: { Origin: gateway.url, Cookie: instructorCookie },
    });
    expect(asInstructor.status).toBe(200);
  });

  it('opens once unlocked', async () => {
    expect((await post(PATHS.instructorLock, { labs: [LOCKED], locked: false })).status).toBe(200);
    await lesson.until((c) => lastPushed(c)?.locked.length === 1, 5_000, 'room.pace without the lock');
    const lab = await openTerminal(gateway.url, { cookie: lesson.cookie, lab: LOCKED });
    try {
      expect(lab.ready.lab).toBe(LOCKED);
      expect(lastPushed(lab)?.locked).toEqual(['finding-the-bottleneck']);
    } finally {
      lab.close();
    }
  }, 60_000);
});

describe('everyone to lab N and the countdown', () => {
  it('reach open terminals at once, with the time left measured when sent', async () => {
    const moved = await post(PATHS.instructorMoveTo, { lab: 'finding-the-bottleneck' });
    expect(moved.status).toBe(200);
    await lesson.until((c) => lastPushed(c)?.moveTo !== null, 5_000, 'room.pace with moveTo');
    expect(lastPushed(lesson)?.moveTo).toMatchObject({
      lab: 'finding-the-bottleneck',
      title: 'Finding the bottleneck',
      order: 5,
    });

    expect((await post(PATHS.instructorTimer, { seconds: 900, label: 'Lab 5' })).status).toBe(200);
    await lesson.until((c) => lastPushed(c)?.timer != null, 5_000, 'room.pace with the timer');
    const timer = lastPushed(lesson)?.timer;
    expect(timer).toMatchObject({ durationMs: 900_000, label: 'Lab 5' });
    expect(timer?.remainingMs).toBeGreaterThan(890_000);
    expect(timer?.remainingMs).toBeLessThanOrEqual(900_000);
    // A page opened later gets what is left then.
    await new Promise((r) => setTimeout(r, 1_100));
    const late = await openTerminal(gateway.url, { cookie: lesson.cookie });
    try {
      expect(lastPushed(late)?.timer?.remainingMs).toBeLessThan(899_000);
    } finally {
      late.close();
    }

    expect((await post(PATHS.instructorTimer, { stop: true })).status).toBe(200);
    await lesson.until((c) => lastPushed(c)?.timer === null, 5_000, 'room.pace without the timer');
    expect((await pace()).timer).toBeNull();
  });

  it('shows in the instructor’s room, with the time on each current task', async () => {
    const res = await fetch(`${gateway.url}${PATHS.instructorRoom}`, {
      headers: { cookie: instructorCookie },
    });
    const room = (await res.json()) as InstructorRoom;
    expect(room.pace).toMatchObject({
      locked: ['finding-the-bottleneck'],
      moveTo: { lab: 'finding-the-bottleneck' },
    });
    // The learner opened the-xenapi above: they are on its first task, since they opened it.
    const me = room.learners.find((l) => l.environments.some((e) => e.lab === LOCKED));
    const first = room.labs.find((l) => l.id === LOCKED)?.tasks[0];
    expect(me?.labs[LOCKED]?.current).toMatchObject({ task: first?.id, failedChecks: 0 });
    expect(me?.labs[LOCKED]?.current?.elapsedMs).toBeGreaterThanOrEqual(0);
    expect(first).toMatchObject({ medianMs: null, finished: 0 });
  });
});

describe('a restart', () => {
  it('keeps the locks, the room’s lab (and the countdown) as they were', async () => {
    expect((await post(PATHS.instructorTimer, { seconds: 600, label: '' })).status).toBe(200);
    const before = await pace();
    lesson.close();
    await gateway.close();
    gateway = await start();
    const after = await pace();
    expect(after.locked).toEqual(before.locked);
    expect(after.moveTo).toEqual(before.moveTo);
    expect(after.timer?.durationMs).toBe(600_000);
    expect(after.timer?.remainingMs).toBeLessThanOrEqual(before.timer?.remainingMs ?? 0);
    lesson = await openTerminal(gateway.url, { cookie: lesson.cookie });
    expect(lastPushed(lesson)?.locked).toEqual(before.locked);
  }, 60_000);
});
