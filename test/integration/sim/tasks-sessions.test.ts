/**
 * Tasks (toolkit/src/xenapi/NOTES.md §1.6) and sessions (§1.4): Async.* calls, results as XML-RPC value strings,
 * cancel, logout.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eventually, fails, login, ok, post, start, v, xmlCall } from './helpers.js';
import type { RunningSimulator } from './helpers.js';
import type { SimBehaviour } from '../../../sandbox/src/sim/index.js';

// A slow operation of our own, so cancellation can be observed regardless of the behaviour modules.
const slow: SimBehaviour = {
  handlers: {
    'pool.sync_database': async (ctx) => {
      await ctx.clock.work('pool.sync_database', ctx.task);
    },
  },
};

let sim: RunningSimulator;
let s: string;
beforeAll(async () => {
  sim = await start({
    fast: false,
    behaviours: [slow],
    scenario: { hosts: [{ name: 'h1' }], durations: { 'pool.sync_database': 2000 } },
  });
  s = await login(sim.url);
});
afterAll(async () => {
  await sim.close();
});

const record = (task: string) => ok<Record<string, unknown>>(sim.url, 'task.get_record', s, task);

describe('tasks', () => {
  test('Async.* returns a task at once; its result is an XML-RPC value string', async () => {
    // DB accessors have no Async variant, as in xapi.
    expect(await fails(sim.url, 'Async.pool.get_all', s)).toEqual([
      'MESSAGE_METHOD_UNKNOWN',
      'Async.pool.get_all',
    ]);
    expect(await fails(sim.url, 'Async.SR.get_record', s, 'x')).toEqual([
      'MESSAGE_METHOD_UNKNOWN',
      'Async.SR.get_record',
    ]);
    const created = await ok<string>(sim.url, 'Async.network.create', s, {
      name_label: 'async net',
      name_description: '',
      MTU: 1500,
      other_config: {},
    });
    expect(created).toMatch(/^OpaqueRef:/);
    const done = await eventually(async () => {
      const r = await record(created);
      return r.status === 'success' ? r : undefined;
    });
    expect(done.result).toMatch(/^<value>OpaqueRef:[0-9a-f-]{36}<\/value>$/);
    expect(done.progress).toBe(1);
    expect(done.name_label).toBe('Async.network.create');
    const net = /OpaqueRef:[0-9a-f-]{36}/.exec(String(done.result))?.[0];
    expect(await ok(sim.url, 'network.get_name_label', s, net)).toBe('async net');
    await ok(sim.url, 'task.destroy', s, created);
    expect(await fails(sim.url, 'task.get_record', s, created)).toEqual(['HANDLE_INVALID', 'task', created]);
  });

  test('a failing async call ends in status failure with error_info [code, params]', async () => {
    const t = await ok<string>(sim.url, 'Async.network.destroy', s, 'OpaqueRef:nope');
    const r = await eventually(async () => {
      const x = await record(t);
      return x.status !== 'pending' ? x : undefined;
    });
    expect(r.status).toBe('failure');
    expect(r.error_info).toEqual(['HANDLE_INVALID', 'network', 'OpaqueRef:nope']);
  });

  test('task.cancel stops a running operation: TASK_CANCELLED [task], status cancelled', async () => {
    const t = await ok<string>(sim.url, 'Async.pool.sync_database', s);
    await ok(sim.url, 'task.cancel', s, t);
    const r = await eventually(async () => {
      const x = await record(t);
      return x.status === 'cancelled' ? x : undefined;
    });
    expect(r.error_info).toEqual(['TASK_CANCELLED', t]);
    expect(await fails(sim.url, 'task.cancel', s, t)).toEqual([
      'OPERATION_NOT_ALLOWED',
      `task ${t} is not pending`,
    ]);
  });

  test('task.result stays XML even over JSON-RPC, and Async.* works over XML-RPC too', async () => {
    const r = await post(
      sim.url,
      xmlCall(
        'Async.network.create',
        v(s),
        '<value><struct><member><name>name_label</name><value>x</value></member></struct></value>',
      ),
    );
    const t = /OpaqueRef:[0-9a-f-]{36}/.exec(r.text)?.[0] ?? '';
    const done = await eventually(async () => {
      const x = await record(t);
      return x.status === 'success' ? x : undefined;
    });
    expect(String(done.result)).toMatch(/^<value>OpaqueRef:/);
  });
});

describe('sessions', () => {
  test('logout invalidates the session: SESSION_INVALID [ref]', async () => {
    const mine = await login(sim.url);
    await ok(sim.url, 'session.logout', mine);
    expect(await fails(sim.url, 'pool.get_all', mine)).toEqual(['SESSION_INVALID', mine]);
  });

  test('a made-up session is SESSION_INVALID', async () => {
    expect(await fails(sim.url, 'VM.get_all', 'OpaqueRef:forged')).toEqual([
      'SESSION_INVALID',
      'OpaqueRef:forged',
    ]);
  });

  test('the session record names its user and originator', async () => {
    const rec = await ok<Record<string, unknown>>(sim.url, 'session.get_record', s, s);
    expect(rec).toMatchObject({ auth_user_name: 'root', originator: 'test', is_local_superuser: true });
  });

  test('at most 500 sessions per originator: the oldest goes', async () => {
    const first = await ok<string>(sim.url, 'session.login_with_password', 'root', 'xenlab', '2.21', 'flood');
    for (let i = 0; i < 500; i++)
      await ok(sim.url, 'session.login_with_password', 'root', 'xenlab', '2.21', 'flood');
    expect(await fails(sim.url, 'pool.get_all', first)).toEqual(['SESSION_INVALID', first]);
    expect(await ok<string[]>(sim.url, 'pool.get_all', s)).toHaveLength(1);
  });
});
