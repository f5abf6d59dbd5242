import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue, findMessage, parseType } from './normalise.js';
import { XapiDouble } from './wire-values.js';

// One VM record as XAPI sends it over each transport (ints untyped over XML-RPC, numbers over JSON-RPC).
const overXmlRpc = {
  name_label: 'web',
  power_state: 'Halted',
  memory_static_max: '4294967296',
  VCPUs_max: '2',
  is_a_template: false,
  snapshot_time: new Date(Date.UTC(1970, 0, 1)),
  start_delay: '0',
  other_config: { k: 'v' },
  VBDs: ['OpaqueRef:b1'],
  blocked_operations: {},
  unknown_future_field: 'kept',
};
const overJsonRpc = {
  ...overXmlRpc,
  memory_static_max: 4294967296,
  VCPUs_max: 2,
  snapshot_time: '19700101T00:00:00Z',
  start_delay: 0,
};

describe('datamodel normalisation', () => {
  it('gives the same VM record whichever transport carried it', () => {
    const a = decodeValue('VM record', overXmlRpc);
    const b = decodeValue('VM record', overJsonRpc);
    expect(a).toEqual(b);
    expect(a).toMatchObject({ memory_static_max: 4294967296, VCPUs_max: 2, snapshot_time: new Date(0) });
    expect(a).toMatchObject({ unknown_future_field: 'kept' });
  });

  it('normalises get_all_records maps of records by class', () => {
    const out = decodeValue('(VM ref -> VM record) map', { 'OpaqueRef:v': overXmlRpc }) as Record<
      string,
      { VCPUs_max: unknown }
    >;
    expect(out['OpaqueRef:v']?.VCPUs_max).toBe(2);
  });

  it('turns floats, bools, sets and nested maps into JS values', () => {
    expect(decodeValue('float', '0.5')).toBe(0.5);
    expect(decodeValue('float', 'NaN')).toBeNaN();
    expect(decodeValue('bool', '1')).toBe(true);
    expect(decodeValue('int set', ['1', '2'])).toEqual([1, 2]);
    expect(decodeValue('(int -> float) map', { '0': '0.25' })).toEqual({ '0': 0.25 });
    expect(decodeValue('(string -> (string -> string) map) map', { a: { b: 'c' } })).toEqual({
      a: { b: 'c' },
    });
    expect(decodeValue('void', '')).toBeUndefined();
  });

  it('leaves a value that does not fit its type as it came', () => {
    expect(decodeValue('int', 'not-a-number')).toBe('not-a-number');
    expect(decodeValue('datetime', 'never')).toBe('never');
  });

  it('normalises event batches: snapshots by their (lowercase) class, counts as numbers', () => {
    const batch = decodeValue('an event batch', {
      events: [
        {
          id: '7',
          timestamp: '0.0',
          class: 'vm',
          operation: 'mod',
          ref: 'OpaqueRef:v',
          snapshot: overXmlRpc,
        },
      ],
      valid_ref_counts: { vm: 3 },
      token: '00000000000000000007,00000000000000000000',
    }) as { events: { snapshot: { VCPUs_max: unknown } }[]; valid_ref_counts: Record<string, unknown> };
    expect(batch.events[0]?.snapshot.VCPUs_max).toBe(2);
    expect(batch.valid_ref_counts.vm).toBe(3);
  });

  it('parses nested type strings', () => {
    expect(parseType('(VM ref -> (string -> string) map) map')).toEqual({
      k: 'map',
      key: { k: 'ref', cls: 'VM' },
      value: { k: 'map', key: { k: 'string' }, value: { k: 'string' } },
    });
    expect(parseType('enum vm_power_state set')).toEqual({
      k: 'set',
      of: { k: 'enum', name: 'vm_power_state' },
    });
  });

  // The simulator once had its own parser, which read these three datamodel types differently (#17).
  it('parses options and the class-less record of legacy event snapshots', () => {
    expect(parseType('string option')).toEqual({ k: 'option', of: { k: 'string' } });
    expect(parseType('sr_stat record option')).toEqual({
      k: 'option',
      of: { k: 'record', cls: 'sr_stat' },
    });
    expect(parseType('<class> record')).toEqual({ k: 'record', cls: undefined });
  });

  it('encodes float arguments as doubles, also inside records', () => {
    expect(encodeValue('float', 30)).toEqual(new XapiDouble(30));
    expect(encodeValue('int', 30)).toBe(30);
    const rec = encodeValue('VM record', {
      name_label: 'x',
      VCPUs_at_startup: 1,
      HVM_shadow_multiplier: 1,
    }) as Record<string, unknown>;
    expect(rec.HVM_shadow_multiplier).toEqual(new XapiDouble(1));
    expect(rec.VCPUs_at_startup).toBe(1);
  });

  it('finds messages by wire name, alternative wire name and class in any case', () => {
    expect(findMessage('VM.start')?.r).toBe('void');
    expect(findMessage('VM_start')?.n).toBe('start');
    expect(findMessage('vm.clone')?.r).toBe('VM ref');
    expect(findMessage('system.listMethods')).toBeUndefined();
  });
});
