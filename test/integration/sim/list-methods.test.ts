/**
 * `system.listMethods` over XML-RPC: xapi answers the bare array, without the Status/Value struct of every other
 * call (ocaml/xapi/api_server.ml `callback`), so that Python's xmlrpc ServerProxy — which XenAPI.py hands
 * `session.system.*` to — reads a list. Over JSON-RPC the result is an ordinary one. The list holds every message of
 * every class (gen_server.ml), removed ones too, and not `system.listMethods` itself.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createClient } from '../../../toolkit/src/xenapi/index.js';
import { jsonCall, post, start, xmlCall, type RunningSimulator } from './helpers.js';

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await start();
});
afterAll(async () => {
  await sim.close();
});

test('XML-RPC: a bare array of method names, no Status/Value', async () => {
  const r = await post(sim.url, xmlCall('system.listMethods'));
  expect(r.status).toBe(200);
  expect(r.type).toBe('text/xml');
  expect(r.text).toMatch(
    /^<\?xml version="1\.0"\?><methodResponse><params><param><value><array><data><value>[A-Za-z_]+\.[A-Za-z_]+<\/value>/,
  );
  expect(r.text).toMatch(/<\/data><\/array><\/value><\/param><\/params><\/methodResponse>$/);
  expect(r.text).not.toContain('<name>Status</name>');
  expect(r.text).toContain('<value>VM.get_all_records</value>');
  expect(r.text).toContain('<value>host_metrics.get_memory_free</value>');
  expect(r.text).not.toContain('<value>system.listMethods</value>');
});

test('JSON-RPC: an ordinary result', async () => {
  const r = await jsonCall(sim.url, 'system.listMethods', []);
  expect(r.result).toEqual(expect.arrayContaining(['VM.start', 'session.login_with_password']));
  expect(r.result).not.toContain('system.listMethods');
});

const python = spawnSync('python3', ['-c', 'import xmlrpc.client'], { encoding: 'utf8' }).status === 0;

test.skipIf(!python)(
  "Python's xmlrpc ServerProxy (what XenAPI.py uses for system.*) reads a list",
  async () => {
    const script =
      'import sys, xmlrpc.client\n' +
      'm = xmlrpc.client.ServerProxy(sys.argv[1]).system.listMethods()\n' +
      'print(type(m).__name__, "VM.start" in m)\n';
    const { stdout } = await promisify(execFile)('python3', ['-c', script, sim.url]);
    expect(stdout.trim()).toBe('list True');
  },
);

test("the toolkit's XML-RPC transport reads the list", async () => {
  const client = createClient({ url: sim.url, user: 'root', password: 'xenlab', transport: 'xml-rpc' });
  try {
    expect(await client.callRaw('system.listMethods')).toContain('VM.start');
  } finally {
    await client.close();
  }
});
