/**
 * The provision XML of a template's `other_config:disks`, read as xapi reads it: ocaml/xapi/xapi_templates.ml
 * `disks_of_xml` over `Xml.parse_string` (ocaml/libs/xml-light2/xml.ml), which is dbuenzli's xmlm underneath.
 *
 * So any well-formed document xmlm takes is fine — an XML declaration, single or double quotes, comments, processing
 * instructions, CDATA, character and the five predefined entity references, a DOCTYPE (skipped, never expanded),
 * namespace prefixes — and the errors are xapi's: a document xmlm refuses is `INTERNAL_ERROR ["XML Error: <xmlm's
 * message> line <n>"]` (the printer xml.ml registers, through exnHelper.ml), a well-formed one of the wrong shape is
 * `INTERNAL_ERROR ["Xapi_templates.Parse_failure"]`. Shape, as `disks_of_xml`/`disk_of_xml` match it: a root
 * `<provision>` with no attribute at all, holding only `<disk/>` elements (text of spaces, tabs and newlines is
 * dropped; comments and PIs never show), each without children and with `device`, `size` (an OCaml `Int64.of_string`:
 * decimal, 0x/0o/0b, underscores, a sign), `sr` and `bootable` (`"true"` or anything else for false); `type` is
 * optional and an unknown one means `system`. The first of two equal attributes wins (`List.assoc`), names lose their
 * namespace prefix (xml.ml keeps the local name), and whatever follows the root element is never read.
 *
 * Not modelled: encodings other than the text the simulator already decoded (an `encoding` declaration is checked
 * for a name xmlm knows, no more), and xmlm's buffer limit.
 */
import { XapiFailure } from '../contract.js';

/** One disk of the provision XML. */
export interface ProvisionDisk {
  readonly device: string;
  readonly size: number;
  readonly sr: string;
  readonly bootable: boolean;
  /** `system`, `user`, `ephemeral`, `suspend` or `crashdump` (xapi_templates.ml `string2vdi_type`). */
  readonly type: string;
}

/** An element of xml.ml's tree: local name, attributes (local names, in order), children. */
export interface XmlNode {
  readonly name: string;
  readonly attrs: readonly (readonly [string, string])[];
  readonly children: readonly (XmlNode | string)[];
}

/** An error xmlm raises: its message (`Xmlm.error_message`) and the line it was found on. */
export class XmlmError extends Error {
  readonly line: number;
  constructor(message: string, line: number) {
    super(message);
    this.name = 'XmlmError';
    this.line = line;
  }
}

const EOI = -1;
const VDI_TYPES = new Set(['system', 'user', 'ephemeral', 'suspend', 'crashdump']);
// Encodings xmlm's `p_xml_decl` accepts by name (`utf-16` only after a byte-order mark).
const ENCODINGS = new Set([
  'utf-8',
  'utf-16be',
  'utf-16le',
  'iso-8859-1',
  'iso-8859-15',
  'us-ascii',
  'ascii',
]);
const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

const inRange = (u: number, a: number, b: number): boolean => a <= u && u <= b;
const isWhite = (u: number): boolean => u === 0x20 || u === 0x09 || u === 0x0d || u === 0x0a;
function isChar(u: number): boolean {
  return (
    inRange(u, 0x20, 0xd7ff) ||
    u === 0x09 ||
    u === 0x0a ||
    u === 0x0d ||
    inRange(u, 0xe000, 0xfffd) ||
    inRange(u, 0x10000, 0x10ffff)
  );
}
function commonRange(u: number): boolean {
  return (
    inRange(u, 0xc0, 0xd6) ||
    inRange(u, 0xd8, 0xf6) ||
    inRange(u, 0xf8, 0x2ff) ||
    inRange(u, 0x370, 0x37d) ||
    inRange(u, 0x37f, 0x1fff) ||
    inRange(u, 0x200c, 0x200d) ||
    inRange(u, 0x2070, 0x218f) ||
    inRange(u, 0x2c00, 0x2fef) ||
    inRange(u, 0x3001, 0xd7ff) ||
    inRange(u, 0xf900, 0xfdcf) ||
    inRange(u, 0xfdf0, 0xfffd) ||
    inRange(u, 0x10000, 0xeffff)
  );
}
const isAsciiLetter = (u: number): boolean => inRange(u, 0x61, 0x7a) || inRange(u, 0x41, 0x5a);
const isNameStart = (u: number): boolean => isAsciiLetter(u) || u === 0x5f || commonRange(u);
const isNameChar = (u: number): boolean =>
  isAsciiLetter(u) ||
  inRange(u, 0x30, 0x39) ||
  u === 0x5f ||
  u === 0x2d ||
  u === 0x2e ||
  u === 0xb7 ||
  commonRange(u) ||
  inRange(u, 0x300, 0x36f) ||
  inRange(u, 0x203f, 0x2040);

