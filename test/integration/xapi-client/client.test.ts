/**
 * The typed XenAPI client against the real simulator, over both transports: what a toolkit user relies on.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../../sandbox/src/sim/index.js';
import {
  createClient,
  createJsonRpcTransport,
  XapiError,
  type Ref,
  type XapiClient,
  type XapiEvent,
} from '../../../toolkit/src/xenapi/index.js';

const USER = 'root';
const PASSWORD = 'xenlab-secret';

let sim: { url: string; close(): Promise<void> | void };
const clients: XapiClient[] = [];

beforeAll(async () => {
  sim = await startSimulator({ port: 0, fast: true, seed: 42, user: USER, password: PASSWORD });
});
afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await sim.close();
});

function client(transport: 'json-rpc' | 'xml-rpc' | 'auto'): XapiClient {
  const c = createClient({ url: sim.url, user: USER, password: PASSWORD, transport });
  clients.push(c);
  return c;
}

/** Polls `check` until it returns true, failing after `ms` (no fixed sleeps). */
async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A template of the default scenario to clone from. */
async function someTemplate(xapi: XapiClient): Promise<Ref<'VM'>> {
  const records = await xapi.call('VM.get_all_records');
  const entry = Object.entries(records).find(([, vm]) => vm.is_a_template && !vm.is_control_domain);
  if (!entry) throw new Error('the default scenario has no template');
  return entry[0] as Ref<'VM'>;
}

/** A fresh, halted, non-template VM cloned from a template. */
async function newVm(xapi: XapiClient, name: string): Promise<Ref<'VM'>> {
  const vm = await xapi.callAsync('VM.clone', await someTemplate(xapi), name);
  await xapi.call('VM.provision', vm);
  await xapi.call('VM.set_is_a_template', vm, false);
  return vm;
}

