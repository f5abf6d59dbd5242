/**
 * A second third-party client with a strict XML parser (expat): Python's standard `xmlrpc.client`, the transport the
 * XenAPI Python SDK (XenAPI.py) is built on. Skipped only where no python3 is installed.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { start } from './helpers.js';
import type { RunningSimulator } from './helpers.js';

const python = spawnSync('python3', ['-c', 'import xmlrpc.client'], { encoding: 'utf8' }).status === 0;

const SCRIPT = `
import json, sys, xmlrpc.client
x = xmlrpc.client.ServerProxy(sys.argv[1])
login = x.session.login_with_password('root', 'xenlab', '2.21', 'python')
s = login['Value']
vms = x.VM.get_all_records(s)['Value']
pool = x.pool.get_all(s)['Value'][0]
batch = getattr(x.event, 'from')(s, ['pool'], '', 0.5)['Value']
bad = x.VM.get_record(s, 'OpaqueRef:nope')
print(json.dumps({
  'status': login['Status'],
  'names': sorted(v['name_label'] for v in vms.values()),
  'memory_is_str': all(isinstance(v['memory_static_max'], str) for v in vms.values()),
  'template_is_bool': all(isinstance(v['is_a_template'], bool) for v in vms.values()),
  'counts': batch['valid_ref_counts'],
  'events': len(batch['events']),
  'bad': bad,
  'pool': pool,
}))
`;

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await start();
});
afterAll(async () => {
  await sim.close();
});

test.skipIf(!python)('Python xmlrpc.client reads records, events and failures', async () => {
  // Asynchronous on purpose: the simulator answers from this very process.
  const r = await promisify(execFile)('python3', ['-c', SCRIPT, sim.url], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  expect(out.status).toBe('Success');
  expect(out.names).toContain('Control domain on host: xcp-ng-01');
  // ints arrive as strings and bools as booleans, exactly as from a real host
  expect(out.memory_is_str).toBe(true);
  expect(out.template_is_bool).toBe(true);
  expect(out.counts).toMatchObject({ pool: 1 });
  expect(out.events).toBe(1);
  expect(out.bad).toEqual({
    Status: 'Failure',
    ErrorDescription: ['HANDLE_INVALID', 'VM', 'OpaqueRef:nope'],
  });
  expect(out.pool).toMatch(/^OpaqueRef:/);
});
