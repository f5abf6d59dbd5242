/**
 * Messages the datamodel marks Removed are still dispatched: ocaml/idl/ocaml_backend/gen_server.ml matches them,
 * checks the arity and the session, and answers MESSAGE_REMOVED [] without reading the other arguments.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fails, login, ok, post, start, v, xmlCall, type RunningSimulator } from './helpers.js';

let sim: RunningSimulator;
let s = '';
beforeAll(async () => {
  sim = await start({ seed: 'removed' });
  s = await login(sim.url);
});
afterAll(async () => {
  await sim.close();
});

const debian = async (): Promise<string> => {
  const [t] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'Debian Bookworm 12');
  return t ?? '';
};

describe('Removed messages answer MESSAGE_REMOVED', () => {
  test('after the arity and session checks, whatever the arguments (JSON-RPC and XML-RPC)', async () => {
    const [host] = await ok<string[]>(sim.url, 'host.get_all', s);
    const m = await ok<string>(sim.url, 'host.get_metrics', s, host);
    expect(await fails(sim.url, 'host_metrics.get_memory_free', s, m)).toEqual(['MESSAGE_REMOVED']);
    // The other arguments are never read: a bad ref is no HANDLE_INVALID here.
    expect(await fails(sim.url, 'VM_metrics.get_VCPUs_utilisation', s, 'OpaqueRef:nonsense')).toEqual([
      'MESSAGE_REMOVED',
    ]);
    expect(await fails(sim.url, 'host_metrics.get_memory_free', s)).toEqual([
      'MESSAGE_PARAMETER_COUNT_MISMATCH',
      'host_metrics.get_memory_free',
      '1',
      '0',
    ]);
    expect(await fails(sim.url, 'host_metrics.get_memory_free', 'OpaqueRef:bad', m)).toEqual([
      'SESSION_INVALID',
      'OpaqueRef:bad',
    ]);
    const xml = await post(sim.url, xmlCall('VM.get_is_snapshot_from_vmpp', v(s), v(await debian())));
    expect(xml.status).toBe(200);
    expect(xml.text).toContain(
      '<member><name>ErrorDescription</name><value><array><data><value>MESSAGE_REMOVED</value></data></array></value></member>',
    );
  });

  test('whole removed classes too (VMPP), and Class_message and Async. spellings', async () => {
    expect(await fails(sim.url, 'VMPP.get_all', s)).toEqual(['MESSAGE_REMOVED']);
    expect(await fails(sim.url, 'VMPP_get_all_records', s)).toEqual(['MESSAGE_REMOVED']);
    expect(await fails(sim.url, 'Async.VM.set_protection_policy', s, 'OpaqueRef:x', 'OpaqueRef:y')).toEqual([
      'MESSAGE_REMOVED',
    ]);
    expect(await fails(sim.url, 'VM.no_such_thing', s)).toEqual([
      'MESSAGE_METHOD_UNKNOWN',
      'VM.no_such_thing',
    ]);
  });
});
