// Room capacity (issue #13) on a real gateway with real WebSockets and simulator labs, the limit overridden to 1
// environment of the local driver so no QEMU is needed: a learner beyond it is queued, not refused (env.queued and
// lab.queued with their place and an estimate), leaving the page leaves the line and moves it, and the next in
// line starts when an environment is culled; nothing running is stopped to make room. The instructor's modes: a
// shared demo (watchers see the instructor's output, their keys and Check presses are refused) and tables of 2
// (a table shares one environment, another table does not see it; who sits there is pushed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLearnerLocalDriver } from '../../../sandbox/src/drivers/local/learner-tools.js';
import { createGateway, type Gateway } from '../../../sandbox/src/gateway/index.js';
import {
  LAB_PATH,
  PATHS,
  PROTOCOL_VERSION,
  type ServerMessage,
} from '../../../sandbox/src/protocol/index.js';
import { LAB_PROTOCOL_VERSION, type LabServerMessage } from '../../../sandbox/src/protocol/lab.js';
import { EnvironmentManager } from '../../../sandbox/src/sessions/index.js';
import { fetchTicket, openTerminal, type TerminalClient } from '../../helpers/terminal-client.js';
import { until } from '../../helpers/lab-channel.js';

const LAB = 'templates-and-guests';
type Queued = Extract<ServerMessage, { type: 'env.queued' }>;
type Seat = Extract<ServerMessage, { type: 'env.seat' }>;

const queued = (c: TerminalClient): Queued | undefined =>
  c.messages.filter((m): m is Queued => m.type === 'env.queued').at(-1);
const seatOf = (c: TerminalClient): Seat | undefined =>
  c.messages.filter((m): m is Seat => m.type === 'env.seat').at(-1);
const isReady = (c: TerminalClient) => c.messages.some((m) => m.type === 'term.ready');

/** A lab page's channel as the page opens it (ticket with the browser's cookie, hello), recording what it gets. */
async function openLabChannel(base: string, cookie: string, lab: string) {
  const { token } = await fetchTicket(base, cookie);
  const url = new URL(LAB_PATH, base.replace(/^http/, 'ws'));
  url.searchParams.set('token', token);
  url.searchParams.set('lab', lab);
  const ws = new WebSocket(url, { headers: { Origin: base, Cookie: cookie } });
  const got: LabServerMessage[] = [];
  ws.on('message', (d: Buffer) => got.push(JSON.parse(d.toString('utf8')) as LabServerMessage));
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'lab.hello', v: LAB_PROTOCOL_VERSION }));
  return { ws, got };
}

/**
 * Opens a lab's terminal as the page does, without waiting for the shell (it may wait in line); `ready` waits for
 * it (a lab comes up in seconds, longer on a loaded machine).
 */
async function enter(base: string, opts: { lab: string; cookie?: string }) {
  const c = await openTerminal(base, { ...opts, hello: false });
  c.send({ type: 'term.hello', v: PROTOCOL_VERSION, cols: 80, rows: 24 });
  return c;
}
const ready = async (c: TerminalClient) => {
  await c.until(isReady, 60_000, 'term.ready');
  return c;
};

const start = (dataDir: string, local: number) =>
  createGateway({
    port: 0,
    dataDir,
    driver: createLearnerLocalDriver({ toolBinDir: join(dataDir, 'bin') }),
    capacity: new Map([['local', local]]),
    labPollMs: 300,
  });

