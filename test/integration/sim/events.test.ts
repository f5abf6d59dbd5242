/**
 * event.from semantics (toolkit/src/xenapi/NOTES.md §1.7; ocaml/xapi/xapi_event.ml): tokens, coalescing, del, inject,
 * fast wake-up.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { fails, login, ok, post, start, v, xmlCall } from './helpers.js';
import type { RunningSimulator } from './helpers.js';

interface Ev {
  id: string;
  timestamp: string;
  class: string;
  operation: 'add' | 'mod' | 'del';
  ref: string;
  snapshot?: Record<string, unknown>;
}
interface Batch {
  events: Ev[];
  valid_ref_counts: Record<string, number>;
  token: string;
}

let sim: RunningSimulator;
let s: string;
beforeAll(async () => {
  sim = await start();
  s = await login(sim.url);
});
afterAll(async () => {
  await sim.close();
});

const from = (classes: string[], token: string, timeout = 0.1) =>
  ok<Batch>(sim.url, 'event.from', s, classes, token, timeout);

test('an empty token returns an add for every object, and a %020d,%020d token', async () => {
  const b = await from(['vm'], '');
  expect(b.token).toMatch(/^\d{20},\d{20}$/);
  const vms = await ok<string[]>(sim.url, 'VM.get_all', s);
  expect(b.events.map((e) => e.ref).sort()).toEqual([...vms].sort());
  expect(b.events.every((e) => e.operation === 'add' && e.class === 'vm' && e.snapshot?.uuid)).toBe(true);
  // counts cover every table, subscribed or not (xapi_event.ml), but not messages
  expect(b.valid_ref_counts).toMatchObject({ vm: vms.length, pool: 1, task: expect.any(Number) as number });
  expect(b.valid_ref_counts).not.toHaveProperty('message');
});

test('several changes to one object coalesce into one mod with the latest snapshot', async () => {
  const start = await from(['network'], '');
  const [net] = await ok<string[]>(sim.url, 'network.get_all', s);
  await ok(sim.url, 'network.set_name_description', s, net, 'one');
  await ok(sim.url, 'network.set_name_description', s, net, 'two');
  await ok(sim.url, 'network.add_tags', s, net, 'lab');
  const b = await from(['network'], start.token);
  expect(b.events).toHaveLength(1);
  expect(b.events[0]).toMatchObject({ class: 'network', operation: 'mod', ref: net, timestamp: '0.0' });
  expect(b.events[0]?.snapshot).toMatchObject({ name_description: 'two', tags: ['lab'] });
  expect(b.token > start.token).toBe(true);
});

test('create then destroy: add, then del without a snapshot', async () => {
  const t0 = (await from(['task'], '')).token;
  const task = await ok<string>(sim.url, 'task.create', s, 'lab task', 'made by a test');
  const b1 = await from(['task'], t0);
  expect(b1.events).toMatchObject([{ operation: 'add', ref: task, class: 'task' }]);
  // id: the generation at which the object was created (xapi_event.ml event_of), within the batch's token.
  expect(Number(b1.events[0]?.id)).toBeGreaterThan(Number(t0.split(',')[0]));
  expect(Number(b1.events[0]?.id)).toBeLessThanOrEqual(Number(b1.token.split(',')[0]));
  await ok(sim.url, 'task.destroy', s, task);
  const b2 = await from(['task'], b1.token);
  expect(b2.events).toHaveLength(1);
  expect(b2.events[0]).toMatchObject({ operation: 'del', ref: task });
  expect(b2.events[0]).not.toHaveProperty('snapshot');
});

test('a class/ref subscription sees only that object', async () => {
  const [a, b] = await ok<string[]>(sim.url, 'SR.get_all', s);
  const t = (await from([`SR/${String(a)}`], '')).token;
  await ok(sim.url, 'SR.add_tags', s, b, 'other');
  await ok(sim.url, 'SR.add_tags', s, a, 'mine');
  const batch = await from([`SR/${String(a)}`], t);
  expect(batch.events.map((e) => e.ref)).toEqual([a]);
});

test('event.inject returns a token after which the injected object shows a mod', async () => {
  const [pool] = await ok<string[]>(sim.url, 'pool.get_all', s);
  const before = (await from(['pool'], '')).token;
  const token = await ok<string>(sim.url, 'event.inject', s, 'pool', pool);
  expect(token).toMatch(/^\d{20},\d{20}$/);
  const b = await from(['pool'], before);
  expect(b.events).toMatchObject([{ operation: 'mod', ref: pool }]);
  // The injected token lies just before the touch, so following from it shows the object at once (xapi_event.ml).
  const c = await from(['pool'], token, 5);
  expect(c.events).toMatchObject([{ operation: 'mod', ref: pool }]);
  expect(await fails(sim.url, 'event.inject', s, 'VM', pool)).toEqual(['HANDLE_INVALID', 'VM', pool]);
  expect(typeof (await ok<number>(sim.url, 'event.get_current_id', s))).toBe('number');
});

test('bad subscriptions and tokens fail with the real codes', async () => {
  expect(await fails(sim.url, 'event.from', s, ['nonsense'], '', 0)).toEqual([
    'EVENT_SUBSCRIPTION_PARSE_FAILURE',
    'nonsense',
  ]);
  expect(await fails(sim.url, 'event.from', s, ['vm'], 'garbage', 0)).toEqual([
    'EVENT_FROM_TOKEN_PARSE_FAILURE',
    'garbage',
  ]);
});

test('with nothing new, event.from blocks for the timeout and returns no events', async () => {
  const t = (await from(['vm'], '')).token;
  const t0 = Date.now();
  const b = await from(['vm'], t, 0.3);
  expect(b.events).toEqual([]);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
});

test('a blocked event.from wakes up within milliseconds of a change', async () => {
  const t = (await from(['pool'], '')).token;
  const [pool] = await ok<string[]>(sim.url, 'pool.get_all', s);
  const waiting = from(['pool'], t, 30);
  await new Promise((r) => setTimeout(r, 50));
  const changed = Date.now();
  await ok(sim.url, 'pool.set_name_description', s, pool, 'wake up');
  const b = await waiting;
  expect(b.events[0]?.snapshot?.name_description).toBe('wake up');
  expect(Date.now() - changed).toBeLessThan(500);
});

test('valid_ref_counts are <i4> over XML-RPC', async () => {
  const r = await post(
    sim.url,
    xmlCall(
      'event.from',
      v(s),
      '<value><array><data><value>pool</value></data></array></value>',
      v(''),
      '<value><double>0.1</double></value>',
    ),
  );
  expect(r.text).toContain('<member><name>valid_ref_counts</name><value><struct><member><name>');
  expect(r.text).toContain('<member><name>pool</name><value><i4>1</i4></value></member>');
});

test('messages are a class of their own: created by message.create, seen by event.from', async () => {
  const t = (await from(['message'], '')).token;
  const [pool] = await ok<string[]>(sim.url, 'pool.get_all', s);
  const uuid = await ok<string>(sim.url, 'pool.get_uuid', s, pool);
  const m = await ok<string>(sim.url, 'message.create', s, 'LAB_ALERT', 3, 'Pool', uuid, 'hello');
  const b = await from(['message'], t);
  expect(b.events).toMatchObject([
    {
      class: 'message',
      operation: 'add',
      ref: m,
      snapshot: { name: 'LAB_ALERT', priority: 3, cls: 'Pool', body: 'hello' },
    },
  ]);
  expect(b.token.split(',')[1]).not.toBe(t.split(',')[1]);
  expect(b.events[0]?.id).toBe('0'); // message events carry id 0 in xapi
  const since = await ok<Record<string, unknown>>(sim.url, 'message.get_since', s, '19700101T00:00:00Z');
  expect(Object.keys(since)).toContain(m);
});

test('the deprecated event.register / event.next API still works for old scripts', async () => {
  const mine = await login(sim.url);
  expect(await fails(sim.url, 'event.next', mine)).toEqual(['SESSION_NOT_REGISTERED', mine]);
  await ok(sim.url, 'event.register', mine, ['network']);
  const [net] = await ok<string[]>(sim.url, 'network.get_all', mine);
  const waiting = ok<
    {
      id: number;
      class: string;
      operation: string;
      ref: string;
      obj_uuid: string;
      snapshot: Record<string, unknown>;
    }[]
  >(sim.url, 'event.next', mine);
  await ok(sim.url, 'network.set_name_description', mine, net, 'legacy');
  const events = await waiting;
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({
    class: 'network',
    operation: 'mod',
    ref: net,
    snapshot: { name_description: 'legacy' },
  });
  expect(events[0]?.obj_uuid).toBe(await ok(sim.url, 'network.get_uuid', mine, net));
  const xml = await post(
    sim.url,
    xmlCall('event.unregister', v(mine), '<value><array><data><value>network</value></data></array></value>'),
  );
  expect(xml.text).toContain('<value>Success</value>');
  expect(await fails(sim.url, 'event.register', mine, ['bogus'])).toEqual([
    'EVENT_SUBSCRIPTION_PARSE_FAILURE',
    'bogus',
  ]);
});

test('at most 10 000 messages are kept; the oldest go first', async () => {
  const engine = sim.sim.engine;
  const first = engine.createMessage('FLOOD', 5, 'Pool', 'x', 'first');
  for (let i = 0; i < 10_000; i++) engine.createMessage('FLOOD', 5, 'Pool', 'x', String(i));
  expect(engine.store.count('message')).toBe(10_000);
  expect(await fails(sim.url, 'message.get_record', s, first)).toEqual(['HANDLE_INVALID', 'message', first]);
});

test('sessions never appear in events: their refs are secrets', async () => {
  const all = await from(['*'], '');
  expect(all.events.some((e) => e.class === 'session')).toBe(false);
  const other = await login(sim.url);
  const b = await from(['*'], all.token, 0.2);
  expect(b.events.map((e) => e.ref)).not.toContain(other);
});