type Name = readonly [prefix: string, local: string];
const nameStr = ([p, l]: Name): string => (p === '' ? l : `${p}:${l}`);

/**
 * Parses a document as xml.ml's `parse_string` does (xmlm `input_doc_tree`, whitespace-only text dropped), or
 * throws {@link XmlmError}.
 */
export function parseXmlm(src: string): XmlNode {
  // Characters as code points, line ends normalised as xmlm does (\r\n and a lone \r are \n).
  const cps: number[] = [];
  for (const ch of src) cps.push(ch.codePointAt(0) ?? 0);
  let pos = 0;
  let line = 1;
  let c = 0;
  // Read through a function: TypeScript would otherwise narrow `c` across the calls that move it.
  const cur = (): number => c;
  const fail = (message: string): never => {
    throw new XmlmError(message, line);
  };
  const next = (): void => {
    if (cur() === 0x0a) line++;
    if (pos >= cps.length) {
      c = EOI;
      return;
    }
    let u = cps[pos++] ?? 0;
    if (!isChar(u)) fail('malformed character stream');
    if (u === 0x0d) {
      if (cps[pos] === 0x0a) pos++;
      u = 0x0a;
    }
    c = u;
  };
  // nextc: reading past the end is an error, except where xmlm uses nextc_eof (cur() becomes EOI there).
  const nextc = (): void => {
    if (cur() === EOI) fail('unexpected end of input');
    next();
    if (cur() === EOI && strictEnd) fail('unexpected end of input');
  };
  let strictEnd = true;
  const nextcEof = (): void => {
    strictEnd = false;
    try {
      nextc();
    } finally {
      strictEnd = true;
    }
  };
  const ch = (u: number): string => String.fromCodePoint(u);
  const expected = (exps: readonly string[], found: string): never =>
    fail(`expected one of these character sequence: ${exps.map((e) => `"${e}", `).join('')}found "${found}"`);
  const expectedChars = (exps: readonly number[]): never =>
    expected(exps.map(ch), cur() === EOI ? '' : ch(cur()));
  const accept = (u: number): void => {
    if (cur() === u) nextc();
    else expectedChars([u]);
  };
  const skipWhite = (): void => {
    while (isWhite(cur())) nextc();
  };
  const skipWhiteEof = (): void => {
    while (isWhite(cur())) nextcEof();
  };
  const ncname = (): string => {
    if (!isNameStart(cur())) fail(`character sequence illegal here ("${cur() === EOI ? '' : ch(cur())}")`);
    let s = ch(cur());
    nextc();
    while (isNameChar(cur())) {
      s += ch(cur());
      nextc();
    }
    return s;
  };
  const qname = (): Name => {
    const n = ncname();
    if (cur() !== 0x3a) return ['', n];
    nextc();
    return [n, ncname()];
  };
  const charRef = (): string => {
    // '&#' eaten up to '#'; cur() is '#'.
    nextc();
    if (cur() === 0x3b) fail('illegal character reference (#)');
    let ident = '';
    let code = 0;
    let bad = false;
    // xmlm adds the first bad character to the reported reference twice (once before its check, once after).
    let twice = false;
    const hex = cur() === 0x78;
    if (hex) {
      ident += 'x';
      nextc();
    }
    while (cur() !== 0x3b) {
      ident += ch(cur());
      const d = hex
        ? inRange(cur(), 0x30, 0x39)
          ? cur() - 48
          : inRange(cur(), 0x41, 0x46)
            ? cur() - 55
            : inRange(cur(), 0x61, 0x66)
              ? cur() - 87
              : -1
        : inRange(cur(), 0x30, 0x39)
          ? cur() - 48
          : -1;
      if (d < 0 && !bad) {
        bad = true;
        twice = true;
      }
      if (twice) {
        ident += ch(cur());
        twice = false;
      } else if (!bad) code = Math.min(code * (hex ? 16 : 10) + d, 0x7fffffff);
      nextc();
    }
    nextc();
    if (bad || !isChar(code)) fail(`illegal character reference (#${ident})`);
    return ch(code);
  };
  const reference = (): string => {
    nextc(); // '&'
    if (cur() === 0x23) return charRef();
    const ent = ncname();
    accept(0x3b);
    const v = ENTITIES[ent];
    if (v === undefined) fail(`unknown entity reference (${ent})`);
    return v ?? '';
  };
  /** An attribute value: whitespace trimmed and runs of it collapsed to one space (xmlm `addc_data_strip`). */
  const attrValue = (): string => {
    skipWhite();
    if (cur() !== 0x22 && cur() !== 0x27) expectedChars([0x22, 0x27]);
    const delim = cur();
    nextc();
    skipWhite();
    let out = '';
    let lastWhite = true;
    const add = (u: number): void => {
      if (isWhite(u)) {
        lastWhite = true;
        return;
      }
      if (lastWhite && out !== '') out += ' ';
      lastWhite = false;
      out += ch(u);
    };
    while (cur() !== delim) {
      if (cur() === 0x3c) fail('character sequence illegal here ("<")');
      if (cur() === 0x26) for (const x of reference()) add(x.codePointAt(0) ?? 0);
      else {
        add(cur());
        nextc();
      }
    }
    nextc();
    return out;
  };

  // Markup limits (xmlm `p_limit`).
  type Limit = { k: 'stag' | 'etag' | 'pi'; n: Name } | { k: 'comment' | 'cdata' | 'dtd' | 'text' | 'eoi' };
  let limit: Limit = { k: 'text' };
  const lim = (): Limit => limit;
  const pLimit = (): void => {
    if (cur() === EOI) {
      limit = { k: 'eoi' };
      return;
    }
    if (cur() !== 0x3c) {
      limit = { k: 'text' };
      return;
    }
    nextc();
    if (cur() === 0x3f) {
      nextc();
      limit = { k: 'pi', n: qname() };
    } else if (cur() === 0x2f) {
      nextc();
      const n = qname();
      skipWhite();
      limit = { k: 'etag', n };
    } else if (cur() === 0x21) {
      nextc();
      if (cur() === 0x2d) {
        nextc();
        accept(0x2d);
        limit = { k: 'comment' };
      } else if (cur() === 0x44) limit = { k: 'dtd' };
      else if (cur() === 0x5b) {
        nextc();
        let s = '';
        for (let k = 0; k < 6; k++) {
          s += cur() === EOI ? '' : ch(cur());
          nextc();
        }
        if (s !== 'CDATA[') expected(['CDATA['], s);
        limit = { k: 'cdata' };
      } else fail(`character sequence illegal here ("<!${cur() === EOI ? '' : ch(cur())}")`);
    } else limit = { k: 'stag', n: qname() };
  };
  const skipComment = (): void => {
    for (;;) {
      while (cur() !== 0x2d) nextc();
      nextc();
      if (cur() !== 0x2d) continue;
      nextc();
      if (cur() !== 0x3e) expectedChars([0x3e]);
      nextcEof();
      return;
    }
  };
  const skipPi = (): void => {
    for (;;) {
      while (cur() !== 0x3f) nextc();
      nextc();
      if (cur() === 0x3e) {
        nextcEof();
        return;
      }
    }
  };
  const skipMisc = (allowXmlPi: boolean): void => {
    for (;;) {
      const l = lim();
      if (l.k === 'pi' && l.n[0] === '' && l.n[1].toLowerCase() === 'xml') {
        if (!allowXmlPi) fail(`character sequence illegal here ("${l.n[1]}")`);
        return;
      }
      if (l.k === 'pi') skipPi();
      else if (l.k === 'comment') skipComment();
      else if (l.k === 'text' && isWhite(cur())) skipWhiteEof();
      else return;
      pLimit();
    }
  };
  const xmlDecl = (): void => {
    const l = lim();
    if (!(l.k === 'pi' && l.n[0] === '' && l.n[1] === 'xml')) return;
    const val = (): string => {
      skipWhite();
      accept(0x3d);
      skipWhite();
      return attrValue();
    };
    const valExp = (exp: readonly string[]): void => {
      const v = val();
      if (!exp.includes(v)) expected(exp, v);
    };
    skipWhite();
    const v = ncname();
    if (v !== 'version') expected(['version'], v);
    valExp(['1.0', '1.1']);
    skipWhite();
    if (cur() !== 0x3f) {
      const n = ncname();
      if (n === 'encoding') {
        const enc = val().toLowerCase();
        if (enc === 'utf-16') fail('malformed character stream');
        else if (!ENCODINGS.has(enc)) fail(`unknown encoding (${enc})`);
        skipWhite();
        if (cur() !== 0x3f) {
          const m = ncname();
          if (m === 'standalone') valExp(['yes', 'no']);
          else expected(['standalone', '?>'], m);
        }
      } else if (n === 'standalone') valExp(['yes', 'no']);
      else expected(['encoding', 'standalone', '?>'], n);
    }
    skipWhite();
    accept(0x3f);
    accept(0x3e);
    pLimit();
  };
  const skipDtd = (): void => {
    // '<!' eaten, cur() is 'D': skip to the matching '>' (nesting, quotes and comments honoured, nothing expanded).
    let nest = 1;
    while (nest > 0) {
      if (cur() === 0x3c) {
        nextc();
        if (cur() !== 0x21) nest++;
        else {
          nextc();
          if (cur() !== 0x2d) nest++;
          else {
            nextc();
            if (cur() !== 0x2d) nest++;
            else {
              nextc();
              skipComment();
            }
          }
        }
      } else if (cur() === 0x22 || cur() === 0x27) {
        const q = cur();
        nextc();
        while (cur() !== q) nextc();
        nextc();
      } else if (cur() === 0x3e) {
        nextc();
        nest--;
      } else nextc();
    }
    pLimit();
    skipMisc(false);
  };

  // Namespace bindings (prefix → uri), scoped by element (xmlm `expand_name`).
  const ns = new Map<string, string[]>([
    ['', ['']],
    ['xml', ['http://www.w3.org/XML/1998/namespace']],
    ['xmlns', ['http://www.w3.org/2000/xmlns/']],
  ]);
  const bind = (prefix: string, uri: string): void => {
    const list = ns.get(prefix) ?? [];
    list.push(uri);
    ns.set(prefix, list);
  };
  const unbind = (prefix: string): void => {
    ns.get(prefix)?.pop();
  };
  const checkPrefix = (prefix: string): void => {
    const uri = ns.get(prefix)?.at(-1);
    if (uri === undefined || (uri === '' && prefix !== '')) fail(`unknown namespace prefix (${prefix})`);
  };

  // Start of the document (xmlm `eoi`, then `p_dtd_signal`).
  if (cps[0] === 0xfeff) pos = 1;
  nextc();
  pLimit();
  xmlDecl();
  skipMisc(false);
  if (lim().k === 'dtd') skipDtd();
  const first = lim();
  if (first.k === 'eoi' || cur() === EOI) fail('unexpected end of input');
  if (first.k !== 'stag') return fail('expected root element');

  const element = (n: Name): XmlNode => {
    // Attributes (xmlm `p_attributes`): each must be preceded by whitespace.
    const attrs: [Name, string][] = [];
    const bound: string[] = [];
    while (isWhite(cur())) {
      skipWhite();
      if (cur() === 0x2f || cur() === 0x3e) break;
      const an = qname();
      skipWhite();
      accept(0x3d);
      const v = attrValue();
      if (an[0] === '' && an[1] === 'xmlns') {
        bind('', v);
        bound.push('');
      } else if (an[0] === 'xmlns') {
        bind(an[1], v);
        bound.push(an[1]);
      }
      attrs.push([an, v]);
    }
    checkPrefix(n[0]);
    for (const [an] of attrs) if (an[0] !== '') checkPrefix(an[0]);
    skipWhite();
    const children: (XmlNode | string)[] = [];
    if (cur() === 0x2f) {
      nextc();
      if (cur() !== 0x3e) expectedChars([0x3e]);
    } else if (cur() === 0x3e) {
      accept(0x3e);
      pLimit();
      let data = '';
      const flush = (): void => {
        if (data !== '') children.push(data);
        data = '';
      };
      for (;;) {
        const l: Limit = lim();
        if (l.k === 'stag') {
          flush();
          children.push(element(l.n));
          // The child's end tag is read up to its '>': step over it (xmlm `p_el_end_signal`, below the root).
          nextc();
          pLimit();
        } else if (l.k === 'etag') {
          flush();
          if (cur() !== 0x3e) expectedChars([0x3e]);
          if (nameStr(l.n) !== nameStr(n)) expected([nameStr(n)], nameStr(l.n));
          break;
        } else if (l.k === 'text') {
          while (cur() !== 0x3c) {
            if (cur() === 0x26) data += reference();
            else if (cur() === 0x5d) {
              data += ']';
              nextc();
              if (cur() === 0x5d) {
                data += ']';
                nextc();
                while (cur() === 0x5d) {
                  data += ']';
                  nextc();
                }
                if (cur() === 0x3e) fail('character sequence illegal here ("]]>")');
              }
            } else {
              data += ch(cur());
              nextc();
            }
          }
          pLimit();
        } else if (l.k === 'cdata') {
          for (;;) {
            if (cur() === 0x5d) {
              nextc();
              let closed = false;
              while (cur() === 0x5d) {
                nextc();
                if (cur() === 0x3e) {
                  nextc();
                  closed = true;
                  break;
                }
                data += ']';
              }
              if (closed) break;
              data += ']';
            }
            data += ch(cur());
            nextc();
          }
          pLimit();
        } else if (l.k === 'pi') {
          skipPi();
          pLimit();
        } else if (l.k === 'comment') {
          skipComment();
          pLimit();
        } else if (l.k === 'dtd') fail('character sequence illegal here ("<!D")');
        else fail('unexpected end of input');
      }
    } else expectedChars([0x2f, 0x3e]);
    for (const p of bound) unbind(p);
    return {
      name: n[1],
      attrs: attrs.map(([an, v]) => [an[1], v] as const),
      // xml.ml drops text made only of spaces, tabs and newlines.
      children: children.filter((x) => typeof x !== 'string' || !/^[ \t\n]*$/.test(x)),
    };
  };
  // After the root element nothing more is read (xmlm stops at the end of the document element).
  return element(first.n);
}

