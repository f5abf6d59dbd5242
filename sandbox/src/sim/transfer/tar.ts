/**
 * The tar subset an XVA uses, written and read by us. Writing: the headers ocaml-tar makes for xapi
 * (`Tar.Header.make name size`, marshalled at its default V7 level: mode 0400, uid/gid 0, no ustar magic, mtime 0
 * except for ova.xml) and the two zero blocks that end an archive. Reading: one header at a time from a
 * {@link StreamReader}, checked (checksum, octal or base-256 fields, type), with POSIX pax and GNU long-name
 * records understood but bounded; anything else is a {@link TarError}, never a crash and never an unbounded read.
 * @module
 */
import type { StreamReader } from './stream-reader.js';

/** A tar block. */
export const BLOCK = 512;
/** The end of an archive: two zero blocks. */
export const TAR_END: Buffer = Buffer.alloc(2 * BLOCK);
/** The most a pax extended header or a GNU long name may hold. */
const MAX_META_BYTES = 64 * 1024;
/** The most names a single entry may carry through pax/GNU records before its own header. */
const MAX_META_RECORDS = 4;

/** A malformed or unacceptable archive. */
export class TarError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarError';
  }
}

/** Zero bytes that pad `size` to a whole block. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

function octal(buf: Buffer, off: number, len: number, value: number): void {
  // ocaml-tar: "%0*o\000" — zero-padded octal digits then a NUL.
  const s = value.toString(8).padStart(len - 1, '0');
  if (s.length > len - 1) throw new TarError(`tar field too small for ${String(value)}`);
  buf.write(s, off, 'ascii');
  buf[off + len - 1] = 0;
}

/** The 512-byte header of a regular file as xapi writes it. */
export function tarHeader(name: string, size: number, mtime = 0): Buffer {
  const h = Buffer.alloc(BLOCK);
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 100) throw new TarError(`tar name too long: ${name}`);
  nameBytes.copy(h, 0);
  octal(h, 100, 8, 0o400); // mode
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, Math.max(0, Math.floor(mtime)));
  h.fill(0x20, 148, 156); // checksum field counts as spaces
  h[156] = 0x30; // '0': a regular file
  let sum = 0;
  for (const b of h) sum += b;
  // ocaml-tar: "%06o\000 "
  h.write(sum.toString(8).padStart(6, '0'), 148, 'ascii');
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

/** One archive entry's header as read. */
export interface TarEntry {
  readonly name: string;
  readonly size: number;
}

function parseNumber(field: Buffer, what: string): number {
  const first = field[0] ?? 0;
  if (first & 0x80) {
    // GNU base-256: big-endian, the top bit of the first byte is the marker.
    if (first !== 0x80) throw new TarError(`tar ${what} field is negative or too large`);
    let n = 0;
    for (let i = 1; i < field.length; i++) {
      n = n * 256 + (field[i] ?? 0);
      if (n > Number.MAX_SAFE_INTEGER) throw new TarError(`tar ${what} field is too large`);
    }
    return n;
  }
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarError(`tar ${what} field is not octal: ${JSON.stringify(text)}`);
  const n = parseInt(text, 8);
  if (!Number.isSafeInteger(n)) throw new TarError(`tar ${what} field is too large`);
  return n;
}

function cString(field: Buffer): string {
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? field.length : nul).toString('utf8');
}

function checksumOk(h: Buffer): boolean {
  let stored: number;
  try {
    stored = parseNumber(h.subarray(148, 156), 'checksum');
  } catch {
    return false;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (h[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function isZero(b: Buffer): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

/** Parses one 512-byte header block (no I/O); undefined for a zero block. */
export function parseHeaderBlock(h: Buffer): { name: string; size: number; type: string } | undefined {
  if (h.length !== BLOCK) throw new TarError('short tar header');
  if (isZero(h)) return undefined;
  if (!checksumOk(h)) throw new TarError('tar header checksum mismatch (not a tar archive, or corrupted)');
  let name = cString(h.subarray(0, 100));
  const magic = h.subarray(257, 263).toString('latin1');
  if (magic === 'ustar\0' || magic === 'ustar ') {
    const prefix = cString(h.subarray(345, 500));
    if (prefix !== '' && magic === 'ustar\0') name = `${prefix}/${name}`;
  }
  const size = parseNumber(h.subarray(124, 136), 'size');
  const type = String.fromCharCode(h[156] ?? 0);
  return { name, size, type: type === '\0' ? '0' : type };
}

/** Reads a pax extended header body (`<len> key=value\n` records); only `path` and `size` matter here. */
function parsePax(body: Buffer): { path?: string; size?: number } {
  const out: { path?: string; size?: number } = {};
  let off = 0;
  while (off < body.length) {
    const sp = body.indexOf(0x20, off);
    if (sp === -1) break;
    const len = Number(body.subarray(off, sp).toString('ascii'));
    if (!Number.isInteger(len) || len <= sp - off || off + len > body.length)
      throw new TarError('malformed pax header');
    const rec = body.subarray(sp + 1, off + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) {
      const k = rec.slice(0, eq);
      const v = rec.slice(eq + 1);
      if (k === 'path') out.path = v;
      else if (k === 'size') {
        if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new TarError('malformed pax size');
        out.size = Number(v);
      }
    }
    off += len;
  }
  return out;
}

/**
 * Reads the next regular file's header (pax `x`/`g` and GNU `L` records folded in); undefined at the end of the
 * archive (a zero block). The caller then reads or skips `size` bytes and {@link padding}. Links, devices and
 * directories are refused: an XVA holds regular files only.
 */
export async function readEntry(r: StreamReader): Promise<TarEntry | undefined> {
  let overrideName: string | undefined;
  let overrideSize: number | undefined;
  for (let records = 0; ; records++) {
    const block = await r.read(BLOCK);
    const h = parseHeaderBlock(block);
    if (!h) return undefined;
    if (h.type === 'x' || h.type === 'g' || h.type === 'L') {
      if (records >= MAX_META_RECORDS) throw new TarError('too many tar extension records in a row');
      if (h.size > MAX_META_BYTES)
        throw new TarError(
          `tar extension record of ${String(h.size)} bytes (at most ${String(MAX_META_BYTES)})`,
        );
      const body = await r.read(h.size);
      await r.skip(padding(h.size));
      if (h.type === 'L') overrideName = cString(body);
      else if (h.type === 'x') {
        const pax = parsePax(body);
        if (pax.path !== undefined) overrideName = pax.path;
        if (pax.size !== undefined) overrideSize = pax.size;
      }
      continue;
    }
    if (h.type !== '0' && h.type !== '7')
      throw new TarError(`unexpected tar entry type '${h.type}' for ${JSON.stringify(h.name)}`);
    return { name: overrideName ?? h.name, size: overrideSize ?? h.size };
  }
}
