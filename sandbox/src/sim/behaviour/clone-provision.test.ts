import { describe, expect, it } from 'vitest';
import { XapiFailure } from '../contract.js';
import { int64OfString, parseProvisionXml, parseXmlm } from './clone-provision.js';

/** The failure parseProvisionXml throws, as [code, ...params]. */
function failure(xml: string): string[] {
  try {
    parseProvisionXml(xml);
  } catch (e) {
    if (e instanceof XapiFailure) return [e.code, ...e.params];
    throw e;
  }
  throw new Error(`accepted: ${xml}`);
}
const xmlError = (message: string, line = 1): string[] => [
  'INTERNAL_ERROR',
  `XML Error: ${message} line ${String(line)}`,
];
const SHAPE = ['INTERNAL_ERROR', 'Xapi_templates.Parse_failure'];

describe('provision XML: any well-formed document xmlm reads', () => {
  it('takes an XML declaration, single quotes, comments, PIs, newlines and a DOCTYPE', () => {
    expect(
      parseProvisionXml(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\r\n<!DOCTYPE provision>\n<!-- made by hand -->\n" +
          "<provision>\n\t<disk device='0' size='10737418240' sr='6b0c2f54' bootable='true' type='system'/>\n" +
          '  <?note ignored?><disk device="1" size="0x400" sr="" bootable="false" type="user"></disk>\n</provision>\n',
      ),
    ).toEqual([
      { device: '0', size: 10737418240, sr: '6b0c2f54', bootable: true, type: 'system' },
      { device: '1', size: 1024, sr: '', bootable: false, type: 'user' },
    ]);
  });

  it('reads attributes as xmlm does: references expanded, whitespace trimmed and collapsed, first one wins', () => {
    expect(
      parseProvisionXml(
        '<provision><disk device=" 1\n 2 " size="1_048_576" sr="&#x61;&amp;&lt;" bootable="true" sr="second" ' +
          'type="suspend"/></provision>',
      ),
    ).toEqual([{ device: '1 2', size: 1048576, sr: 'a&<', bootable: true, type: 'suspend' }]);
  });

  it('an unknown or missing type is system; bootable is true only for "true"; nothing after the root is read', () => {
    expect(
      parseProvisionXml(
        '<provision><disk device="0" size="1" sr="" bootable="yes" type="fancy"/></provision><trailing',
      ),
    ).toEqual([{ device: '0', size: 1, sr: '', bootable: false, type: 'system' }]);
    expect(parseProvisionXml('<provision/>')).toEqual([]);
  });

  it('keeps local names (namespace prefixes dropped once bound)', () => {
    const root = parseXmlm('<p:provision xmlns:p="urn:x"><p:disk p:device="0"/></p:provision>');
    expect(root.name).toBe('provision');
    expect(root.attrs).toEqual([['p', 'urn:x']]);
    expect(root.children).toEqual([{ name: 'disk', attrs: [['device', '0']], children: [] }]);
  });
});

describe('provision XML: xapi errors', () => {
  it('a document xmlm refuses is INTERNAL_ERROR ["XML Error: <xmlm message> line <n>"]', () => {
    expect(failure('')).toEqual(xmlError('unexpected end of input'));
    expect(failure('  \n ')).toEqual(xmlError('unexpected end of input', 2));
    expect(failure('hello')).toEqual(xmlError('expected root element'));
    expect(failure('<provision>\n<disk device="0"/>\n')).toEqual(xmlError('unexpected end of input', 3));
    expect(failure('<provision></disk>')).toEqual(
      xmlError('expected one of these character sequence: "provision", found "disk"'),
    );
    expect(failure('<provision><disk device=0/></provision>')).toEqual(
      xmlError('expected one of these character sequence: """, "\'", found "0"'),
    );
    expect(failure('<provision><disk device="0"size="1"/></provision>')).toEqual(
      xmlError('expected one of these character sequence: "/", ">", found "s"'),
    );
    expect(failure('<provision><disk sr="&nbsp;"/></provision>')).toEqual(
      xmlError('unknown entity reference (nbsp)'),
    );
    expect(failure('<provision><disk sr="&#xZ;"/></provision>')).toEqual(
      xmlError('illegal character reference (#xZZ)'),
    );
    expect(failure('<provision><disk sr="a<b"/></provision>')).toEqual(
      xmlError('character sequence illegal here ("<")'),
    );
    expect(failure('<?xml version="2.0"?><provision/>')).toEqual(
      xmlError('expected one of these character sequence: "1.0", "1.1", found "2.0"'),
    );
    expect(failure(' <?xml version="1.0"?><provision/>')).toEqual(
      xmlError('character sequence illegal here ("xml")'),
    );
    expect(failure('<?xml version="1.0" encoding="ebcdic"?><provision/>')).toEqual(
      xmlError('unknown encoding (ebcdic)'),
    );
    expect(failure('<!-- a -- b --><provision/>')).toEqual(
      xmlError('expected one of these character sequence: ">", found " "'),
    );
    expect(failure('<x:provision/>')).toEqual(xmlError('unknown namespace prefix (x)'));
    expect(failure('<provision>\u0001</provision>')).toEqual(xmlError('malformed character stream'));
  });

  it('a well-formed document of the wrong shape is INTERNAL_ERROR ["Xapi_templates.Parse_failure"]', () => {
    expect(failure('<disks/>')).toEqual(SHAPE);
    expect(failure('<provision version="1"/>')).toEqual(SHAPE);
    expect(failure('<provision xmlns="urn:x"/>')).toEqual(SHAPE);
    expect(failure('<provision>text</provision>')).toEqual(SHAPE);
    expect(failure('<provision><![CDATA[x]]></provision>')).toEqual(SHAPE);
    // Text of spaces only is dropped, even from CDATA (xml.ml `is_empty`).
    expect(parseProvisionXml('<provision><![CDATA[ ]]></provision>')).toEqual([]);
    expect(
      failure('<provision><disk device="0" size="1" sr="" bootable="true"><x/></disk></provision>'),
    ).toEqual(SHAPE);
    expect(failure('<provision><disk device="0" size="1" sr=""/></provision>')).toEqual(SHAPE);
    expect(failure('<provision><disk device="0" size="1GiB" sr="" bootable="true"/></provision>')).toEqual(
      SHAPE,
    );
  });
});

describe("OCaml's Int64.of_string", () => {
  it('reads decimal, hex, octal and binary with underscores and a sign; refuses the rest', () => {
    expect(int64OfString('10737418240')).toBe(10737418240);
    expect(int64OfString('-5')).toBe(-5);
    expect(int64OfString('+5')).toBe(5);
    expect(int64OfString('0x1F')).toBe(31);
    expect(int64OfString('0o17')).toBe(15);
    expect(int64OfString('0b101')).toBe(5);
    expect(int64OfString('1_000')).toBe(1000);
    for (const bad of ['', ' 1', '1 ', '_1', '1e3', '0x', '9223372036854775808', '1.5'])
      expect(int64OfString(bad), bad).toBeUndefined();
  });
});
