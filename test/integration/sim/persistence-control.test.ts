/** Durable state across restarts, the control API (auth, snapshot/restore/reset, faults) and the RRD endpoints. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eventually, fails, login, ok, start } from './helpers.js';
import type { RunningSimulator } from './helpers.js';
import type { SimBehaviour } from '../../../sandbox/src/sim/index.js';

const dir = mkdtempSync(join(tmpdir(), 'xenlab-sim-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('persistence', () => {
  test('a restarted simulator gives the pool back, sessions included', async () => {
    const stateFile = join(dir, 'pool.json');
    const first = await start({ stateFile });
    const s = await login(first.url);
    const [pool] = await ok<string[]>(first.url, 'pool.get_all', s);
    await ok(first.url, 'pool.set_name_label', s, pool, 'my pool');
    const pending = await ok<string>(first.url, 'task.create', s, 'long job', '');
    const net = await ok<string>(first.url, 'network.create', s, {
      name_label: 'lab net',
      name_description: '',
      MTU: 9000,
      other_config: {},
    });
    await first.close();
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({ format: 'xenlab-sim-state' });

    const second = await start({ stateFile });
    try {
      expect(await ok(second.url, 'pool.get_name_label', s, pool)).toBe('my pool');
      expect(await ok(second.url, 'network.get_MTU', s, net)).toBe(9000);
      expect(await ok(second.url, 'task.get_status', s, pending)).toBe('failure');
      // New objects never reuse a saved uuid, even though the seed is the same.
      const again = await ok<string>(second.url, 'network.create', s, {
        name_label: 'second',
        name_description: '',
        MTU: 1500,
        other_config: {},
      });
      const uuids = await Promise.all(
        [net, again].map((r) => ok<string>(second.url, 'network.get_uuid', s, r)),
      );
      expect(new Set(uuids).size).toBe(2);
    } finally {
      await second.close();
    }
  });

  test('an unreadable state file stops start-up with a clear error', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"format":"something else"}');
    await expect(start({ stateFile: bad })).rejects.toThrow(
      /SIM_ERR_STATE_UNREADABLE: .*bad\.json is not a xenlab simulator state file/,
    );
  });
});

describe('control API', () => {
  const failed: string[] = [];
  const faults: SimBehaviour = {
    handlers: {},
    faults: {
      failHost(ctx, host) {
        failed.push(host);
        const metrics = String(ctx.store.get('host', host).metrics);
        ctx.store.update('host_metrics', metrics, { live: false });
      },
    },
  };
  let sim: RunningSimulator;
  let s: string;
  beforeAll(async () => {
    sim = await start({ controlToken: 'secret-token', behaviours: [faults] });
    s = await login(sim.url);
  });
  afterAll(async () => {
    await sim.close();
  });
  const control = (path: string, body?: unknown, token = 'secret-token') =>
    fetch(sim.controlUrl + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  test('refuses requests without the right bearer token', async () => {
    expect((await fetch(`${sim.controlUrl}health`)).status).toBe(401);
    const wrong = await control('health', undefined, 'guess');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'SIM_ERR_CONTROL_UNAUTHORIZED' });
    expect((await control('health')).status).toBe(200);
  });

  test('the control API is not part of the XenAPI', async () => {
    expect(await fails(sim.url, '_xenlab.reset', s)).toEqual(['MESSAGE_METHOD_UNKNOWN', '_xenlab.reset']);
  });

  test('snapshot, change, restore: the change is gone and event followers see it', async () => {
    const [pool] = await ok<string[]>(sim.url, 'pool.get_all', s);
    expect((await control('snapshot', { name: 'clean' })).status).toBe(200);
    await ok(sim.url, 'pool.set_name_label', s, pool, 'broken');
    const net = await ok<string>(sim.url, 'network.create', s, {
      name_label: 'temp',
      name_description: '',
      MTU: 1500,
      other_config: {},
    });
    const { token } = await ok<{ token: string }>(sim.url, 'event.from', s, ['pool', 'network'], '', 0);
    expect((await control('restore', { name: 'clean' })).status).toBe(200);
    expect(await ok(sim.url, 'pool.get_name_label', s, pool)).toBe('xenlab');
    expect(await fails(sim.url, 'network.get_record', s, net)).toEqual(['HANDLE_INVALID', 'network', net]);
    const batch = await ok<{ events: { operation: string; ref: string }[] }>(
      sim.url,
      'event.from',
      s,
      ['pool', 'network'],
      token,
      1,
    );
    expect(batch.events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ operation: 'del', ref: net }),
        expect.objectContaining({ operation: 'mod', ref: pool }),
      ]),
    );
    expect((await control('restore', { name: 'missing' })).status).toBe(404);
  });

  test('reset rebuilds the scenario and keeps the caller logged in', async () => {
    await ok(sim.url, 'network.create', s, {
      name_label: 'to be reset',
      name_description: '',
      MTU: 1500,
      other_config: {},
    });
    expect((await control('reset', {})).status).toBe(200);
    expect(await ok<string[]>(sim.url, 'network.get_by_name_label', s, 'to be reset')).toEqual([]);
    expect(await ok<string[]>(sim.url, 'host.get_all', s)).toHaveLength(3);
  });

  test('faults call the behaviour modules; unknown targets and missing faults are reported', async () => {
    const r = await control('fault/host-fail', { name_label: 'xcp-ng-02' });
    expect(r.status).toBe(200);
    const [host] = await ok<string[]>(sim.url, 'host.get_by_name_label', s, 'xcp-ng-02');
    expect(failed).toEqual([host]);
    const metrics = await ok<string>(sim.url, 'host.get_metrics', s, host);
    expect(await ok(sim.url, 'host_metrics.get_live', s, metrics)).toBe(false);
    expect(await (await control('fault/host-fail', { name_label: 'nope' })).json()).toMatchObject({
      error: 'SIM_ERR_FAULT_TARGET_NOT_FOUND',
    });
    const missing = await control('fault/sr-fail', { name_label: 'NFS storage' });
    expect(missing.status).toBe(501);
    expect(await missing.json()).toMatchObject({ error: 'SIM_ERR_FAULT_NOT_IMPLEMENTED' });
    expect((await control('fault/explode', {})).status).toBe(404);
  });

  test('bad JSON is a 400 with a code', async () => {
    const r = await fetch(`${sim.controlUrl}snapshot`, {
      method: 'POST',
      headers: { authorization: 'Bearer secret-token' },
      body: '{',
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: 'SIM_ERR_CONTROL_BAD_REQUEST' });
  });
});

describe('RRD endpoints', () => {
  let sim: RunningSimulator;
  let s: string;
  beforeAll(async () => {
    sim = await start({ behaviours: [] });
    s = await login(sim.url);
  });
  afterAll(async () => {
    await sim.close();
  });

  test('need a session_id or basic auth', async () => {
    expect((await fetch(`${sim.url}/rrd_updates?start=0`)).status).toBe(401);
    expect((await fetch(`${sim.url}/rrd_updates?start=0&session_id=OpaqueRef:bad`)).status).toBe(401);
    const basic = await fetch(`${sim.url}/rrd_updates?start=0&host=true`, {
      headers: { authorization: `Basic ${Buffer.from('root:xenlab').toString('base64')}` },
    });
    expect(basic.status).toBe(200);
  });

  test('rrd_updates as XML xport and as JSON with string values', async () => {
    const xml = await (await fetch(`${sim.url}/rrd_updates?start=0&host=true&session_id=${s}`)).text();
    expect(xml).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?><xport><meta><start>\d+<\/start><step>5<\/step><end>\d+<\/end><rows>\d+<\/rows><columns>\d+<\/columns><legend><entry>AVERAGE:host:[0-9a-f-]{36}:/,
    );
    const json = (await (
      await fetch(`${sim.url}/rrd_updates?start=0&host=true&json=true&session_id=${s}`)
    ).json()) as {
      meta: { step: number; legend: string[] };
      data: { t: number; values: string[] }[];
    };
    expect(json.meta.step).toBe(5);
    expect(json.meta.legend).toEqual(
      expect.arrayContaining([expect.stringMatching(/^AVERAGE:host:[0-9a-f-]{36}:memory_total_kib$/)]),
    );
    expect(json.data[0]?.values.every((x) => typeof x === 'string')).toBe(true);
  });

  test('host_rrd dumps the master host', async () => {
    const r = await eventually(async () => {
      const res = await fetch(`${sim.url}/host_rrd?session_id=${s}`);
      return res.status === 200 ? res.text() : undefined;
    });
    expect(r).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?><rrd><version>0003<\/version><step>5<\/step>/,
    );
    expect(r).toContain('<name>cpu_avg</name>');
  });
});
