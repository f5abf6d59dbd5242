/**
 * Fields the datamodel marks Removed: xapi keeps them in every record (its generated record types and database
 * schema hold all fields, ocaml/idl/ocaml_backend/gen_api.ml, datamodel_schema.ml), with their defaults or what xapi
 * still writes there (host_metrics.memory_free from rrdd, monitor_mem.ml; VM_metrics.VCPUs_utilisation {0: 0.},
 * xapi_vm.ml `create`).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runXe } from '../xe/harness.js';
import { login, ok, post, start, v, xmlCall, type RunningSimulator } from './helpers.js';

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

describe('Removed fields stay in records', () => {
  test('host_metrics.memory_free is sent, filled in from the free memory (JSON-RPC and XML-RPC)', async () => {
    const [host] = await ok<string[]>(sim.url, 'host.get_all', s);
    const m = await ok<string>(sim.url, 'host.get_metrics', s, host);
    const rec = await ok<Record<string, unknown>>(sim.url, 'host_metrics.get_record', s, m);
    expect(Object.keys(rec)).toEqual([
      'uuid',
      'memory_total',
      'memory_free',
      'live',
      'last_updated',
      'other_config',
    ]);
    expect(rec.memory_free).toBeGreaterThan(0);
    expect(rec.memory_free).toBeLessThan(rec.memory_total as number);
    const xml = await post(sim.url, xmlCall('host_metrics.get_record', v(s), v(m)));
    expect(xml.text).toContain(
      `<member><name>memory_free</name><value>${String(rec.memory_free)}</value></member>`,
    );
    const all = await ok<Record<string, Record<string, unknown>>>(sim.url, 'host_metrics.get_all_records', s);
    expect(all[m]?.memory_free).toBe(rec.memory_free);
  });

  test('VM_metrics.VCPUs_utilisation is {0: 0.} as xapi writes it; VM.is_snapshot_from_vmpp is false', async () => {
    const vm = await ok<string>(sim.url, 'VM.clone', s, await debian(), 'removed-fields');
    const m = await ok<string>(sim.url, 'VM.get_metrics', s, vm);
    const rec = await ok<Record<string, unknown>>(sim.url, 'VM_metrics.get_record', s, m);
    expect(rec.VCPUs_utilisation).toEqual({ '0': 0 });
    const xml = await post(sim.url, xmlCall('VM_metrics.get_record', v(s), v(m)));
    expect(xml.text).toContain(
      '<member><name>VCPUs_utilisation</name><value><struct><member><name>0</name><value><double>0</double></value></member></struct></value></member>',
    );
    const vmRec = await ok<Record<string, unknown>>(sim.url, 'VM.get_record', s, vm);
    expect(vmRec.is_snapshot_from_vmpp).toBe(false);
    const gmFields = sim.sim.engine.fields('VM_guest_metrics');
    expect(gmFields).toContain('memory');
    expect(gmFields).toContain('disks');
    await ok(sim.url, 'VM.destroy', s, vm);
  });

  test('xe host-list params=memory-free prints host_metrics.memory_free (records.ml), as real xe does', async () => {
    const [host] = await ok<string[]>(sim.url, 'host.get_all', s);
    const uuid = await ok<string>(sim.url, 'host.get_uuid', s, host);
    const m = await ok<string>(sim.url, 'host.get_metrics', s, host);
    const { memory_free: free } = await ok<{ memory_free: number }>(sim.url, 'host_metrics.get_record', s, m);
    const port = new URL(sim.url).port;
    const r = await runXe([
      '-s',
      '127.0.0.1',
      '-p',
      port,
      '-u',
      'root',
      '-pw',
      'xenlab',
      'host-list',
      `uuid=${uuid}`,
      'params=memory-free',
      '--minimal',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(String(free));
  });
});