/** OCaml's `Int64.of_string`: optional sign, decimal or 0x/0o/0b/0u, underscores after the first digit. */
export function int64OfString(s: string): number | undefined {
  const m =
    /^([+-]?)(0[xX][0-9a-fA-F][0-9a-fA-F_]*|0[oO][0-7][0-7_]*|0[bB][01][01_]*|0[uU][0-9][0-9_]*|[0-9][0-9_]*)$/.exec(
      s,
    );
  if (!m) return undefined;
  const sign = m[1] === '-' ? -1n : 1n;
  const body = (m[2] ?? '').replace(/_/g, '');
  const kind = body.length > 1 && body.startsWith('0') ? (body[1] ?? '').toLowerCase() : '';
  let v: bigint;
  if (kind === 'x' || kind === 'o' || kind === 'b') {
    v = BigInt(`0${kind}${body.slice(2)}`);
    if (v > 0xffffffffffffffffn) return undefined;
    if (v > 0x7fffffffffffffffn) v -= 0x10000000000000000n; // wraps, as OCaml's parser does
  } else {
    v = BigInt(kind === 'u' ? body.slice(2) : body);
    if (kind === 'u') {
      if (v > 0xffffffffffffffffn) return undefined;
      if (v > 0x7fffffffffffffffn) v -= 0x10000000000000000n;
    } else if (sign < 0 ? v > 0x8000000000000000n : v > 0x7fffffffffffffffn) return undefined;
  }
  return Number(sign * v);
}

