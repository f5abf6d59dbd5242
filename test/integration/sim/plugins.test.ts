/**
 * host.call_plugin with the `echo` plugin every host has (python3/plugins/echo.py: `main` answers
 * "args were: " + repr(args)), and the errors of xapi_plugins.ml and XenAPIPlugin.py.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eventually, fails, login, ok, post, start, v, xmlCall, type RunningSimulator } from './helpers.js';

let sim: RunningSimulator;
let s = '';
let master = '';
beforeAll(async () => {
  sim = await start({ controlToken: 'plugins-token' });
  s = await login(sim.url);
  const [pool] = await ok<string[]>(sim.url, 'pool.get_all', s);
  master = await ok<string>(sim.url, 'pool.get_master', s, pool);
});
afterAll(async () => {
  await sim.close();
});

describe('echo', () => {
  test("main returns Python's repr of its arguments (JSON-RPC)", async () => {
    expect(await ok(sim.url, 'host.call_plugin', s, master, 'echo', 'main', {})).toBe('args were: {}');
    expect(
      await ok(sim.url, 'host.call_plugin', s, master, 'echo', 'main', {
        name: 'web-1',
        note: 'it\'s \\ "x"',
      }),
    ).toBe(`args were: {'name': 'web-1', 'note': 'it\\'s \\\\ "x"'}`);
    expect(await ok(sim.url, 'host.call_plugin', s, master, 'echo', 'main', { q: "don't" })).toBe(
      `args were: {'q': "don't"}`,
    );
    // Line ends reach the plugin through XML: \r\n becomes \n; other control characters are dropped.
    expect(await ok(sim.url, 'host.call_plugin', s, master, 'echo', 'main', { t: 'a\r\nb\tc\u0001é' })).toBe(
      "args were: {'t': 'a\\nb\\tcé'}",
    );
  });

  test('over XML-RPC, and as Async.host.call_plugin (the task result is the XML-RPC string)', async () => {
    const r = await post(
      sim.url,
      xmlCall(
        'host.call_plugin',
        v(s),
        v(master),
        v('echo'),
        v('main'),
        '<value><struct><member><name>k</name><value>v</value></member></struct></value>',
      ),
    );
    expect(r.text).toContain(`<name>Value</name><value>args were: {'k': 'v'}</value>`);
    const task = await ok<string>(sim.url, 'Async.host.call_plugin', s, master, 'echo', 'main', {
      sleep: '0',
    });
    const done = await eventually(async () => {
      const t = await ok<{ status: string; result: string }>(sim.url, 'task.get_record', s, task);
      return t.status === 'pending' ? undefined : t;
    });
    expect(done).toMatchObject({ status: 'success', result: `<value>args were: {'sleep': '0'}</value>` });
  });

  test('sleep: waits that many seconds; not an integer is XENAPI_PLUGIN_FAILURE [fn, class, message]', async () => {
    const t0 = Date.now();
    await ok(sim.url, 'host.call_plugin', s, master, 'echo', 'main', { sleep: '1' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(await fails(sim.url, 'host.call_plugin', s, master, 'echo', 'main', { sleep: 'soon' })).toEqual([
      'XENAPI_PLUGIN_FAILURE',
      'main',
      'ValueError',
      "invalid literal for int() with base 10: 'soon'",
    ]);
    expect(await fails(sim.url, 'host.call_plugin', s, master, 'echo', 'main', { sleep: '-1' })).toEqual([
      'XENAPI_PLUGIN_FAILURE',
      'main',
      'ValueError',
      'sleep length must be non-negative',
    ]);
  });
});

describe('errors', () => {
  test('unknown plugin, unknown function, bad host', async () => {
    expect(await fails(sim.url, 'host.call_plugin', s, master, 'updater.py', 'check_update', {})).toEqual([
      'XENAPI_MISSING_PLUGIN',
      'updater.py',
    ]);
    expect(await fails(sim.url, 'host.call_plugin', s, master, '../../bin/sh', 'main', {})).toEqual([
      'XENAPI_MISSING_PLUGIN',
      '../../bin/sh',
    ]);
    expect(await fails(sim.url, 'host.call_plugin', s, master, 'echo', 'nope', {})).toEqual([
      'UNKNOWN_XENAPI_PLUGIN_FUNCTION',
      'nope',
    ]);
    expect(await fails(sim.url, 'host.call_plugin', s, 'OpaqueRef:nohost', 'echo', 'main', {})).toEqual([
      'HANDLE_INVALID',
      'host',
      'OpaqueRef:nohost',
    ]);
  });

  test('a member that is not live is HOST_OFFLINE [host]', async () => {
    const r = await fetch(`${sim.controlUrl}fault/host-fail`, {
      method: 'POST',
      headers: { authorization: 'Bearer plugins-token', 'content-type': 'application/json' },
      body: JSON.stringify({ name_label: 'xcp-ng-02' }),
    });
    expect(r.status).toBe(200);
    const [dead] = await ok<string[]>(sim.url, 'host.get_by_name_label', s, 'xcp-ng-02');
    expect(await fails(sim.url, 'host.call_plugin', s, dead, 'echo', 'main', {})).toEqual([
      'HOST_OFFLINE',
      dead,
    ]);
  });
});
