/**
 * A VDI's contents as a dynamic VHD: what `GET /export_raw_vdi?format=vhd` sends, and what a pool sends another pool's
 * `PUT /import_raw_vdi?format=vhd` when a disk moves there (behaviour/migrate-cross-pool.ts). Only the 2 MiB VHD
 * blocks holding data go (with `base`: only those that differ from the base's), so a mostly empty disk of many GiB
 * is a few KiB.
 * @module
 */
import type { DiskContents } from './contents.js';
import { BLOCK_SIZE } from './contents.js';
import { VHD_BLOCK, planVhd, writeVhd } from './vhd.js';

/** A VHD image of a VDI: its length, then its bytes in order. */
export interface VhdImage {
  readonly length: number;
  /** How many (2 MiB) blocks it carries: none for a disk without data (or no difference from the base). */
  readonly blocks: number;
  /** Writes the image piece by piece; `out` is awaited for each (backpressure). */
  write(out: (b: Buffer) => Promise<void>): Promise<void>;
}

/** The VHD image of a VDI of `size` bytes (the VDI's `virtual_size`) with this uuid in its footer. */
export function vhdImage(
  contents: DiskContents,
  vdi: string,
  size: number,
  uuid: string,
  now: Date,
  base?: string,
): VhdImage {
  const vhdBlock = (j: number, ref: string): Buffer => {
    const b = Buffer.alloc(VHD_BLOCK);
    for (const k of [0, 1]) contents.readBlock(ref, 2 * j + k)?.copy(b, k * BLOCK_SIZE);
    const end = size - j * VHD_BLOCK;
    if (end < VHD_BLOCK) b.fill(0, Math.max(0, end));
    return b;
  };
  // With a base, a block the base holds and the VDI reads as zeros differs too (it goes as zeros).
  const held =
    base === undefined
      ? contents.dataBlocks(vdi)
      : [...contents.dataBlocks(vdi), ...contents.dataBlocks(base)];
  const blocks = [...new Set(held.map((i) => Math.floor(i / 2)))]
    .filter((j) => j * VHD_BLOCK < size)
    .filter((j) => base === undefined || !vhdBlock(j, vdi).equals(vhdBlock(j, base)))
    .sort((a, b) => a - b);
  const plan = planVhd(size, blocks);
  return {
    length: plan.length,
    blocks: blocks.length,
    write: (out) => writeVhd(plan, uuid, now, (j) => vhdBlock(j, vdi), out),
  };
}