const parseFailure = (): never => {
  throw new XapiFailure('INTERNAL_ERROR', ['Xapi_templates.Parse_failure']);
};

/** `disk_of_xml`: a childless `<disk>` with device, size, sr and bootable; `type` optional. */
function diskOf(node: XmlNode | string): ProvisionDisk {
  if (typeof node === 'string' || node.name !== 'disk' || node.children.length > 0) return parseFailure();
  const get = (k: string): string | undefined => node.attrs.find(([n]) => n === k)?.[1];
  const device = get('device');
  const size = get('size');
  const sr = get('sr');
  const bootable = get('bootable');
  if (device === undefined || size === undefined || sr === undefined || bootable === undefined)
    return parseFailure();
  const bytes = int64OfString(size);
  if (bytes === undefined) return parseFailure();
  const type = get('type');
  return {
    device,
    size: bytes,
    sr,
    bootable: bootable === 'true',
    type: type !== undefined && VDI_TYPES.has(type) ? type : 'system',
  };
}

/**
 * Reads a template's `other_config:disks` as xapi_templates.ml does. Throws `INTERNAL_ERROR ["XML Error: … line
 * n"]` for a document xmlm refuses and `INTERNAL_ERROR ["Xapi_templates.Parse_failure"]` for one of the wrong shape.
 */
export function parseProvisionXml(xml: string): ProvisionDisk[] {
  let root: XmlNode;
  try {
    root = parseXmlm(xml);
  } catch (e) {
    if (e instanceof XmlmError)
      throw new XapiFailure('INTERNAL_ERROR', [`XML Error: ${e.message} line ${String(e.line)}`]);
    throw e;
  }
  if (root.name !== 'provision' || root.attrs.length > 0) return parseFailure();
  return root.children.map(diskOf);
}
