import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Store } from '../store.js';
import { BLOCK_SIZE, DiskContents } from './contents.js';
import { StreamReader } from './stream-reader.js';
import { TarError, parseHeaderBlock, readEntry, tarHeader } from './tar.js';
import { VhdError, planVhd, readVhd, writeVhd } from './vhd.js';
import { xxh64Hex } from './xxhash64.js';

describe('xxh64Hex', () => {
  it('gives the reference values (seed 0), upper-case as xapi prints them', () => {
    expect(xxh64Hex(new Uint8Array(0))).toBe('EF46DB3751D8E999');
    expect(xxh64Hex(Buffer.from('a'))).toBe('D24EC4F1A98C6E5B');
    expect(xxh64Hex(Buffer.from('abc'))).toBe('44BC2CF5AD770999');
    expect(xxh64Hex(Buffer.from('Nobody inspects the spammish repetition'))).toBe('FBCEA83C8A378BF1');
  });
});

describe('tar', () => {
  it('writes headers GNU tar reads, and reads what GNU tar writes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-tar-'));
    try {
      const data = Buffer.from('hello');
      const archive = Buffer.concat([tarHeader('Ref:3/00000000', 5), data, Buffer.alloc(507 + 1024)]);
      writeFileSync(join(dir, 'a.tar'), archive);
      expect(execFileSync('tar', ['-tvf', join(dir, 'a.tar')]).toString()).toMatch(
        / 5 1970-01-01 00:00 Ref:3\/00000000\n$/,
      );
      writeFileSync(join(dir, 'ova.xml'), 'x'.repeat(700));
      execFileSync('tar', ['-cf', join(dir, 'b.tar'), '-C', dir, 'ova.xml']);
      const h = parseHeaderBlock(readFileSync(join(dir, 'b.tar')).subarray(0, 512));
      expect(h).toEqual({ name: 'ova.xml', size: 700, type: '0' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a bad checksum, links, and reports the end of the archive', async () => {
    const h = tarHeader('x', 1);
    h[0] = 0x79;
    expect(() => parseHeaderBlock(h)).toThrow(TarError);
    const link = tarHeader('l', 0);
    link[156] = 0x32; // '2': a symlink — checksum no longer matches either
    expect(() => parseHeaderBlock(link)).toThrow(/checksum/);
    expect(await readEntry(new StreamReader(Readable.from([Buffer.alloc(1024)])))).toBeUndefined();
  });
});

describe('vhd', () => {
  it('round-trips through writeVhd and readVhd, sector bitmaps honoured', async () => {
    const size = 5 * 1024 * 1024 + 512;
    const blocks = new Map<number, Buffer>([
      [0, Buffer.alloc(2 * 1024 * 1024, 7)],
      [2, Buffer.alloc(2 * 1024 * 1024, 9)],
    ]);
    const plan = planVhd(size, [0, 2]);
    const parts: Buffer[] = [];
    await writeVhd(
      plan,
      '00112233-4455-6677-8899-aabbccddeeff',
      new Date(),
      (i) => blocks.get(i) ?? Buffer.alloc(0),
      (b) => {
        parts.push(Buffer.from(b));
        return Promise.resolve();
      },
    );
    const vhd = Buffer.concat(parts);
    expect(vhd.length).toBe(plan.length);
    const got = Buffer.alloc(size);
    expect(await readVhd(new StreamReader(Readable.from([vhd])), size, (off, d) => d.copy(got, off))).toBe(
      size,
    );
    const want = Buffer.alloc(size);
    blocks.get(0)?.copy(want, 0);
    blocks.get(2)?.copy(want, 4 * 1024 * 1024, 0, size - 4 * 1024 * 1024);
    expect(got.equals(want)).toBe(true);
    await expect(
      readVhd(new StreamReader(Readable.from([vhd])), size - 512, () => undefined),
    ).rejects.toThrow(VhdError);
  });
});

