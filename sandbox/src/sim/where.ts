/**
 * The `get_all_records_where` expression language (ocaml/database/db_filter_parse.mly, db_filter_lex.mll):
 * `true | false | field "col"="literal" | e and e | e or e | not e | (e)`. Column names are database names, where
 * nested field names are joined with `__` (`name__label` is the `name_label` field).
 */
import { XapiFailure } from './contract.js';
import { formatDateTime } from './wire-types.js';

/** A parsed expression. */
export type WhereExpr =
  | { readonly k: 'true' | 'false' }
  | { readonly k: 'eq'; readonly field: string; readonly value: string }
  | { readonly k: 'not'; readonly e: WhereExpr }
  | { readonly k: 'and' | 'or'; readonly a: WhereExpr; readonly b: WhereExpr };

type Token = { t: 'word'; v: string } | { t: 'str'; v: string } | { t: 'sym'; v: '(' | ')' | '=' };

function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src.charAt(i);
    if (/\s/.test(c)) i++;
    else if (c === '(' || c === ')' || c === '=') {
      out.push({ t: 'sym', v: c });
      i++;
    } else if (c === '"') {
      const end = src.indexOf('"', i + 1);
      if (end === -1) throw bad(src, 'unterminated string');
      out.push({ t: 'str', v: src.slice(i + 1, end) });
      i = end + 1;
    } else {
      const m = /^[A-Za-z_]+/.exec(src.slice(i));
      if (!m) throw bad(src, `unexpected character '${c}'`);
      out.push({ t: 'word', v: m[0].toLowerCase() });
      i += m[0].length;
    }
  }
  return out;
}

function bad(src: string, why: string): XapiFailure {
  return new XapiFailure('INTERNAL_ERROR', [`Db_filter.Expression_error("${src}", ${why})`]);
}

/** Parses an expression; a syntax error is an `INTERNAL_ERROR` as in xapi. Input is capped at 64 KiB, depth at 100. */
export function parseWhere(src: string): WhereExpr {
  if (src.length > 65_536) throw bad('…', 'expression too long');
  const toks = lex(src);
  let pos = 0;
  let depth = 0;
  const peek = (): Token | undefined => toks[pos];
  const word = (w: string): boolean => {
    const t = peek();
    if (t?.t === 'word' && t.v === w) {
      pos++;
      return true;
    }
    return false;
  };
  const orExpr = (): WhereExpr => {
    let a = andExpr();
    while (word('or')) a = { k: 'or', a, b: andExpr() };
    return a;
  };
  const andExpr = (): WhereExpr => {
    let a = unary();
    while (word('and')) a = { k: 'and', a, b: unary() };
    return a;
  };
  const unary = (): WhereExpr => {
    if (++depth > 100) throw bad(src, 'nested too deeply');
    try {
      if (word('not')) return { k: 'not', e: unary() };
      if (word('true')) return { k: 'true' };
      if (word('false')) return { k: 'false' };
      if (word('field')) {
        const f = toks[pos];
        const eq = toks[pos + 1];
        const v = toks[pos + 2];
        if (f?.t !== 'str' || eq?.t !== 'sym' || eq.v !== '=' || v?.t !== 'str')
          throw bad(src, 'expected field "x"="y"');
        pos += 3;
        return { k: 'eq', field: f.v, value: v.v };
      }
      const t = peek();
      if (t?.t === 'sym' && t.v === '(') {
        pos++;
        const e = orExpr();
        const close = peek();
        if (close?.t !== 'sym' || close.v !== ')') throw bad(src, 'expected )');
        pos++;
        return e;
      }
      throw bad(src, 'unexpected token');
    } finally {
      depth--;
    }
  };
  const e = orExpr();
  if (pos !== toks.length) throw bad(src, 'trailing input');
  return e;
}

/** The database's string form of a value (db_cache_types: sets `('a' 'b')`, maps `(('k' 'v'))`). */
export function dbString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Date) return formatDateTime(v);
  if (Array.isArray(v)) return `(${v.map((x) => `'${dbString(x)}'`).join(' ')})`;
  if (v && typeof v === 'object')
    return `(${Object.keys(v)
      .map((k) => `('${k}' '${dbString((v as Record<string, unknown>)[k])}')`)
      .join(' ')})`;
  return '';
}

/** Evaluates an expression against a record (wire field names). */
export function matchWhere(e: WhereExpr, rec: Readonly<Record<string, unknown>>): boolean {
  switch (e.k) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'not':
      return !matchWhere(e.e, rec);
    case 'and':
      return matchWhere(e.a, rec) && matchWhere(e.b, rec);
    case 'or':
      return matchWhere(e.a, rec) || matchWhere(e.b, rec);
    case 'eq': {
      const name = e.field.replaceAll('__', '_');
      const v = Object.hasOwn(rec, name) ? rec[name] : Object.hasOwn(rec, e.field) ? rec[e.field] : undefined;
      return v !== undefined && dbString(v) === e.value;
    }
  }
}
