import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeMethodCall,
  decodeMethodResponse,
  decodeXmlRpcValue,
  encodeMethodCall,
  encodeMethodResponse,
} from './xmlrpc-codec.js';
import { XapiDouble } from './wire-values.js';

const wrap = (value: string): string =>
  `<?xml version="1.0"?><methodResponse><params><param>${value}</param></params></methodResponse>`;

describe('XML-RPC encoding of a call (what XAPI receives)', () => {
  const savedTz = process.env.TZ;
  afterEach(() => {
    if (savedTz === undefined) delete process.env.TZ;
    else process.env.TZ = savedTz;
  });

  it('writes dates as UTC YYYYMMDDThh:mm:ssZ whatever the local time zone', () => {
    process.env.TZ = 'America/New_York';
    const xml = encodeMethodCall('message.get_since', [
      'OpaqueRef:s',
      new Date(Date.UTC(2025, 2, 19, 4, 16, 24)),
    ]);
    expect(xml).toContain('<value><dateTime.iso8601>20250319T04:16:24Z</dateTime.iso8601></value>');
  });

  it('writes a float as <double> even when it is a whole number', () => {
    const xml = encodeMethodCall('event.from', ['OpaqueRef:s', ['vm'], '', new XapiDouble(30)]);
    expect(xml).toContain('<value><double>30.0</double></value>');
    expect(encodeMethodCall('m', [0.25])).toContain('<double>0.25</double>');
  });

  it('writes ints that fit i4 as <int> and larger ones as digit strings', () => {
    const xml = encodeMethodCall('VM.set_memory_static_max', ['OpaqueRef:s', 'OpaqueRef:v', 4294967296, 2]);
    expect(xml).toContain('<value><string>4294967296</string></value>');
    expect(xml).toContain('<value><int>2</int></value>');
    expect(encodeMethodCall('m', [2n ** 62n])).toContain('<string>4611686018427387904</string>');
  });

  it('writes booleans, structs, arrays and escapes markup', () => {
    const xml = encodeMethodCall('VM.set_other_config', [{ a: 'x<y&z', on: true }, ['p', 'q']]);
    expect(xml).toContain('<boolean>1</boolean>');
    expect(xml).toContain('<member><name>a</name><value><string>x&lt;y&amp;z</string></value></member>');
    expect(xml).toContain(
      '<array><data><value><string>p</string></value><value><string>q</string></value></data></array>',
    );
  });

  it('round-trips through the decoder with the method name and values intact', async () => {
    const when = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
    const decoded = await decodeMethodCall(
      encodeMethodCall('VM.clone', ['OpaqueRef:s', 'OpaqueRef:v', 'copy', new XapiDouble(1.5), when]),
    );
    expect(decoded).toEqual({
      method: 'VM.clone',
      params: ['OpaqueRef:s', 'OpaqueRef:v', 'copy', 1.5, when],
    });
  });
});

describe('XML-RPC decoding of what XAPI sends (ocaml-rpc xmlrpc.ml)', () => {
  it('reads untyped <value> text (strings and ints alike) as strings', async () => {
    expect(await decodeMethodResponse(wrap('<value>4294967296</value>'))).toBe('4294967296');
    expect(await decodeMethodResponse(wrap('<value>Halted</value>'))).toBe('Halted');
    expect(await decodeMethodResponse(wrap('<value></value>'))).toBe('');
    expect(await decodeMethodResponse(wrap('<value/>'))).toBe('');
  });

  it('reads typed doubles, booleans, i4 and i8', async () => {
    expect(await decodeMethodResponse(wrap('<value><double>0.75</double></value>'))).toBe(0.75);
    expect(await decodeMethodResponse(wrap('<value><boolean>1</boolean></value>'))).toBe(true);
    expect(await decodeMethodResponse(wrap('<value><i4>12</i4></value>'))).toBe(12);
    expect(await decodeMethodResponse(wrap('<value><i8>9007199254740993</i8></value>'))).toBe(
      '9007199254740993',
    );
  });

  it('reads datetimes as UTC, with or without the Z', async () => {
    const withZ = await decodeMethodResponse(
      wrap('<value><dateTime.iso8601>20250319T04:16:24Z</dateTime.iso8601></value>'),
    );
    const noZone = await decodeMethodResponse(
      wrap('<value><dateTime.iso8601>20250319T04:16:24</dateTime.iso8601></value>'),
    );
    expect((withZ as Date).toISOString()).toBe('2025-03-19T04:16:24.000Z');
    expect((noZone as Date).toISOString()).toBe('2025-03-19T04:16:24.000Z');
  });

  it('reads a XAPI Failure envelope as a struct with ErrorDescription', async () => {
    const body = wrap(
      '<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name>' +
        '<value><array><data><value>HANDLE_INVALID</value><value>VM</value><value>OpaqueRef:x</value></data></array></value>' +
        '</member></struct></value>',
    );
    expect(await decodeMethodResponse(body)).toEqual({
      Status: 'Failure',
      ErrorDescription: ['HANDLE_INVALID', 'VM', 'OpaqueRef:x'],
    });
  });

  it('rejects malformed XML with an error instead of crashing', async () => {
    await expect(decodeMethodResponse('<methodResponse><params><param><value>')).rejects.toThrow();
    await expect(decodeMethodResponse('HTTP 500 internal server error')).rejects.toThrow();
  });

  it('decodes the bare XML-RPC value XAPI stores in task.result', async () => {
    expect(await decodeXmlRpcValue('<value>OpaqueRef:1234</value>')).toBe('OpaqueRef:1234');
    expect(await decodeXmlRpcValue('')).toBeUndefined();
    expect(await decodeXmlRpcValue('<value><array><data><value>a</value></data></array></value>')).toEqual([
      'a',
    ]);
  });

  it('encodes a response the decoder reads back', async () => {
    const value = { Status: 'Success', Value: { n: 'x', f: new XapiDouble(2), l: ['1', '2'] } };
    expect(await decodeMethodResponse(encodeMethodResponse(value))).toEqual({
      Status: 'Success',
      Value: { n: 'x', f: 2, l: ['1', '2'] },
    });
  });
});
