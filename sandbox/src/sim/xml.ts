/**
 * A small, hardened XML reader for XML-RPC requests. Hand-written rather than a general XML parser so that nothing
 * dangerous is even possible: any `<!DOCTYPE` (and so any entity definition, external entity or "billion laughs")
 * is rejected, only the five predefined entities and character references are understood, element nesting is capped,
 * and the input size is capped by the caller before we get here (see perf-security.md §E).
 */

/** A malformed or forbidden request body; the server answers HTTP 500 like xapi's `Xmlrpc.Parse_error`. */
export class XmlParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'XmlParseError';
  }
}

/** One element: its name, child elements and concatenated text. Attributes are ignored (XML-RPC has none). */
export interface XmlElement {
  readonly name: string;
  readonly kids: XmlElement[];
  text: string;
}

/** Limits for {@link parseXml}. */
export interface XmlLimits {
  /** Maximum element nesting depth (default 64: XAPI values are rarely deeper than 8). */
  readonly maxDepth?: number;
  /** Maximum number of elements (default 200 000). */
  readonly maxElements?: number;
}

const NAME = /[A-Za-z_:][A-Za-z0-9_.:-]*/y;

/** Parses one XML document into an element tree, or throws {@link XmlParseError}. */
export function parseXml(src: string, limits: XmlLimits = {}): XmlElement {
  const maxDepth = limits.maxDepth ?? 64;
  const maxElements = limits.maxElements ?? 200_000;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;
  let pos = src.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = src.length;
  while (pos < n) {
    const lt = src.indexOf('<', pos);
    const textEnd = lt === -1 ? n : lt;
    if (textEnd > pos) {
      const raw = src.slice(pos, textEnd);
      const top = stack[stack.length - 1];
      if (top) top.text += decodeEntities(raw);
      else if (raw.trim() !== '') throw new XmlParseError('text outside the root element');
      pos = textEnd;
      continue;
    }
    // src[pos] === '<'
    if (src.startsWith('<?', pos)) {
      const end = src.indexOf('?>', pos + 2);
      if (end === -1) throw new XmlParseError('unterminated processing instruction');
      pos = end + 2;
    } else if (src.startsWith('<!--', pos)) {
      const end = src.indexOf('-->', pos + 4);
      if (end === -1) throw new XmlParseError('unterminated comment');
      pos = end + 3;
    } else if (src.startsWith('<![CDATA[', pos)) {
      const end = src.indexOf(']]>', pos + 9);
      const top = stack[stack.length - 1];
      if (end === -1 || !top) throw new XmlParseError('misplaced or unterminated CDATA section');
      top.text += src.slice(pos + 9, end);
      pos = end + 3;
    } else if (src.startsWith('<!', pos)) {
      // DOCTYPE, ENTITY, ELEMENT…: never needed by XML-RPC, and the door to XXE and entity expansion attacks.
      throw new XmlParseError('DOCTYPE and markup declarations are not allowed');
    } else if (src.startsWith('</', pos)) {
      NAME.lastIndex = pos + 2;
      const m = NAME.exec(src);
      const top = stack.pop();
      if (!m || m[0] !== top?.name) throw new XmlParseError(`unexpected closing tag at ${pos}`);
      let p = pos + 2 + m[0].length;
      while (p < n && isSpace(src.charCodeAt(p))) p++;
      if (src[p] !== '>') throw new XmlParseError(`malformed closing tag at ${pos}`);
      pos = p + 1;
    } else {
      NAME.lastIndex = pos + 1;
      const m = NAME.exec(src);
      if (!m) throw new XmlParseError(`malformed tag at ${pos}`);
      // Skip attributes, honouring quotes so that a '>' inside a value does not end the tag.
      let p = pos + 1 + m[0].length;
      let quote = 0;
      for (; p < n; p++) {
        const c = src.charCodeAt(p);
        if (quote) {
          if (c === quote) quote = 0;
        } else if (c === 34 || c === 39) quote = c;
        else if (c === 62 /* > */) break;
        else if (c === 60 /* < */) throw new XmlParseError(`malformed tag at ${pos}`);
      }
      if (p >= n) throw new XmlParseError('unterminated tag');
      const selfClosing = src.charCodeAt(p - 1) === 47; /* / */
      if (++elements > maxElements) throw new XmlParseError('too many elements');
      const el: XmlElement = { name: m[0], kids: [], text: '' };
      const parent = stack[stack.length - 1];
      if (parent) parent.kids.push(el);
      else if (root) throw new XmlParseError('more than one root element');
      else root = el;
      if (!selfClosing) {
        stack.push(el);
        if (stack.length > maxDepth) throw new XmlParseError(`nesting deeper than ${maxDepth}`);
      }
      pos = p + 1;
    }
  }
  if (stack.length > 0) throw new XmlParseError(`unclosed element <${stack[stack.length - 1]?.name ?? ''}>`);
  if (!root) throw new XmlParseError('empty document');
  return root;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeEntities(raw: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&\s]{0,10});/g, (_all, name: string) => {
    if (name.startsWith('#')) {
      const code = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      if (!Number.isFinite(code) || code < 0 || code > 0x10ffff)
        throw new XmlParseError(`bad character reference &${name};`);
      return String.fromCodePoint(code);
    }
    const v = ENTITIES[name];
    if (v === undefined) throw new XmlParseError(`undefined entity &${name};`);
    return v;
  });
}

/** Escapes text as ocaml-rpc does (xmlrpc.ml `encode`): `> < & "` as entities, other control characters dropped. */
export function escapeXml(s: string): string {
  // Fast path: most strings need nothing.
  // eslint-disable-next-line no-control-regex
  if (!/[<>&"\x00-\x08\x0b\x0c\x0e-\x1f]/.test(s)) return s;
  // eslint-disable-next-line no-control-regex
  return s.replace(/[<>&"\x00-\x08\x0b\x0c\x0e-\x1f]/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === '"' ? '&quot;' : '',
  );
}
