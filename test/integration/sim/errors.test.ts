/**
 * Core error paths over the wire, each with its code and parameter order (toolkit/src/xenapi/NOTES.md §1.5,
 * toolkit/src/xenapi/model/errors.json).
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { fails, login, ok, start } from './helpers.js';
import type { RunningSimulator } from './helpers.js';

let sim: RunningSimulator;
let s: string;
let pool: string;
beforeAll(async () => {
  sim = await start();
  s = await login(sim.url);
  [pool = ''] = await ok<string[]>(sim.url, 'pool.get_all', s);
});
afterAll(async () => {
  await sim.close();
});

test('maps: add_to twice is MAP_DUPLICATE_KEY [class, field, uuid, key]; remove_from a missing key is fine', async () => {
  const uuid = await ok<string>(sim.url, 'pool.get_uuid', s, pool);
  await ok(sim.url, 'pool.add_to_other_config', s, pool, 'lab', '1');
  expect(await fails(sim.url, 'pool.add_to_other_config', s, pool, 'lab', '2')).toEqual([
    'MAP_DUPLICATE_KEY',
    'pool',
    'other_config',
    uuid,
    'lab',
  ]);
  await ok(sim.url, 'pool.remove_from_other_config', s, pool, 'lab');
  await ok(sim.url, 'pool.remove_from_other_config', s, pool, 'lab');
  expect(await ok<Record<string, string>>(sim.url, 'pool.get_other_config', s, pool)).not.toHaveProperty(
    'lab',
  );
});

test('sets: add is idempotent, remove takes the value out', async () => {
  await ok(sim.url, 'pool.add_tags', s, pool, 'a');
  await ok(sim.url, 'pool.add_tags', s, pool, 'a');
  expect(await ok(sim.url, 'pool.get_tags', s, pool)).toEqual(['a']);
  await ok(sim.url, 'pool.remove_tags', s, pool, 'a');
  expect(await ok(sim.url, 'pool.get_tags', s, pool)).toEqual([]);
});

test('read-only fields have no setter: MESSAGE_METHOD_UNKNOWN', async () => {
  expect(await fails(sim.url, 'pool.set_master', s, pool, pool)).toEqual([
    'MESSAGE_METHOD_UNKNOWN',
    'pool.set_master',
  ]);
});

test('an enum value outside the enum is INVALID_VALUE [param, value]; a wrong type FIELD_TYPE_ERROR [param]', async () => {
  const [net] = await ok<string[]>(sim.url, 'network.get_all', s);
  expect(await fails(sim.url, 'network.set_default_locking_mode', s, net, 'sideways')).toEqual([
    'INVALID_VALUE',
    'value',
    'sideways',
  ]);
  expect(await fails(sim.url, 'pool.set_ha_allow_overcommit', s, pool, 'perhaps')).toEqual([
    'FIELD_TYPE_ERROR',
    'value',
  ]);
  // enums are matched case-insensitively, as xapi's generated unmarshallers do
  await ok(sim.url, 'network.set_default_locking_mode', s, net, 'DISABLED');
  expect(await ok(sim.url, 'network.get_default_locking_mode', s, net)).toBe('disabled');
});

test('get_all_records_where: the grammar works and a syntax error is INTERNAL_ERROR', async () => {
  const hosts = await ok<Record<string, unknown>>(
    sim.url,
    'host.get_all_records_where',
    s,
    'field "name__label"="xcp-ng-01" or field "hostname"="xcp-ng-03"',
  );
  expect(Object.keys(hosts)).toHaveLength(2);
  const [code, detail] = await fails(sim.url, 'host.get_all_records_where', s, 'field "name__label"');
  expect(code).toBe('INTERNAL_ERROR');
  expect(detail).toContain('Db_filter');
});

test('a datamodel message no module implements answers NOT_IMPLEMENTED [Class.message]', async () => {
  const missing = sim.sim.engine
    .methods()
    .find((m) => m.source === 'missing' && m.needsSession && m.params.length === 0);
  expect(missing, 'every datamodel message is implemented: pick another error to test').toBeDefined();
  const name = missing?.full ?? '';
  expect(await fails(sim.url, name, s)).toEqual(['NOT_IMPLEMENTED', name]);
  expect(sim.sim.engine.listMethods()).not.toContain(name);
});

test('the session argument is checked after arity: a bad session with the right arity is SESSION_INVALID', async () => {
  expect(await fails(sim.url, 'pool.get_record', 'OpaqueRef:bad', pool)).toEqual([
    'SESSION_INVALID',
    'OpaqueRef:bad',
  ]);
  expect(await fails(sim.url, 'pool.get_record', 'OpaqueRef:bad')).toEqual([
    'MESSAGE_PARAMETER_COUNT_MISMATCH',
    'pool.get_record',
    '1',
    '0',
  ]);
});