describe.each(['json-rpc', 'xml-rpc'] as const)('XenAPI client over %s', (transport) => {
  it('logs in and reports the transport in use', async () => {
    const xapi = client(transport);
    const session = await xapi.login();
    expect(session).toMatch(/^OpaqueRef:/);
    expect(xapi.sessionId).toBe(session);
    expect(xapi.transportKind).toBe(transport);
  });

  it('refuses a wrong password with SESSION_AUTHENTICATION_FAILED', async () => {
    const xapi = createClient({ url: sim.url, user: USER, password: 'wrong', transport });
    await expect(xapi.login()).rejects.toMatchObject({ code: 'SESSION_AUTHENTICATION_FAILED' });
    expect(xapi.sessionId).toBeUndefined();
    await xapi.close();
  });

  it('returns typed, normalised records: numbers, booleans, Dates, maps', async () => {
    const xapi = client(transport);
    const template = await someTemplate(xapi);
    const vm = await xapi.call('VM.get_record', template);
    expect(typeof vm.memory_static_max).toBe('number');
    expect(vm.memory_static_max).toBeGreaterThan(0);
    expect(typeof vm.VCPUs_max).toBe('number');
    expect(vm.is_a_template).toBe(true);
    expect(vm.snapshot_time).toBeInstanceOf(Date);
    expect(typeof vm.other_config).toBe('object');
    const [pool] = await xapi.call('pool.get_all');
    if (pool === undefined) throw new Error('no pool');
    const master = await xapi.call('pool.get_master', pool);
    expect(typeof (await xapi.call('host.get_record', master)).memory_overhead).toBe('number');
  });

  it('callRaw skips the datamodel: wire values as decoded, no session for system.*', async () => {
    const xapi = client(transport);
    const template = await someTemplate(xapi);
    const vcpus = await xapi.callRaw('VM.get_VCPUs_max', template);
    const typed = await xapi.call('VM.get_VCPUs_max', template);
    // XAPI sends ints untyped over XML-RPC (a string on the wire), as numbers over JSON-RPC.
    expect(vcpus).toBe(transport === 'xml-rpc' ? String(typed) : typed);
    expect(await xapi.callRaw('system.listMethods')).toContain('VM.start');
  });

  it('sends a float argument so that XAPI reads it back as the same number', async () => {
    const xapi = client(transport);
    const vm = await newVm(xapi, `float-${transport}`);
    await xapi.call('VM.set_HVM_shadow_multiplier', vm, 2);
    expect(await xapi.call('VM.get_HVM_shadow_multiplier', vm)).toBe(2);
    await xapi.call('VM.set_HVM_shadow_multiplier', vm, 1.5);
    expect(await xapi.call('VM.get_HVM_shadow_multiplier', vm)).toBe(1.5);
  });

  it('throws VM_BAD_POWER_STATE with named parameters when starting a running VM', async () => {
    const xapi = client(transport);
    const vm = await newVm(xapi, `start-twice-${transport}`);
    await xapi.call('VM.start', vm, false, false);
    const err: unknown = await xapi.call('VM.start', vm, false, false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiError);
    expect(err).toMatchObject({
      code: 'VM_BAD_POWER_STATE',
      named: { vm, expected: 'halted', actual: 'running' },
    });
  });

  it('throws HANDLE_INVALID naming the class and the bogus ref', async () => {
    const xapi = client(transport);
    const bogus = 'OpaqueRef:00000000-0000-0000-0000-000000000bad' as Ref<'VM'>;
    await expect(xapi.call('VM.get_record', bogus)).rejects.toMatchObject({
      code: 'HANDLE_INVALID',
      named: { class: 'VM', handle: bogus },
    });
  });

  it('logs in again by itself when its session is logged out behind its back', async () => {
    const xapi = client(transport);
    const first = await xapi.login();
    const outsider = createJsonRpcTransport(new URL(sim.url));
    await outsider.call('session.logout', [first]);
    outsider.close();
    expect((await xapi.call('pool.get_all')).length).toBe(1);
    expect(xapi.sessionId).toMatch(/^OpaqueRef:/);
    expect(xapi.sessionId).not.toBe(first);
  });

  it('runs an async VM.clone to its result and destroys the task', async () => {
    const xapi = client(transport);
    const template = await someTemplate(xapi);
    const tasksBefore = await xapi.call('task.get_all');
    const clone = await xapi.callAsync('VM.clone', template, `async-clone-${transport}`);
    expect(clone).toMatch(/^OpaqueRef:/);
    expect(await xapi.call('VM.get_name_label', clone)).toBe(`async-clone-${transport}`);
    const tasksAfter = await xapi.call('task.get_all');
    expect(tasksAfter.filter((t) => !tasksBefore.includes(t))).toEqual([]);
  });

  it('throws a failed task’s error_info as an XapiError', async () => {
    const xapi = client(transport);
    const vm = await newVm(xapi, `async-fail-${transport}`);
    await xapi.callAsync('VM.start', vm, false, false);
    expect(await xapi.call('VM.get_power_state', vm)).toBe('Running');
    await expect(xapi.callAsync('VM.start', vm, false, false)).rejects.toMatchObject({
      code: 'VM_BAD_POWER_STATE',
      named: { vm, actual: 'running' },
    });
  });

  it('watches events and sees a change made after it started, with a normalised snapshot', async () => {
    const xapi = client(transport);
    const vm = await newVm(xapi, `watched-${transport}`);
    const seen: XapiEvent[] = [];
    const watcher = xapi.watchEvents(['VM'], (ev) => {
      seen.push(ev);
    });
    await watcher.ready;
    await xapi.call('VM.set_name_label', vm, `renamed-${transport}`);
    await until(() => seen.some((ev) => ev.ref === vm && ev.snapshot?.name_label === `renamed-${transport}`));
    const event = seen.find((ev) => ev.ref === vm);
    expect(event).toMatchObject({ class: 'vm', operation: 'mod' });
    expect(typeof event?.snapshot?.memory_static_max).toBe('number');
    await watcher.stop();
  });

  it('keeps watching after its session is logged out behind its back', async () => {
    const xapi = client(transport);
    const vm = await newVm(xapi, `watch-relogin-${transport}`);
    const seen: XapiEvent[] = [];
    const errors: unknown[] = [];
    const watcher = xapi.watchEvents(['VM'], (ev) => void seen.push(ev), {
      timeoutS: 0.2,
      onError: (e) => errors.push(e),
    });
    await watcher.ready;
    const outsider = createJsonRpcTransport(new URL(sim.url));
    await outsider.call('session.logout', [xapi.sessionId]);
    outsider.close();
    await xapi.call('VM.set_name_label', vm, `after-logout-${transport}`);
    await until(() =>
      seen.some((ev) => ev.ref === vm && ev.snapshot?.name_label === `after-logout-${transport}`),
    );
    await watcher.stop();
    expect(errors).toEqual([]);
  });
  it('stops at once, cancelling the event.from it is blocked in', async () => {
    const xapi = client(transport);
    const watcher = xapi.watchEvents(['VM'], () => undefined, { timeoutS: 60 });
    await watcher.ready;
    const started = Date.now();
    await watcher.stop();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await xapi.call('pool.get_all')).toHaveLength(1); // the client stays usable
  });

  it('reports watch errors and keeps retrying until stopped', async () => {
    const xapi = client(transport);
    const errors: unknown[] = [];
    const watcher = xapi.watchEvents(['no_such_class'], () => undefined, { onError: (e) => errors.push(e) });
    await until(() => errors.length >= 2);
    await watcher.stop();
    expect(errors[0]).toBeInstanceOf(XapiError);
    expect(errors[0]).toMatchObject({ code: 'EVENT_SUBSCRIPTION_PARSE_FAILURE', params: ['no_such_class'] });
  });
});

