import { describe, expect, test } from 'vitest';
import { XapiFailure } from './contract.js';
import type { Loose } from './codec.js';
import {
  WireDate,
  decodeValue,
  encodeJson,
  encodeXml,
  formatG16,
  formatJsonFloat,
  jsonToLoose,
  parseXmlRpcCall,
} from './codec.js';
import { XmlParseError, parseXml } from './xml.js';
import { formatDateTime, parseDateTime, parseType } from './wire-types.js';

const xml = (type: string, value: unknown): string => {
  const out: string[] = [];
  encodeXml(parseType(type), value, out);
  return out.join('');
};
const json = (type: string, value: unknown): string => {
  const out: string[] = [];
  encodeJson(parseType(type), value, out);
  return out.join('');
};

describe('XML-RPC serializer (ocaml-rpc xmlrpc.ml bytes)', () => {
  test('strings and ints are untyped, markup escaped, control characters dropped', () => {
    expect(xml('string', 'a<b>&"c"\u0001')).toBe('<value>a&lt;b&gt;&amp;&quot;c&quot;</value>');
    expect(xml('string', '')).toBe('<value></value>');
    expect(xml('int', 4294967296)).toBe('<value>4294967296</value>');
    expect(xml('int', -1)).toBe('<value>-1</value>');
  });
  test('floats use %.16g, bools 1/0, datetimes YYYYMMDDThh:mm:ssZ', () => {
    expect(xml('float', 0.1)).toBe('<value><double>0.1</double></value>');
    expect(xml('float', 1)).toBe('<value><double>1</double></value>');
    expect(xml('float', 1326210000)).toBe('<value><double>1326210000</double></value>');
    expect(xml('bool', true)).toBe('<value><boolean>1</boolean></value>');
    expect(xml('bool', false)).toBe('<value><boolean>0</boolean></value>');
    expect(xml('datetime', new Date(Date.UTC(2025, 2, 19, 4, 16, 24, 900)))).toBe(
      '<value><dateTime.iso8601>20250319T04:16:24Z</dateTime.iso8601></value>',
    );
  });
  test('sets, maps and enums', () => {
    expect(xml('VM ref set', ['OpaqueRef:a', 'OpaqueRef:b'])).toBe(
      '<value><array><data><value>OpaqueRef:a</value><value>OpaqueRef:b</value></data></array></value>',
    );
    expect(xml('(string -> string) map', { k: 'v' })).toBe(
      '<value><struct><member><name>k</name><value>v</value></member></struct></value>',
    );
    expect(xml('enum vm_power_state', 'Running')).toBe('<value>Running</value>');
    expect(xml('(int -> int) map', { 0: 3 })).toBe(
      '<value><struct><member><name>0</name><value>3</value></member></struct></value>',
    );
  });
  test('records list every live field in datamodel order, defaults filling gaps', () => {
    const out = xml('console record', { uuid: 'u', VM: 'OpaqueRef:v' });
    expect(out).toBe(
      '<value><struct><member><name>uuid</name><value>u</value></member><member><name>protocol</name><value>vt100</value></member><member><name>location</name><value></value></member><member><name>VM</name><value>OpaqueRef:v</value></member><member><name>other_config</name><value><struct></struct></value></member></struct></value>',
    );
  });
});

describe('the types the simulator once parsed apart from the toolkit (#17)', () => {
  test('an option travels as its value, typed', () => {
    expect(json('string option', 'u')).toBe('"u"');
    expect(xml('sr_stat record option', { name_label: 's' })).toContain(
      '<member><name>free_space</name><value>0</value></member>',
    );
    expect(decodeValue(parseType('string option'), 'u', 'uuid')).toBe('u');
  });
  test('a legacy event snapshot (`<class> record`) is typed by the class it names', () => {
    const snapshot = { cls: 'console', record: { uuid: 'u', VM: 'OpaqueRef:v' } };
    expect(xml('<class> record', snapshot)).toBe(xml('console record', snapshot.record));
    expect(json('<class> record', snapshot)).toBe(json('console record', snapshot.record));
    expect(json('<class> record', undefined)).toBe('{}');
  });
});

describe('%.16g', () => {
  test.each([
    [0, '0'],
    [0.5, '0.5'],
    [1e-5, '1e-05'],
    [123456789012345680, '1.234567890123457e+17'],
    [1 / 3, '0.3333333333333333'],
    [NaN, 'nan'],
    [-Infinity, '-inf'],
    [2.5e16, '2.5e+16'],
    [1e15, '1000000000000000'],
  ])('%s → %s', (x, s) => {
    expect(formatG16(x)).toBe(s);
  });
  test('JSON floats always show a fraction (Yojson)', () => {
    expect(formatJsonFloat(1)).toBe('1.0');
    expect(formatJsonFloat(0.25)).toBe('0.25');
    expect(formatJsonFloat(0.1 + 0.2)).toBe('0.30000000000000004');
    expect(json('float', 0)).toBe('0.0');
  });
});

