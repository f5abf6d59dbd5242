/**
 * Dynamic VHD images, written and read by us (the layout of Microsoft's "Virtual Hard Disk Image Format
 * Specification", big-endian throughout), as `/export_raw_vdi?format=vhd` sends them and `/import_raw_vdi?format=vhd`
 * takes them — what xapi's vhd-tool streams:
 *
 *   footer copy (512) · dynamic header (1024) · BAT (4 bytes per block, padded to a sector) ·
 *   for each allocated block: sector bitmap (512 bytes for 2 MiB blocks) + block data · footer (512)
 *
 * Reading is streamed: the BAT (at most 4 bytes per block of a disk no bigger than its VDI) is the only thing held
 * besides one block; blocks must come after the BAT in the stream (a streamed VHD always has them there). Every
 * check that fails is a {@link VhdError} naming what is wrong: cookies, checksums, offsets, sizes.
 * @module
 */
import type { StreamReader } from './stream-reader.js';

/** Block size we write (the usual one). */
export const VHD_BLOCK = 2 * 1024 * 1024;
/** xapi's largest VHD (ocaml/xapi-consts/constants.ml `max_vhd_size`: 2040 GiB). */
export const MAX_VHD_SIZE = 2040 * 1024 * 1024 * 1024;
const SECTOR = 512;
const FOOTER = 512;
const HEADER = 1024;
const NO_BLOCK = 0xffffffff;
/** Seconds from the Unix epoch to 2000-01-01T00:00:00Z, the VHD epoch. */
const VHD_EPOCH = 946_684_800;

/** A malformed or unacceptable VHD. */
export class VhdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VhdError';
  }
}

/** The one's complement of the byte sum, with the checksum field itself counted as zeros. */
function checksum(b: Buffer, at: number): number {
  let sum = 0;
  for (let i = 0; i < b.length; i++) if (i < at || i >= at + 4) sum += b[i] ?? 0;
  return ~sum >>> 0;
}

/** Cylinders, heads, sectors per track for a size (the specification's algorithm). */
function geometry(size: number): [number, number, number] {
  let total = Math.floor(size / SECTOR);
  if (total > 65535 * 16 * 255) total = 65535 * 16 * 255;
  let spt: number;
  let heads: number;
  let cth: number;
  if (total >= 65535 * 16 * 63) {
    spt = 255;
    heads = 16;
    cth = Math.floor(total / spt);
  } else {
    spt = 17;
    cth = Math.floor(total / spt);
    heads = Math.floor((cth + 1023) / 1024);
    if (heads < 4) heads = 4;
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cth = Math.floor(total / spt);
    }
    if (cth >= heads * 1024) {
      spt = 63;
      heads = 16;
      cth = Math.floor(total / spt);
    }
  }
  return [Math.floor(cth / heads), heads, spt];
}

function u64(b: Buffer, at: number, v: number): void {
  b.writeUInt32BE(Math.floor(v / 0x100000000) >>> 0, at);
  b.writeUInt32BE(v >>> 0, at + 4);
}

function readU64(b: Buffer, at: number): number {
  const hi = b.readUInt32BE(at);
  const lo = b.readUInt32BE(at + 4);
  if (hi === 0xffffffff && lo === 0xffffffff) return -1;
  return hi * 0x100000000 + lo;
}

/** 16 bytes of a uuid's hex digits (or zeros). */
function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  return /^[0-9a-fA-F]{32}$/.test(hex) ? Buffer.from(hex, 'hex') : Buffer.alloc(16);
}

/** The hard disk footer of a dynamic disk of `size` bytes. */
export function vhdFooter(size: number, uuid: string, now: Date): Buffer {
  const f = Buffer.alloc(FOOTER);
  f.write('conectix', 0, 'ascii');
  f.writeUInt32BE(2, 8); // features: reserved bit always set
  f.writeUInt32BE(0x00010000, 12); // format version 1.0
  u64(f, 16, FOOTER); // data offset: the dynamic header follows the footer copy
  f.writeUInt32BE(Math.max(0, Math.floor(now.getTime() / 1000) - VHD_EPOCH) >>> 0, 24);
  f.write('tap\0', 28, 'latin1'); // creator application, as blktap/vhd-tool
  f.writeUInt32BE(0x00010003, 32); // creator version
  f.write('Wi2k', 36, 'ascii'); // creator host OS
  u64(f, 40, size); // original size
  u64(f, 48, size); // current size
  const [c, h, s] = geometry(size);
  f.writeUInt16BE(c, 56);
  f.writeUInt8(h, 58);
  f.writeUInt8(s, 59);
  f.writeUInt32BE(3, 60); // dynamic
  uuidBytes(uuid).copy(f, 68);
  f.writeUInt32BE(checksum(f, 64), 64);
  return f;
}