describe('admission control with the capacity overridden to 1', () => {
  let gateway: Gateway;
  let dataDir: string;
  const open: TerminalClient[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'xenlab-capacity-'));
    gateway = await start(dataDir, 1);
  }, 60_000);

  afterAll(async () => {
    for (const c of open) c.close();
    await gateway.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('queues the learners beyond it with their place and an estimate, live; leaving and a cull move the line', async () => {
    expect(gateway.capacity.decide(LAB)).toMatchObject({ limit: 1, by: 'override' });
    const a = await ready(await enter(gateway.url, { lab: LAB }));
    open.push(a);
    a.type('echo a-is-$((40+2))\n');
    await a.waitFor(/a-is-42/);

    // B and C open the lab: no shell, a place in line instead (not a refusal).
    const b = await enter(gateway.url, { lab: LAB });
    open.push(b);
    await b.until((c) => queued(c) !== undefined, 10_000, 'env.queued for B');
    expect(queued(b)).toMatchObject({ driver: 'local', place: 1, waiting: 1, running: 1, capacity: 1 });
    // Nothing measured yet: the estimate is the idle timeout (60 min) for the running one, plus a start.
    expect(queued(b)?.etaMs).toBeGreaterThan(59 * 60_000);

    const c = await enter(gateway.url, { lab: LAB });
    open.push(c);
    await c.until((x) => queued(x)?.place === 2, 10_000, 'C second in line');
    // C's lab panel holds the same place (one environment, one place), and says so on the lab channel.
    const panel = await openLabChannel(gateway.url, c.cookie, LAB);
    await until(() => panel.got.some((m) => m.type === 'lab.queued'), 10_000, 'lab.queued');
    expect(panel.got.find((m) => m.type === 'lab.queued')).toMatchObject({ place: 2, waiting: 2 });
    expect(gateway.capacity.admission.waiting('local')).toBe(2);
    expect(isReady(b) || isReady(c)).toBe(false);

    // B leaves the page: it leaves the line, and C moves up (pushed, on both of C's sockets).
    b.close();
    await c.until((x) => queued(x)?.place === 1, 10_000, 'C first in line');
    await until(
      () =>
        panel.got.filter((m) => m.type === 'lab.queued').at(-1)?.type === 'lab.queued' &&
        (panel.got.filter((m) => m.type === 'lab.queued').at(-1) as { place: number }).place === 1,
      10_000,
      'lab.queued place 1',
    );
    expect(gateway.capacity.admission.waiting('local')).toBe(1);
    // A keeps working all along: nobody's environment is stopped to make room.
    a.type('echo still-$((1+1))\n');
    await a.waitFor(/still-2/);

    // A's environment is culled (idle): its place goes to C, whose shell starts.
    const learnerA = gateway.db.prepare('SELECT learner_id FROM environments WHERE lab_id = ?').get(LAB) as {
      learner_id: string;
    };
    await gateway.environments.cull(EnvironmentManager.idFor(learnerA.learner_id, LAB), 'idle');
    await ready(c);
    c.type('echo c-is-$((3*3))\n');
    await c.waitFor(/c-is-9/);
    await until(() => panel.got.some((m) => m.type === 'lab.state'), 20_000, 'C lab.state');
    // A's lifetime was measured: the next estimate comes from it, not the idle timeout.
    const rows = gateway.db
      .prepare("SELECT kind FROM admission_times WHERE driver = 'local' ORDER BY kind")
      .all() as { kind: string }[];
    expect(rows.map((r) => r.kind)).toContain('lifetime');
    panel.ws.close();

    // A comes back: now A waits, behind nobody, with the measured estimate (well under the idle timeout).
    const again = await enter(gateway.url, { lab: LAB, cookie: a.cookie });
    open.push(again);
    await again.until((x) => queued(x) !== undefined, 10_000, 'A queued');
    expect(queued(again)).toMatchObject({ place: 1, running: 1 });
    expect(queued(again)?.etaMs).toBeLessThan(59 * 60_000);
  }, 120_000);
});

