/**
 * Golden wire tests: the exact bytes real XAPI (ocaml-rpc) sends for representative calls, over XML-RPC and JSON-RPC,
 * including failures and parse errors (toolkit/src/xenapi/NOTES.md §1.2, §1.3).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { jsonCall, login, ok, post, start, v, xmlCall } from './helpers.js';
import type { RunningSimulator } from './helpers.js';

const HEAD = '<?xml version="1.0"?><methodResponse><params><param><value><struct>';
const TAIL = '</struct></value></param></params></methodResponse>';
const success = (value: string): string =>
  `${HEAD}<member><name>Status</name><value>Success</value></member><member><name>Value</name>${value}</member>${TAIL}`;
const failure = (...desc: string[]): string =>
  `${HEAD}<member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data>${desc
    .map((d) => `<value>${d}</value>`)
    .join('')}</data></array></value></member>${TAIL}`;

let sim: RunningSimulator;
let session: string;
beforeAll(async () => {
  sim = await start();
  session = await login(sim.url);
});
afterAll(async () => {
  await sim.close();
});

describe('XML-RPC', () => {
  test('login answers 200 text/xml with an untyped OpaqueRef string', async () => {
    const r = await post(
      sim.url,
      xmlCall('session.login_with_password', v('root'), v('xenlab'), v('2.21'), v('golden')),
    );
    expect(r.status).toBe(200);
    expect(r.type).toBe('text/xml');
    expect(r.text).toMatch(
      /^<\?xml version="1\.0"\?><methodResponse><params><param><value><struct><member><name>Status<\/name><value>Success<\/value><\/member><member><name>Value<\/name><value>OpaqueRef:[0-9a-f-]{36}<\/value><\/member><\/struct><\/value><\/param><\/params><\/methodResponse>$/,
    );
  });

  test('a wrong password is Status Failure with [code, user, PAM message] over HTTP 200', async () => {
    const r = await post(sim.url, xmlCall('session.login_with_password', v('root'), v('nope')));
    expect(r.status).toBe(200);
    expect(r.text).toBe(failure('SESSION_AUTHENTICATION_FAILED', 'root', 'Authentication failure'));
  });

  test('ints are untyped strings, floats <double>, bools <boolean>, datetimes without hyphens', async () => {
    const [host] = await ok<string[]>(sim.url, 'host.get_all', session);
    const api = await post(sim.url, xmlCall('host.get_API_version_major', v(session), v(String(host))));
    expect(api.text).toBe(success('<value>2</value>'));
    const enabled = await post(sim.url, xmlCall('host.get_enabled', v(session), v(String(host))));
    expect(enabled.text).toBe(success('<value><boolean>1</boolean></value>'));
    const [cpu] = await ok<string[]>(sim.url, 'host_cpu.get_all', session);
    const util = await post(sim.url, xmlCall('host_cpu.get_utilisation', v(session), v(String(cpu))));
    expect(util.text).toBe(success('<value><double>0</double></value>'));
    const metrics = await ok<string>(sim.url, 'host.get_metrics', session, host);
    const updated = await post(sim.url, xmlCall('host_metrics.get_last_updated', v(session), v(metrics)));
    expect(updated.text).toMatch(
      /<value><dateTime\.iso8601>\d{8}T\d\d:\d\d:\d\dZ<\/dateTime\.iso8601><\/value>/,
    );
  });

  test('sets are arrays, maps are structs, empty strings are <value></value>', async () => {
    const [pool] = await ok<string[]>(sim.url, 'pool.get_all', session);
    const tags = await post(sim.url, xmlCall('pool.get_tags', v(session), v(String(pool))));
    expect(tags.text).toBe(success('<value><array><data></data></array></value>'));
    const oc = await post(sim.url, xmlCall('pool.get_other_config', v(session), v(String(pool))));
    expect(oc.text).toBe(
      success(
        '<value><struct><member><name>memory_ratio_hvm</name><value>0.25</value></member><member><name>memory_ratio_pv</name><value>0.25</value></member></struct></value>',
      ),
    );
    const desc = await post(sim.url, xmlCall('pool.get_name_description', v(session), v(String(pool))));
    expect(desc.text).toBe(success('<value></value>'));
  });

  test('a void result is an empty string value; markup in strings is escaped', async () => {
    const [pool] = await ok<string[]>(sim.url, 'pool.get_all', session);
    const set = await post(
      sim.url,
      xmlCall('pool.set_name_description', v(session), v(String(pool)), v('a <b> & "c"')),
    );
    expect(set.text).toBe(success('<value></value>'));
    const got = await post(sim.url, xmlCall('pool.get_name_description', v(session), v(String(pool))));
    expect(got.text).toBe(success('<value>a &lt;b&gt; &amp; &quot;c&quot;</value>'));
  });

  test('accepts <string>, <int>/<i4>/<i8> and digit strings where the API wants an int', async () => {
    const [pool] = await ok<string[]>(sim.url, 'pool.get_all', session);
    const typed = await post(
      sim.url,
      xmlCall(
        'pool.set_name_label',
        `<value><string>${session}</string></value>`,
        v(String(pool)),
        '<value><string>xenlab</string></value>',
      ),
    );
    expect(typed.text).toBe(success('<value></value>'));
    const [net] = await ok<string[]>(sim.url, 'network.get_all', session);
    for (const mtu of [
      '<value><i4>1500</i4></value>',
      '<value><int>1500</int></value>',
      '<value><i8>1500</i8></value>',
      '<value>1500</value>',
    ]) {
      const r = await post(sim.url, xmlCall('network.set_MTU', v(session), v(String(net)), mtu));
      expect(r.text).toBe(success('<value></value>'));
    }
  });

  test('both wire names work: VM.get_all and VM_get_all', async () => {
    const a = await post(sim.url, xmlCall('VM.get_all', v(session)));
    const b = await post(sim.url, xmlCall('VM_get_all', v(session)));
    expect(a.text).toBe(b.text);
    expect(a.text).toContain('<array><data><value>OpaqueRef:');
  });

  test('/RPC2 and any other path also speak XML-RPC', async () => {
    for (const path of ['/RPC2', '/xmlrpc', '/some/where']) {
      const r = await post(sim.url, xmlCall('pool.get_all', v(session)), path);
      expect(r.status).toBe(200);
      expect(r.text).toMatch(
        /^<\?xml version="1.0"\?><methodResponse><params><param><value><struct><member><name>Status<\/name><value>Success/,
      );
    }
  });

  test('unknown methods and wrong arity fail with the real codes and parameters (counts without the session)', async () => {
    const unknown = await post(sim.url, xmlCall('VM.frobnicate', v(session)));
    expect(unknown.text).toBe(failure('MESSAGE_METHOD_UNKNOWN', 'VM.frobnicate'));
    const arity = await post(sim.url, xmlCall('VM.get_record', v(session)));
    expect(arity.text).toBe(failure('MESSAGE_PARAMETER_COUNT_MISMATCH', 'VM.get_record', '1', '0'));
  });

  test('optional trailing parameters may be left out, but not more', async () => {
    const short = await post(sim.url, xmlCall('session.login_with_password', v('root'), v('xenlab')));
    expect(short.text).toContain('<value>Success</value>');
    const tooShort = await post(sim.url, xmlCall('session.login_with_password', v('root')));
    expect(tooShort.text).toBe(
      failure('MESSAGE_PARAMETER_COUNT_MISMATCH', 'session.login_with_password', '2', '1'),
    );
  });

  test('a stale ref is HANDLE_INVALID [Class, ref]; an unknown uuid UUID_INVALID [Class, uuid]', async () => {
    const ref = 'OpaqueRef:00000000-0000-0000-0000-000000000000';
    const r = await post(sim.url, xmlCall('VM.get_record', v(session), v(ref)));
    expect(r.text).toBe(failure('HANDLE_INVALID', 'VM', ref));
    const u = await post(sim.url, xmlCall('SR.get_by_uuid', v(session), v('nope')));
    expect(u.text).toBe(failure('UUID_INVALID', 'SR', 'nope'));
  });

  test('malformed XML is HTTP 500 with an HTML page, never a fault', async () => {
    const r = await post(sim.url, '<methodCall><methodName>VM.get_all</methodName><params>');
    expect(r.status).toBe(500);
    expect(r.type).toBe('text/html');
    expect(r.text).toContain('HTTP 500 internal server error');
    expect(r.text).toMatch(
      /^<html><body><h1>HTTP 500 internal server error<\/h1>An unexpected error occurred; please wait a while and try again\. If the problem persists, please contact your support representative\.<h1> Additional information <\/h1>Xmlrpc\.Parse_error\(&quot;.*&quot;\)<\/body><\/html>$/,
    );
  });

  test('an unknown value tag is a parse error too', async () => {
    const r = await post(sim.url, xmlCall('VM.get_all', '<value><float>1</float></value>'));
    expect(r.status).toBe(500);
  });

  test('system.listMethods lists the API', async () => {
    const r = await post(sim.url, xmlCall('system.listMethods'));
    expect(r.text).toContain('<value>VM.get_all_records</value>');
    expect(r.text).toContain('<value>session.login_with_password</value>');
    expect(r.text).not.toContain('<value>Async.');
  });
});

describe('JSON-RPC', () => {
  const raw = async (body: string) => {
    const res = await fetch(`${sim.url}/jsonrpc`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };

  test('v1 success and failure envelopes', async () => {
    const [pool] = await ok<string[]>(sim.url, 'pool.get_all', session);
    const s = await raw(JSON.stringify({ method: 'pool.get_ha_enabled', params: [session, pool], id: 7 }));
    expect(s.type).toBe('application/json');
    expect(s.text).toBe('{"result":false,"error":null,"id":7}');
    const f = await raw(
      JSON.stringify({ method: 'VM.get_record', params: [session, 'OpaqueRef:x'], id: 'a' }),
    );
    expect(f.text).toBe('{"result":null,"error":["HANDLE_INVALID","VM","OpaqueRef:x"],"id":"a"}');
  });

  test('v2 success and failure envelopes', async () => {
    const [host] = await ok<string[]>(sim.url, 'host.get_all', session);
    const s = await raw(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'host.get_API_version_major',
        params: [session, host],
        id: 1,
      }),
    );
    expect(s.text).toBe('{"jsonrpc":"2.0","result":2,"id":1}');
    const f = await raw(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'session.login_with_password',
        params: ['root', 'bad'],
        id: 2,
      }),
    );
    expect(f.text).toBe(
      '{"jsonrpc":"2.0","error":{"code":1,"message":"SESSION_AUTHENTICATION_FAILED","data":["root","Authentication failure"]},"id":2}',
    );
  });

  test('floats keep a decimal point, datetimes use the XAPI format', async () => {
    const [cpu] = await ok<string[]>(sim.url, 'host_cpu.get_all', session);
    const s = await raw(
      JSON.stringify({ jsonrpc: '2.0', method: 'host_cpu.get_utilisation', params: [session, cpu], id: 1 }),
    );
    expect(s.text).toBe('{"jsonrpc":"2.0","result":0.0,"id":1}');
    const [h] = await ok<string[]>(sim.url, 'host_metrics.get_all', session);
    const d = await jsonCall(sim.url, 'host_metrics.get_last_updated', [session, h]);
    expect(d.result).toMatch(/^\d{8}T\d\d:\d\d:\d\dZ$/);
  });

  test('sessions are shared between XML-RPC and JSON-RPC', async () => {
    const r = await post(sim.url, xmlCall('session.login_with_password', v('root'), v('xenlab')));
    const ref = /OpaqueRef:[0-9a-f-]{36}/.exec(r.text)?.[0];
    expect(await ok<string[]>(sim.url, 'pool.get_all', ref)).toHaveLength(1);
  });

  test('bad JSON, missing ids (notifications) and bad params are HTTP 500', async () => {
    expect((await raw('{not json')).status).toBe(500);
    expect(
      (await raw(JSON.stringify({ jsonrpc: '2.0', method: 'pool.get_all', params: [session] }))).status,
    ).toBe(500);
    expect((await raw(JSON.stringify({ method: 'pool.get_all', params: 'x', id: 1 }))).status).toBe(500);
    const noParams = await raw(
      JSON.stringify({ jsonrpc: '2.0', method: 'session.login_with_password', id: 0 }),
    );
    expect(noParams.status).toBe(500);
    expect(noParams.text).toContain('Jsonrpc.Malformed_method_request(&quot;');
  });

  test('wrong JSON types for a parameter are FIELD_TYPE_ERROR', async () => {
    const [net] = await ok<string[]>(sim.url, 'network.get_all', session);
    const r = await jsonCall(sim.url, 'network.set_MTU', [session, net, 'lots']);
    expect(r.error).toEqual({ code: 1, message: 'FIELD_TYPE_ERROR', data: ['value'] });
  });

  test('OPTIONS preflight does not grant other origins access (unlike real xapi, on purpose)', async () => {
    const res = await fetch(`${sim.url}/jsonrpc`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
