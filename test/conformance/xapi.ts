/**
 * XenAPI conformance suite: wire and core behaviour that any XAPI — real XCP-ng/XenServer or the xenlab simulator —
 * must show. Point it at a real host with `XENLAB_XAPI_URL=http://host XENLAB_XAPI_USER=root
 * XENLAB_XAPI_PASSWORD=… npx vitest run --project integration test/integration/conformance.test.ts`; when the
 * variable is unset it starts the simulator itself. It creates and destroys only one network of its own.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulator } from '../../sandbox/src/sim/index.js';
import type { RunningSimulator } from '../../sandbox/src/sim/index.js';

interface Target {
  url: string;
  user: string;
  password: string;
}

/** Registers the conformance tests (call inside a test file). */
export function defineXapiConformance(): void {
  const target: Target = { url: '', user: '', password: '' };
  let sim: RunningSimulator | undefined;
  let s = '';

  const rpc = async (
    method: string,
    params: unknown[],
    version: 1 | 2 = 2,
  ): Promise<Record<string, unknown>> => {
    const body = version === 2 ? { jsonrpc: '2.0', method, params, id: 1 } : { method, params, id: 1 };
    const res = await fetch(`${target.url}/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await res.json()) as Record<string, unknown>;
  };
  const ok = async <T>(method: string, ...params: unknown[]): Promise<T> => {
    const r = await rpc(method, params);
    if (r.error) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
    return r.result as T;
  };
  const err = async (method: string, ...params: unknown[]): Promise<string[]> => {
    const r = await rpc(method, params);
    const e = r.error as { message: string; data?: string[] } | undefined;
    if (!e) throw new Error(`${method} should have failed`);
    return [e.message, ...(e.data ?? [])];
  };
  const xml = async (method: string, ...values: string[]): Promise<string> => {
    const body = `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${values.map((x) => `<param>${x}</param>`).join('')}</params></methodCall>`;
    const res = await fetch(target.url, { method: 'POST', headers: { 'content-type': 'text/xml' }, body });
    expect(res.status).toBe(200);
    return res.text();
  };
  const val = (x: string): string => `<value>${x}</value>`;

  beforeAll(async () => {
    const url = process.env.XENLAB_XAPI_URL;
    if (url) {
      target.url = url.replace(/\/$/, '');
      target.user = process.env.XENLAB_XAPI_USER ?? 'root';
      target.password = process.env.XENLAB_XAPI_PASSWORD ?? '';
    } else {
      sim = await startSimulator({ port: 0, fast: true });
      Object.assign(target, { url: sim.url, user: 'root', password: 'xenlab' });
    }
    s = await ok<string>(
      'session.login_with_password',
      target.user,
      target.password,
      '2.21',
      'xenlab-conformance',
    );
  });
  afterAll(async () => {
    if (s) await rpc('session.logout', [s]);
    await sim?.close();
  });

  describe('XenAPI conformance', () => {
    test('session refs are OpaqueRefs; bad passwords fail SESSION_AUTHENTICATION_FAILED', async () => {
      expect(s).toMatch(/^OpaqueRef:[0-9a-f-]{36}$/);
      const e = await err('session.login_with_password', target.user, `${target.password}-wrong`);
      expect(e[0]).toBe('SESSION_AUTHENTICATION_FAILED');
    });

    test('XML-RPC envelope: Status/Value struct, untyped strings', async () => {
      const text = await xml('pool.get_all', val(s));
      expect(text).toMatch(
        /^<\?xml version="1\.0"\?><methodResponse><params><param><value><struct><member><name>Status<\/name><value>Success<\/value><\/member><member><name>Value<\/name><value><array><data><value>OpaqueRef:/,
      );
    });

    test('XML-RPC scalars: ints untyped, bools <boolean>, datetimes compact UTC', async () => {
      const [host] = await ok<string[]>('host.get_all', s);
      expect(await xml('host.get_API_version_major', val(s), val(String(host)))).toMatch(
        /<name>Value<\/name><value>\d+<\/value>/,
      );
      expect(await xml('host.get_enabled', val(s), val(String(host)))).toMatch(
        /<value><boolean>[01]<\/boolean><\/value>/,
      );
      const metrics = await ok<string>('host.get_metrics', s, host);
      expect(await xml('host_metrics.get_last_updated', val(s), val(metrics))).toMatch(
        /<value><dateTime\.iso8601>\d{8}T\d\d:\d\d:\d\dZ<\/dateTime\.iso8601><\/value>/,
      );
    });

    test('API errors travel as Status Failure over HTTP 200', async () => {
      const text = await xml('VM.get_record', val(s), val('OpaqueRef:00000000-0000-0000-0000-000000000000'));
      expect(text).toContain('<value>Failure</value>');
      expect(text).toContain(
        '<value>HANDLE_INVALID</value><value>VM</value><value>OpaqueRef:00000000-0000-0000-0000-000000000000</value>',
      );
    });

    test('unknown methods and wrong arity', async () => {
      expect(await err('VM.no_such_message', s)).toEqual(['MESSAGE_METHOD_UNKNOWN', 'VM.no_such_message']);
      expect(await err('VM.get_record', s)).toEqual([
        'MESSAGE_PARAMETER_COUNT_MISMATCH',
        'VM.get_record',
        '1',
        '0',
      ]);
    });

    test('UUID_INVALID names the class', async () => {
      expect(await err('VM.get_by_uuid', s, 'not-a-uuid')).toEqual(['UUID_INVALID', 'VM', 'not-a-uuid']);
    });

    test('Class_message is an alias of Class.message', async () => {
      expect(await ok<string[]>('pool_get_all', s)).toEqual(await ok<string[]>('pool.get_all', s));
    });

    test('JSON-RPC v1 envelope', async () => {
      const r = await rpc('pool.get_all', [s], 1);
      expect(r).toMatchObject({ error: null, id: 1 });
      expect(Array.isArray(r.result)).toBe(true);
    });

    test('records: get_all_records keys are refs; get_all_records_where filters', async () => {
      const hosts = await ok<Record<string, { uuid: string; hostname: string }>>('host.get_all_records', s);
      const [ref, rec] = Object.entries(hosts)[0] ?? [];
      expect(ref).toMatch(/^OpaqueRef:/);
      expect(await ok('host.get_by_uuid', s, rec?.uuid)).toBe(ref);
      const where = await ok<Record<string, unknown>>(
        'host.get_all_records_where',
        s,
        `field "uuid"="${rec?.uuid ?? ''}"`,
      );
      expect(Object.keys(where)).toEqual([ref]);
    });

    test('dom0 exists per host and is a running control domain', async () => {
      const vms = await ok<
        Record<string, { is_control_domain: boolean; power_state: string; resident_on: string }>
      >('VM.get_all_records', s);
      const dom0s = Object.values(vms).filter((v) => v.is_control_domain);
      const hosts = await ok<string[]>('host.get_all', s);
      expect(dom0s.length).toBe(hosts.length);
      expect(dom0s.every((d) => d.power_state === 'Running' && hosts.includes(d.resident_on))).toBe(true);
    });

    test('maps: add_to twice is MAP_DUPLICATE_KEY [class, field, uuid, key]; events see the changes', async () => {
      const name = `xenlab-conformance-${Date.now()}`;
      const { token } = await ok<{ token: string }>('event.from', s, ['network'], '', 0.1);
      expect(token).toMatch(/^\d+,\d+$/);
      const net = await ok<string>('network.create', s, {
        name_label: name,
        name_description: '',
        MTU: 1500,
        other_config: {},
      });
      try {
        const uuid = await ok<string>('network.get_uuid', s, net);
        await ok('network.add_to_other_config', s, net, 'k', 'v');
        expect(await err('network.add_to_other_config', s, net, 'k', 'w')).toEqual([
          'MAP_DUPLICATE_KEY',
          'network',
          'other_config',
          uuid,
          'k',
        ]);
        const b = await ok<{ events: { ref: string; operation: string; class: string }[] }>(
          'event.from',
          s,
          ['network'],
          token,
          5.0,
        );
        expect(b.events.find((e) => e.ref === net)).toMatchObject({ class: 'network', operation: 'add' });
      } finally {
        await ok('network.destroy', s, net);
      }
    });

    test('Async calls return a task whose result is an XML-RPC value', async () => {
      const [host] = await ok<string[]>('host.get_all', s);
      const task = await ok<string>('Async.host.compute_free_memory', s, host);
      let rec: { status: string; result: string } | undefined;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        rec = await ok<{ status: string; result: string }>('task.get_record', s, task);
        if (rec.status !== 'pending') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(rec?.status).toBe('success');
      expect(rec?.result).toMatch(/^<value>\d+<\/value>$/);
      await ok('task.destroy', s, task);
    });

    test('records keep Removed fields: host_metrics.memory_free, VM_metrics.VCPUs_utilisation', async () => {
      const [host] = await ok<string[]>('host.get_all', s);
      const metrics = await ok<string>('host.get_metrics', s, host);
      const hm = await ok<Record<string, unknown>>('host_metrics.get_record', s, metrics);
      expect(typeof hm.memory_free).toBe('number');
      expect(hm.memory_free).toBeGreaterThan(0);
      expect(await xml('host_metrics.get_record', val(s), val(metrics))).toMatch(
        /<member><name>memory_free<\/name><value>\d+<\/value><\/member>/,
      );
      const vmm = await ok<Record<string, Record<string, unknown>>>('VM_metrics.get_all_records', s);
      expect(Object.values(vmm).every((m) => typeof m.VCPUs_utilisation === 'object')).toBe(true);
    });

    test('Removed messages answer MESSAGE_REMOVED [] after the arity and session checks', async () => {
      const [host] = await ok<string[]>('host.get_all', s);
      const metrics = await ok<string>('host.get_metrics', s, host);
      expect(await err('host_metrics.get_memory_free', s, metrics)).toEqual(['MESSAGE_REMOVED']);
      expect(await err('host_metrics.get_memory_free', s)).toEqual([
        'MESSAGE_PARAMETER_COUNT_MISMATCH',
        'host_metrics.get_memory_free',
        '1',
        '0',
      ]);
    });

    test('system.listMethods over XML-RPC is a bare array, no Status/Value struct', async () => {
      const text = await xml('system.listMethods');
      expect(text).toMatch(
        /^<\?xml version="1\.0"\?><methodResponse><params><param><value><array><data><value>/,
      );
      expect(text).toContain('<value>VM.get_all_records</value>');
      expect(text).not.toContain('<name>Status</name>');
    });

    test('session.get_tasks lists the tasks the session made', async () => {
      const task = await ok<string>('task.create', s, 'xenlab-conformance', 'session.get_tasks check');
      try {
        expect(await ok<string[]>('session.get_tasks', s, s)).toContain(task);
      } finally {
        await ok('task.destroy', s, task);
      }
      expect(await ok<string[]>('session.get_tasks', s, s)).not.toContain(task);
    });

    test("host.call_plugin: every host's echo plugin answers repr(args); unknown plugins and functions fail", async () => {
      const [pool] = await ok<string[]>('pool.get_all', s);
      const master = await ok<string>('pool.get_master', s, pool);
      expect(await ok('host.call_plugin', s, master, 'echo', 'main', { xenlab: 'conformance' })).toBe(
        "args were: {'xenlab': 'conformance'}",
      );
      expect(await err('host.call_plugin', s, master, 'xenlab-no-such-plugin', 'main', {})).toEqual([
        'XENAPI_MISSING_PLUGIN',
        'xenlab-no-such-plugin',
      ]);
      expect(await err('host.call_plugin', s, master, 'echo', 'xenlab_no_such_fn', {})).toEqual([
        'UNKNOWN_XENAPI_PLUGIN_FUNCTION',
        'xenlab_no_such_fn',
      ]);
    });

    test('static roles: pool-admin has its fixed uuid; permissions are wire names in lower case, uuid = MD5', async () => {
      const admin = 'OpaqueRef:0165f154-ba3e-034e-6b27-5d271af109ba';
      expect(await ok<string[]>('role.get_by_name_label', s, 'pool-admin')).toEqual([admin]);
      const roles = await ok<Record<string, { name_label: string }>>(
        'role.get_all_records_where',
        s,
        'subroles<>[]',
      );
      expect(Object.values(roles).map((r) => r.name_label)).toEqual(
        expect.arrayContaining([
          'pool-admin',
          'pool-operator',
          'vm-power-admin',
          'vm-admin',
          'vm-operator',
          'read-only',
        ]),
      );
      expect(await ok<string[]>('role.get_by_name_label', s, 'vm.start')).toEqual([
        'OpaqueRef:24b924aa-926c-879e-d2c1-fe778e82ccee',
      ]);
      if (await ok<boolean>('session.get_is_local_superuser', s, s))
        expect(await ok<string[]>('session.get_rbac_permissions', s, s)).toEqual([]);
    });

    test('logout invalidates the session', async () => {
      const other = await ok<string>('session.login_with_password', target.user, target.password);
      await ok('session.logout', other);
      expect(await err('pool.get_all', other)).toEqual(['SESSION_INVALID', other]);
    });
  });
}