describe('DiskContents', () => {
  function world(): { store: Store; contents: DiskContents; vdi: (sm?: Record<string, string>) => string } {
    const store = new Store(() => randomUUID());
    const contents = new DiskContents(store, { maxBytes: 4 * BLOCK_SIZE });
    const vdi = (sm: Record<string, string> = {}): string =>
      store.create('VDI', { virtual_size: 8 * BLOCK_SIZE, sm_config: sm });
    return { store, contents, vdi };
  }

  it('keeps only blocks holding data; zeros read back as zeros; the cap is a clear INTERNAL_ERROR', () => {
    const { contents, vdi } = world();
    const a = vdi();
    contents.write(a, BLOCK_SIZE + 10, Buffer.from('abc'));
    contents.write(a, 3 * BLOCK_SIZE, Buffer.alloc(BLOCK_SIZE));
    expect(contents.dataBlocks(a)).toEqual([1]);
    expect(contents.readBlock(a, 1)?.subarray(10, 13).toString()).toBe('abc');
    expect(contents.readBlock(a, 3)).toBeUndefined();
    expect(contents.bytes).toBe(BLOCK_SIZE);
    expect(() => {
      contents.write(a, 0, Buffer.alloc(5 * BLOCK_SIZE, 1));
    }).toThrow(/keeps at most 4 MiB/);
  });

  it('a clone moves the data into the new base copy; each leaf then writes on its own', () => {
    const { store, contents, vdi } = world();
    const src = vdi();
    contents.write(src, 0, Buffer.from('original'));
    // what behaviour/storage.ts cloneVdi does: a base copy over the old parent, the source a leaf over it
    const base = vdi();
    const baseUuid = String(store.get('VDI', base).uuid);
    store.update('VDI', src, { sm_config: { 'vhd-parent': baseUuid } });
    const clone = vdi({ 'vhd-parent': baseUuid });
    expect(contents.readBlock(clone, 0)?.subarray(0, 8).toString()).toBe('original');
    contents.write(src, 0, Buffer.from('changed!'));
    contents.write(clone, 0, Buffer.alloc(8));
    expect(contents.readBlock(src, 0)?.subarray(0, 8).toString()).toBe('changed!');
    expect(contents.readBlock(clone, 0)).toBeUndefined(); // zeros over the base's data
    expect(contents.readBlock(base, 0)?.subarray(0, 8).toString()).toBe('original');
    store.destroy('VDI', src);
    expect(contents.readBlock(base, 0)?.subarray(0, 8).toString()).toBe('original');
  });

  it('a full copy reads what its source reads (through its parents) and counts against the cap; a move counts once', () => {
    const { store, contents, vdi } = world();
    const base = vdi();
    contents.write(base, 0, Buffer.from('from the base'));
    const leaf = vdi({ 'vhd-parent': String(store.get('VDI', base).uuid) });
    contents.write(leaf, BLOCK_SIZE, Buffer.from('own'));
    const copy = vdi();
    contents.copyData(leaf, copy);
    expect(contents.dataBlocks(copy)).toEqual([0, 1]);
    expect(contents.readBlock(copy, 0)?.subarray(0, 13).toString()).toBe('from the base');
    expect(contents.bytes).toBe(4 * BLOCK_SIZE);
    // Full: nothing changes, and the error says why.
    const more = vdi();
    expect(() => {
      contents.copyData(leaf, more);
    }).toThrow(
      /^VDI_COPY_FAILED\(xenlab: this simulated pool keeps at most 4 MiB of disk contents; it holds 4 MiB/,
    );
    expect(contents.dataBlocks(more)).toEqual([]);
    // Moving the copy: its blocks change hands, nothing more is held.
    expect(contents.copyCost(copy, true)).toBe(0);
    contents.copyData(copy, more, true);
    store.destroy('VDI', copy);
    expect(contents.bytes).toBe(4 * BLOCK_SIZE);
    expect(contents.readBlock(more, 1)?.subarray(0, 3).toString()).toBe('own');
  });
});