describe('instructor modes', () => {
  let gateway: Gateway;
  let dataDir: string;
  let instructorCookie = '';
  const open: TerminalClient[] = [];
  const post = (body: unknown, cookie = instructorCookie) =>
    fetch(`${gateway.url}${PATHS.instructorMode}`, {
      method: 'POST',
      headers: { cookie, 'Content-Type': 'application/json', Origin: gateway.url },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'xenlab-modes-'));
    gateway = await start(dataDir, 6);
    const link = await fetch(gateway.instructorUrl, { redirect: 'manual' });
    instructorCookie = (link.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  }, 60_000);

  afterAll(async () => {
    for (const c of open) c.close();
    await gateway.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('are set by the instructor only, for labs of the course, with sizes from 2 to 12', async () => {
    const learner = await fetchTicket(gateway.url);
    expect((await post({ lab: LAB, mode: 'demo' }, learner.cookie)).status).toBe(403);
    expect((await post({ lab: LAB, mode: 'tables', size: 1 })).status).toBe(400);
    expect((await post({ lab: LAB, mode: 'sideways' })).status).toBe(400);
    const unknown = await post({ lab: 'no-such-lab', mode: 'demo' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 'GATEWAY_ERR_NOT_FOUND' });
  });

  it('shared demo: learners watch the instructor’s terminal; their keys and Check presses are refused', async () => {
    const res = await post({ lab: LAB, mode: 'demo' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { modes: Record<string, unknown> }).modes[LAB]).toEqual({ mode: 'demo' });

    const teacher = await ready(await enter(gateway.url, { lab: LAB, cookie: instructorCookie }));
    open.push(teacher);
    expect(teacher.ready.readOnly).toBeUndefined();
    await teacher.until((c) => seatOf(c)?.mode === 'demo', 5_000, 'env.seat demo');

    const watcher = await ready(await enter(gateway.url, { lab: LAB }));
    open.push(watcher);
    expect(watcher.ready.readOnly).toBe(true);
    await watcher.until((c) => seatOf(c)?.readOnly === true, 5_000, 'env.seat read-only');
    expect(seatOf(watcher)?.text).toMatch(/watching the instructor/);

    // The instructor types: the watcher sees it live.
    teacher.type('echo demo-$((6*7))\n');
    await watcher.waitFor(/demo-42/);
    // The watcher types: refused with a clear message, and nothing reaches the shell.
    watcher.type('echo hijack-$((1+1))\n');
    await watcher.until(
      (c) => c.messages.some((m) => m.type === 'error' && m.code === 'GATEWAY_ERR_READ_ONLY'),
      5_000,
      'GATEWAY_ERR_READ_ONLY',
    );
    teacher.type('echo after-$((2+2))\n');
    await teacher.waitFor(/after-4/);
    expect(teacher.plain).not.toMatch(/hijack/);

    // The watcher's lab panel sees the demo's tasks and cannot press Check.
    const panel = await openLabChannel(gateway.url, watcher.cookie, LAB);
    await until(() => panel.got.some((m) => m.type === 'lab.state'), 20_000, 'demo lab.state');
    expect(panel.got.find((m) => m.type === 'lab.seat')).toMatchObject({ mode: 'demo', readOnly: true });
    panel.ws.send(JSON.stringify({ type: 'lab.check' }));
    panel.ws.send(JSON.stringify({ type: 'lab.reset', task: 'golden-template' }));
    await until(
      () => panel.got.filter((m) => m.type === 'error' && m.code === 'LAB_ERR_READ_ONLY').length === 2,
      10_000,
      'two LAB_ERR_READ_ONLY',
    );
    panel.ws.close();

    // One environment for the whole demo: the demo's own, not the learner's.
    const envs = gateway.db.prepare('SELECT learner_id FROM environments WHERE lab_id = ?').all(LAB);
    expect(envs).toEqual([{ learner_id: `demo-${LAB}` }]);
  }, 90_000);

  it('tables of 2: a table shares one environment, another table does not see it, members are pushed', async () => {
    const watchers = open.slice();
    expect((await post({ lab: LAB, mode: 'tables', size: 2 })).status).toBe(200);
    // Pages of the lab reconnect to their new seat (closed with 1012).
    for (const c of watchers) await c.until((x) => x.closed !== undefined, 5_000, 'closed on mode change');
    expect(watchers.map((c) => c.closed?.code)).toEqual(watchers.map(() => 1012));

    const p = await ready(await enter(gateway.url, { lab: LAB }));
    const q = await ready(await enter(gateway.url, { lab: LAB }));
    const r = await ready(await enter(gateway.url, { lab: LAB }));
    open.push(p, q, r);
    await q.until((c) => seatOf(c)?.table === 1, 5_000, 'Q at table 1');
    await r.until((c) => seatOf(c)?.table === 2, 5_000, 'R at table 2');
    // P heard that Q sat down at their table.
    await p.until((c) => seatOf(c)?.members?.length === 2, 5_000, 'P sees two members');
    expect(seatOf(p)?.members?.filter((m) => m.endsWith('(you)'))).toHaveLength(1);
    expect(seatOf(r)?.members).toHaveLength(1);

    p.type('echo table-one > ~/t1 && echo written-$((5+5))\n');
    await p.waitFor(/written-10/);
    q.type('cat ~/t1 && echo read-$((7+1))\n');
    await q.waitFor(/^table-one$/m);
    await q.waitFor(/read-8/);
    r.type('cat ~/t1 || echo missing-$((9+1))\n');
    await r.waitFor(/missing-10/);
    expect(r.plain).not.toMatch(/^table-one$/m);

    const room = (await (
      await fetch(`${gateway.url}${PATHS.instructorRoom}`, { headers: { cookie: instructorCookie } })
    ).json()) as { modes: Record<string, { mode: string; tables?: { table: number; members: string[] }[] }> };
    expect(room.modes[LAB]?.tables?.map((t) => t.members.length)).toEqual([2, 1]);
  }, 90_000);
});