/** The dynamic disk header. */
function vhdHeader(entries: number, batOffset: number, blockSize: number): Buffer {
  const h = Buffer.alloc(HEADER);
  h.write('cxsparse', 0, 'ascii');
  h.writeUInt32BE(0xffffffff, 8);
  h.writeUInt32BE(0xffffffff, 12); // data offset: unused
  u64(h, 16, batOffset);
  h.writeUInt32BE(0x00010000, 24); // header version
  h.writeUInt32BE(entries, 28);
  h.writeUInt32BE(blockSize, 32);
  h.writeUInt32BE(checksum(h, 36), 36);
  return h;
}

/** Sectors a block's bitmap takes. */
function bitmapBytes(blockSize: number): number {
  return Math.ceil(blockSize / SECTOR / 8 / SECTOR) * SECTOR;
}

/** Where everything goes in the VHD of a disk, and its total length. */
export interface VhdPlan {
  readonly size: number;
  readonly entries: number;
  /** VHD blocks that hold data, ascending. */
  readonly blocks: readonly number[];
  readonly batOffset: number;
  readonly firstBlockOffset: number;
  readonly length: number;
}

/** Plans the VHD of a disk of `size` bytes whose data lies in the given byte ranges' VHD blocks. */
export function planVhd(size: number, dataBlocks: readonly number[]): VhdPlan {
  const entries = Math.ceil(size / VHD_BLOCK);
  const batOffset = FOOTER + HEADER;
  const batBytes = Math.ceil((entries * 4) / SECTOR) * SECTOR;
  const firstBlockOffset = batOffset + batBytes;
  const blockBytes = bitmapBytes(VHD_BLOCK) + VHD_BLOCK;
  return {
    size,
    entries,
    blocks: dataBlocks,
    batOffset,
    firstBlockOffset,
    length: firstBlockOffset + dataBlocks.length * blockBytes + FOOTER,
  };
}

/**
 * Writes the VHD of a plan: `block(i)` gives VHD block i's data (VHD_BLOCK bytes; past the end of the disk, zeros).
 * `out` is awaited for each piece (backpressure).
 */
export async function writeVhd(
  plan: VhdPlan,
  uuid: string,
  now: Date,
  block: (i: number) => Buffer,
  out: (b: Buffer) => Promise<void>,
): Promise<void> {
  const footer = vhdFooter(plan.size, uuid, now);
  await out(footer);
  await out(vhdHeader(plan.entries, plan.batOffset, VHD_BLOCK));
  const bat = Buffer.alloc(plan.firstBlockOffset - plan.batOffset, 0xff);
  const bitmap = bitmapBytes(VHD_BLOCK);
  let sector = plan.firstBlockOffset / SECTOR;
  for (const i of plan.blocks) {
    bat.writeUInt32BE(sector, i * 4);
    sector += (bitmap + VHD_BLOCK) / SECTOR;
  }
  await out(bat);
  const map = Buffer.alloc(bitmap, 0xff);
  for (const i of plan.blocks) {
    await out(map);
    await out(block(i));
  }
  await out(footer);
}

interface Footer {
  readonly size: number;
  readonly dataOffset: number;
  readonly type: number;
}

function parseFooter(f: Buffer, where: string): Footer {
  if (f.subarray(0, 8).toString('latin1') !== 'conectix')
    throw new VhdError(`${where}: no "conectix" cookie (not a VHD)`);
  const stored = f.readUInt32BE(64);
  const sum = checksum(f, 64);
  if (stored !== sum)
    throw new VhdError(
      `${where}: checksum is 0x${stored.toString(16).padStart(8, '0')}, the footer sums to 0x${sum.toString(16).padStart(8, '0')}`,
    );
  return { size: readU64(f, 48), dataOffset: readU64(f, 16), type: f.readUInt32BE(60) };
}

/**
 * Reads a streamed dynamic VHD and hands its data to `write(offset, bytes)` (sectors the bitmaps leave out read as
 * zeros and are handed over as zeros). Refuses a virtual size above `maxSize`. Returns the virtual size.
 */