describe('JSON-RPC serializer', () => {
  test('ints as numbers, datetimes as XAPI strings, records as objects', () => {
    expect(json('int', 7)).toBe('7');
    expect(json('datetime', new Date(0))).toBe('"19700101T00:00:00Z"');
    expect(json('string set', ['a', 'b'])).toBe('["a","b"]');
    expect(json('(string -> string) map', { 'a"b': 'c' })).toBe('{"a\\"b":"c"}');
  });
});

describe('XML-RPC request parser', () => {
  test('decodes every XML-RPC value kind', () => {
    const call = parseXmlRpcCall(
      '<?xml version="1.0"?><methodCall><methodName>x.y</methodName><params>' +
        '<param><value>plain</value></param><param><value><string>s</string></value></param><param><value/></param>' +
        '<param><value><i4>4</i4></value></param><param><value><double>1.5</double></value></param>' +
        '<param><value><boolean>1</boolean></value></param><param><value><dateTime.iso8601>20250101T00:00:00Z</dateTime.iso8601></value></param>' +
        '<param><value><array><data><value>a</value></data></array></value></param>' +
        '<param><value><struct><member><name>k</name><value>v</value></member></struct></value></param>' +
        '<param><value><nil/></value></param><param><value><![CDATA[<raw>]]></value></param>' +
        '</params></methodCall>',
    );
    expect(call.method).toBe('x.y');
    expect(call.params).toEqual([
      'plain',
      's',
      '',
      4,
      1.5,
      true,
      new WireDate('20250101T00:00:00Z'),
      ['a'],
      new Map([['k', 'v']]),
      null,
      '<raw>',
    ]);
  });
  test('rejects DOCTYPE, unknown entities, excessive depth, wrong roots', () => {
    expect(() => parseXml('<!DOCTYPE x><a/>')).toThrow(XmlParseError);
    expect(() => parseXml('<a>&foo;</a>')).toThrow(/undefined entity/);
    expect(() => parseXml(`${'<a>'.repeat(65)}${'</a>'.repeat(65)}`)).toThrow(/nesting deeper than 64/);
    expect(() => parseXml('<a></b>')).toThrow(XmlParseError);
    expect(() => parseXml('<a/><b/>')).toThrow(/more than one root/);
    expect(() => parseXmlRpcCall('<methodResponse/>')).toThrow(/methodCall/);
    expect(parseXml('<a>&#65;&#x42;&lt;</a>').text).toBe('AB<');
  });
  test('struct members become Map keys, so __proto__ is data', () => {
    const call = parseXmlRpcCall(
      '<methodCall><methodName>m</methodName><params><param><value><struct><member><name>__proto__</name><value>x</value></member></struct></value></param></params></methodCall>',
    );
    const m = call.params[0] as ReadonlyMap<string, Loose>;
    expect(m.get('__proto__')).toBe('x');
    const decoded = decodeValue(parseType('(string -> string) map'), m, 'value') as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBeNull();
    expect(Object.keys(decoded)).toEqual(['__proto__']);
  });
});

describe('decoding by datamodel type', () => {
  test('ints accept numbers and digit strings, not words', () => {
    expect(decodeValue(parseType('int'), '42', 'n')).toBe(42);
    expect(() => decodeValue(parseType('int'), 'many', 'n')).toThrow(XapiFailure);
  });
  test('enums are case-insensitive and canonicalised; unknown values are INVALID_VALUE', () => {
    expect(decodeValue(parseType('enum vm_power_state'), 'running', 'p')).toBe('Running');
    try {
      decodeValue(parseType('enum vm_power_state'), 'flying', 'p');
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'INVALID_VALUE', params: ['p', 'flying'] });
    }
  });
  test('datetimes with or without hyphens and zone', () => {
    const d = Date.UTC(2025, 0, 2, 3, 4, 5);
    for (const s of [
      '20250102T03:04:05Z',
      '2025-01-02T03:04:05Z',
      '20250102T03:04:05',
      '2025-01-02T04:04:05+01:00',
    ])
      expect(parseDateTime(s)?.getTime()).toBe(d);
    expect(formatDateTime(new Date(d))).toBe('20250102T03:04:05Z');
  });
  test('JSON objects become Maps and deep JSON is refused', () => {
    expect(jsonToLoose(JSON.parse('{"__proto__":1}'))).toEqual(new Map([['__proto__', 1]]));
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => jsonToLoose(deep)).toThrow(/too deeply/);
  });
});