describe('XenAPI client across transports', () => {
  it.each(['json-rpc', 'xml-rpc'] as const)(
    'over %s, moves from a pool member to the simulator when told HOST_IS_SLAVE',
    async (transport) => {
      // The simulator has one address, so a pool member is played by a stand-in on another loopback address with
      // the same port, answering every call as a real member does: HOST_IS_SLAVE [coordinator IP]
      // (toolkit/src/xenapi/NOTES.md §1.1).
      const port = Number(new URL(sim.url).port);
      const member = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          if (req.url === '/jsonrpc') {
            const error = { code: 1, message: 'HOST_IS_SLAVE', data: ['127.0.0.1'] };
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ jsonrpc: '2.0', error, id: 1 }));
          } else {
            res.writeHead(200, { 'content-type': 'text/xml' });
            res.end(
              '<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name>' +
                '<value>Failure</value></member><member><name>ErrorDescription</name><value><array><data>' +
                '<value>HOST_IS_SLAVE</value><value>127.0.0.1</value></data></array></value></member></struct>' +
                '</value></param></params></methodResponse>',
            );
          }
        });
      });
      await new Promise<void>((resolve) => member.listen(port, '127.0.0.2', resolve));
      try {
        const xapi = createClient({
          url: `http://127.0.0.2:${port}/`,
          user: USER,
          password: PASSWORD,
          transport,
        });
        clients.push(xapi);
        expect((await xapi.call('pool.get_all')).length).toBe(1);
        expect(xapi.url.host).toBe(`127.0.0.1:${port}`);
      } finally {
        member.closeAllConnections();
        await new Promise((resolve) => member.close(resolve));
      }
    },
  );

  it('auto picks JSON-RPC on a current XAPI', async () => {
    const xapi = client('auto');
    await xapi.login();
    expect(xapi.transportKind).toBe('json-rpc');
  });

  it('normalises records identically over JSON-RPC and XML-RPC', async () => {
    const json = client('json-rpc');
    const xml = client('xml-rpc');
    for (const cls of ['VM', 'host', 'SR', 'network', 'PIF', 'pool'] as const) {
      const [a, b] = await Promise.all([
        json.call(`${cls}.get_all_records`),
        xml.call(`${cls}.get_all_records`),
      ]);
      expect(b, cls).toEqual(a);
    }
  });

  it('passes Date arguments as UTC datetimes over both transports', async () => {
    const json = client('json-rpc');
    const xml = client('xml-rpc');
    const since = new Date(Date.UTC(2000, 0, 1));
    const [a, b] = await Promise.all([
      json.call('message.get_since', since),
      xml.call('message.get_since', since),
    ]);
    expect(b).toEqual(a);
  });
});