export async function readVhd(
  r: StreamReader,
  maxSize: number,
  write: (offset: number, data: Buffer) => void,
): Promise<number> {
  const first = await r.read(FOOTER);
  const footer = parseFooter(first, 'VHD footer (copy at the start)');
  if (footer.type === 2)
    throw new VhdError(
      'a fixed VHD cannot be streamed (its footer comes last): send a dynamic VHD or raw data',
    );
  if (footer.type === 4)
    throw new VhdError(
      'a differencing VHD needs its parent: send a dynamic VHD (vhd-util coalesce) or raw data',
    );
  if (footer.type !== 3) throw new VhdError(`unknown VHD disk type ${String(footer.type)}`);
  const size = footer.size;
  if (size < 0 || size > maxSize)
    throw new VhdError(
      `the VHD's virtual size ${String(size)} is larger than the VDI's ${String(maxSize)} bytes`,
    );
  if (footer.dataOffset < FOOTER)
    throw new VhdError('the VHD footer points its dynamic header inside itself');
  let pos = FOOTER;
  await r.skip(footer.dataOffset - pos);
  pos = footer.dataOffset;
  const header = await r.read(HEADER);
  pos += HEADER;
  if (header.subarray(0, 8).toString('latin1') !== 'cxsparse')
    throw new VhdError('VHD dynamic header: no "cxsparse" cookie');
  const hStored = header.readUInt32BE(36);
  const hSum = checksum(header, 36);
  if (hStored !== hSum)
    throw new VhdError(
      `VHD dynamic header: checksum is 0x${hStored.toString(16).padStart(8, '0')}, the header sums to 0x${hSum.toString(16).padStart(8, '0')}`,
    );
  const batOffset = readU64(header, 16);
  const entries = header.readUInt32BE(28);
  const blockSize = header.readUInt32BE(32);
  if (blockSize < SECTOR || blockSize > 256 * 1024 * 1024 || (blockSize & (blockSize - 1)) !== 0)
    throw new VhdError(`VHD block size ${String(blockSize)} is not a power of two between 512 B and 256 MiB`);
  if (entries < Math.ceil(size / blockSize))
    throw new VhdError(`the VHD's block table has ${String(entries)} entries, too few for its virtual size`);
  if (entries > Math.ceil(maxSize / blockSize) + 1)
    throw new VhdError(`the VHD's block table has ${String(entries)} entries, more than its VDI can hold`);
  if (batOffset < pos)
    throw new VhdError('the VHD block table comes before the dynamic header (not streamable)');
  await r.skip(batOffset - pos);
  pos = batOffset;
  const bat = await r.read(entries * 4);
  pos += entries * 4;
  const bitmap = bitmapBytes(blockSize);
  const blocks: [number, number][] = [];
  for (let i = 0; i < entries; i++) {
    const s = bat.readUInt32BE(i * 4);
    if (s !== NO_BLOCK) blocks.push([s * SECTOR, i]);
  }
  blocks.sort((a, b) => a[0] - b[0]);
  for (const [offset, i] of blocks) {
    if (offset < pos)
      throw new VhdError(
        `VHD block ${String(i)} at byte ${String(offset)} overlaps the headers or another block (not streamable)`,
      );
    await r.skip(offset - pos);
    const map = await r.read(bitmap);
    const data = await r.read(blockSize);
    pos = offset + bitmap + blockSize;
    const start = i * blockSize;
    if (start >= size) continue;
    // Sectors the bitmap leaves out read as zeros (no parent: a dynamic disk).
    for (let sct = 0; sct < blockSize / SECTOR; sct++) {
      const bit = ((map[sct >> 3] ?? 0) >> (7 - (sct & 7))) & 1;
      if (bit === 0) data.fill(0, sct * SECTOR, (sct + 1) * SECTOR);
    }
    write(start, data.subarray(0, Math.min(blockSize, size - start)));
  }
  // The footer closes the image; anything between the last block and it is padding.
  let tail = Buffer.alloc(0);
  for (;;) {
    const b = await r.readSome(1 << 20);
    if (!b) break;
    tail = Buffer.concat([tail, b]).subarray(-FOOTER);
  }
  if (tail.length < FOOTER) throw new VhdError('the VHD ends without its footer (truncated?)');
  parseFooter(tail, 'VHD footer (at the end)');
  return size;
}
