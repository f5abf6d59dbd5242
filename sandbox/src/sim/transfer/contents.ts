/**
 * What the simulated disks hold. The simulator models VDIs as records only; this store adds their bytes, sparsely:
 * 1 MiB blocks (the XVA chunk size) per VDI, only those holding a non-zero byte, so an imported disk exports the
 * same bytes and untouched space reads as zeros. Limits: at most `maxBytes` of blocks per pool (default 64 MiB;
 * a write beyond fails with `INTERNAL_ERROR ["xenlab: …"]`); kept in memory, and saved beside a state file only
 * while the whole store is at most `persistMaxBytes` (default 16 MiB; a bigger store is not saved, and is lost
 * when the simulator restarts).
 *
 * Copy-on-write follows the simulator's VHD chains (`sm-config:vhd-parent`, behaviour/storage.ts `cloneVdi`): a
 * VDI reads through its parents, and when a clone or snapshot turns a VDI holding data into a leaf over a fresh
 * "base copy", its blocks move to that base, as SM moves them. A full copy (`VDI.copy`, `VM.copy`, storage motion
 * within the pool) gets what its source reads, block for block ({@link DiskContents.copyData}; counted against
 * `maxBytes`, though blocks are shared in memory: no block is ever changed in place). Behaviours find a pool's
 * store with {@link diskContentsOf}; another pool gets a disk's bytes over HTTP (behaviour/migrate-cross-pool.ts).
 * @module
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { XapiFailure } from '../contract.js';
import type { Store } from '../store.js';

/** Block size: an XVA chunk. */
export const BLOCK_SIZE = 1024 * 1024;
/** Default most bytes of blocks one pool may hold. */
export const DEFAULT_MAX_DISK_BYTES = 64 * 1024 * 1024;
/** Default most bytes saved beside a state file. */
export const DEFAULT_PERSIST_MAX_BYTES = 16 * 1024 * 1024;
/** The longest VHD chain followed (SM's limit is 30). */
const MAX_CHAIN = 32;

interface Disk {
  /** Block index → data (BLOCK_SIZE bytes) or null: zeros hiding a parent's block. */
  readonly blocks: Map<number, Buffer | null>;
  /** The `vhd-parent` uuid last seen on the record (to notice clones). */
  parent: string | undefined;
}

/** Options of {@link DiskContents}. */
export interface DiskContentsOptions {
  readonly maxBytes?: number;
  /** Where to save the contents (beside the pool's state file); nothing is saved when absent. */
  readonly file?: string;
  readonly persistMaxBytes?: number;
}

function isZero(b: Buffer): boolean {
  // Compare 8 bytes at a time where aligned.
  let i = 0;
  const n = b.length;
  if (b.byteOffset % 8 === 0) {
    const words = new BigUint64Array(b.buffer, b.byteOffset, Math.floor(n / 8));
    for (const w of words) if (w !== 0n) return false;
    i = words.length * 8;
  }
  for (; i < n; i++) if (b[i] !== 0) return false;
  return true;
}

/** Each pool's contents, by its store (behaviours reach them through {@link diskContentsOf}). */
const byStore = new WeakMap<object, DiskContents>();

/** Called, with the pool's store, whenever a pool's contents change (behaviour/dr.ts keeps replicated SRs' data). */
const changeListeners = new Set<(store: object) => void>();

/** Calls `fn(store)` after any change to a pool's disk contents (a write, a copy, a move, a dropped disk). */
export function onContentsChange(fn: (store: object) => void): void {
  changeListeners.add(fn);
}

/** The disk contents of the pool holding `store`; none in a simulator without them (behaviour unit tests). */
export function diskContentsOf(store: object): DiskContents | undefined {
  return byStore.get(store);
}

/** The sparse contents of every VDI of one pool. */
export class DiskContents {
  readonly #store: Store;
  readonly #disks = new Map<string, Disk>();
  readonly maxBytes: number;
  readonly #file: string | undefined;
  readonly #persistMax: number;
  #bytes = 0;
  #saveTimer: NodeJS.Timeout | undefined;
  readonly #unsubscribe: () => void;

  constructor(store: Store, options: DiskContentsOptions = {}) {
    this.#store = store;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_DISK_BYTES;
    this.#file = options.file;
    this.#persistMax = options.persistMaxBytes ?? DEFAULT_PERSIST_MAX_BYTES;
    this.#load();
    this.#unsubscribe = store.subscribe((cls, ref) => {
      if (cls === 'VDI') this.#vdiChanged(ref);
    });
    byStore.set(store, this);
  }

  /** Bytes of blocks held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Stops watching the store and writes pending changes. */
  close(): void {
    if (byStore.get(this.#store) === this) byStore.delete(this.#store);
    this.#unsubscribe();
    if (this.#saveTimer) {
      clearTimeout(this.#saveTimer);
      this.#saveTimer = undefined;
      this.#save();
    }
  }

  #parentUuid(ref: string): string | undefined {
    const rec = this.#store.find('VDI', ref);
    const sm = rec?.sm_config as Record<string, unknown> | undefined;
    const p = sm?.['vhd-parent'];
    return typeof p === 'string' && p !== '' ? p : undefined;
  }

  #refOfUuid(uuid: string): string | undefined {
    try {
      return this.#store.byUuid('VDI', uuid);
    } catch {
      return undefined;
    }
  }

  /** A VDI changed: drop the blocks of a destroyed one; move a cloned one's blocks to its new base copy. */
  #vdiChanged(ref: string): void {
    const d = this.#disks.get(ref);
    if (!d) return;
    if (!this.#store.find('VDI', ref)) {
      this.#drop(ref);
      return;
    }
    const now = this.#parentUuid(ref);
    if (now === d.parent) return;
    const base = now === undefined ? undefined : this.#refOfUuid(now);
    if (base !== undefined && !this.#disks.has(base) && this.#parentUuid(base) === d.parent) {
      // cloneVdi: the source's data became the new base's; the source is now an empty leaf over it.
      this.#disks.delete(ref);
      this.#disks.set(base, { blocks: d.blocks, parent: d.parent });
    } else d.parent = now;
    this.#changed();
  }

  #drop(ref: string): void {
    const d = this.#disks.get(ref);
    if (!d) return;
    for (const b of d.blocks.values()) if (b) this.#bytes -= BLOCK_SIZE;
    this.#disks.delete(ref);
    this.#changed();
  }

  /** Forgets the contents of VDIs no longer in the pool (after a control-API restore or reset). */
  prune(): void {
    for (const ref of [...this.#disks.keys()]) if (!this.#store.find('VDI', ref)) this.#drop(ref);
  }

  /** The chain of refs a VDI reads through, itself first. */
  #chain(ref: string): string[] {
    const out = [ref];
    let cur: string | undefined = ref;
    for (let i = 0; i < MAX_CHAIN && cur !== undefined; i++) {
      const p = this.#parentUuid(cur);
      cur = p === undefined ? undefined : this.#refOfUuid(p);
      if (cur !== undefined) out.push(cur);
    }
    return out;
  }

  /** Block `index` of a VDI (BLOCK_SIZE bytes, read-only), or undefined when it reads as zeros. */
  readBlock(ref: string, index: number): Buffer | undefined {
    for (const r of this.#chain(ref)) {
      const b = this.#disks.get(r)?.blocks.get(index);
      if (b === null) return undefined;
      if (b) return b;
    }
    return undefined;
  }

  /** Indices of the blocks of a VDI that hold data (through its chain), ascending. */
  dataBlocks(ref: string): number[] {
    const seen = new Map<number, boolean>();
    for (const r of this.#chain(ref)) {
      const d = this.#disks.get(r);
      if (!d) continue;
      for (const [i, b] of d.blocks) if (!seen.has(i)) seen.set(i, b !== null);
    }
    return [...seen]
      .filter(([, v]) => v)
      .map(([i]) => i)
      .sort((a, b) => a - b);
  }

  /** Whether block `index` of a VDI's parents (not the VDI itself) holds data. */
  #parentHas(ref: string, index: number): boolean {
    const chain = this.#chain(ref).slice(1);
    for (const r of chain) {
      const b = this.#disks.get(r)?.blocks.get(index);
      if (b === null) return false;
      if (b) return true;
    }
    return false;
  }

  #disk(ref: string): Disk {
    let d = this.#disks.get(ref);
    if (!d) {
      d = { blocks: new Map(), parent: this.#parentUuid(ref) };
      this.#disks.set(ref, d);
    }
    return d;
  }

  #limit(): string {
    return `xenlab: this simulated pool keeps at most ${String(this.maxBytes / BLOCK_SIZE)} MiB of disk contents`;
  }

  #full(): XapiFailure {
    return new XapiFailure('INTERNAL_ERROR', [
      `${this.#limit()} (written blocks of 1 MiB; zeros take no room); destroy disks that hold data, or write less`,
    ]);
  }

  /** Blocks of a VDI's own that hold data (not its parents'). */
  #ownData(ref: string): number {
    let n = 0;
    for (const b of this.#disks.get(ref)?.blocks.values() ?? []) if (b) n++;
    return n;
  }

  /**
   * Bytes of blocks a full copy of `from` adds to the pool: every block it reads data from (through its parents);
   * with `move` (`from` goes once copied) its own blocks are handed over, so only its parents' are new.
   */
  copyCost(from: string, move = false): number {
    return (this.dataBlocks(from).length - (move ? this.#ownData(from) : 0)) * BLOCK_SIZE;
  }

  /**
   * Fails unless `bytes` more fit, as a copy that runs out of room fails in xapi: sparse_dd stops, and
   * sparse_dd_wrapper.ml raises `VDI_COPY_FAILED [why]` (here: the pool's cap, and what the copy needed).
   */
  assertRoom(bytes: number): void {
    if (bytes > 0 && this.#bytes + bytes > this.maxBytes)
      throw new XapiFailure('VDI_COPY_FAILED', [
        `${this.#limit()}; it holds ${String(this.#bytes / BLOCK_SIZE)} MiB and the copy needs ` +
          `${String(Math.ceil(bytes / BLOCK_SIZE))} MiB more; destroy disks that hold data, or copy less`,
      ]);
  }

  /**
   * A full copy: `to` (a disk of its own, no parent) reads what `from` reads now, block for block. `move`: `from`
   * goes right after (storage motion), so its own blocks are handed over rather than counted twice. Fails with
   * {@link assertRoom}'s `VDI_COPY_FAILED` when the copy does not fit; then nothing changed.
   */
  copyData(from: string, to: string, move = false): void {
    this.assertRoom(this.copyCost(from, move));
    const blocks = new Map<number, Buffer>();
    for (const i of this.dataBlocks(from)) {
      const b = this.readBlock(from, i);
      if (b) blocks.set(i, b);
    }
    if (move) this.#drop(from);
    this.clear(to);
    const d = this.#disk(to);
    // Shared, not duplicated: a block is replaced, never written in place (#setBlock), so both keep their bytes.
    for (const [i, b] of blocks) {
      if (!d.blocks.get(i)) this.#bytes += BLOCK_SIZE;
      d.blocks.set(i, b);
    }
    if (d.blocks.size === 0 && d.parent === this.#parentUuid(to)) this.#disks.delete(to);
    this.#changed();
  }

  /** Block indices where two VDIs read differently, ascending. */
  #differing(a: string, b: string): number[] {
    const all = new Set([...this.dataBlocks(a), ...this.dataBlocks(b)]);
    return [...all]
      .filter((i) => {
        const x = this.readBlock(a, i);
        const y = this.readBlock(b, i);
        return !(x === y || (x !== undefined && y !== undefined && x.equals(y)));
      })
      .sort((p, q) => p - q);
  }

  /**
   * Bytes of blocks a delta copy of `from` adds: the blocks holding data where it reads differently from `base`
   * (what the copy's parent reads); with `move`, its own blocks are handed over, as in {@link copyCost}.
   */
  deltaCost(from: string, base: string, move = false): number {
    const own = this.#disks.get(from)?.blocks;
    const added = this.#differing(from, base).filter(
      (i) => this.readBlock(from, i) !== undefined && !(move && own?.get(i)),
    );
    return added.length * BLOCK_SIZE;
  }

  /**
   * A delta copy, as SM makes one over a similar VDI already copied (storage_migrate.ml `copy'` with a base, sparse_dd
   * writing only the blocks that differ): `to`, a clone of the copy of `base` (so it reads what `base` reads), gets
   * the blocks where `from` reads differently, zeros included; what they share stays in their common parent. `move`:
   * `from` goes right after. Fails with {@link assertRoom}'s `VDI_COPY_FAILED` when it does not fit.
   */
  copyDelta(from: string, to: string, base: string, move = false): void {
    this.assertRoom(this.deltaCost(from, base, move));
    const diff = this.#differing(from, base).map((i) => [i, this.readBlock(from, i)] as const);
    if (move) this.#drop(from);
    const d = this.#disk(to);
    for (const [i, b] of diff) {
      if (d.blocks.get(i)) this.#bytes -= BLOCK_SIZE;
      if (b) this.#bytes += BLOCK_SIZE;
      // Shared, not duplicated (blocks are never written in place); null hides the parent's data: zeros here.
      d.blocks.set(i, b ?? null);
    }
    this.#changed();
  }

  /**
   * Writes only the blocks of `data` (at a block-aligned `offset`) that differ from what the VDI reads now: a delta
   * image applied over a clone (behaviour/migrate-cross-pool.ts), so what it shares with its parent stays shared.
   */
  patch(ref: string, offset: number, data: Buffer): void {
    for (let pos = 0; pos < data.length; pos += BLOCK_SIZE) {
      const piece = data.subarray(pos, pos + BLOCK_SIZE);
      const cur = this.readBlock(ref, Math.floor((offset + pos) / BLOCK_SIZE));
      const same = cur
        ? cur.subarray(0, piece.length).equals(piece) && isZero(cur.subarray(piece.length))
        : isZero(piece);
      if (!same) this.write(ref, offset + pos, piece);
    }
  }

  /** Sets one whole block (`data` shorter than a block is padded with zeros). */
  #setBlock(ref: string, index: number, data: Buffer): void {
    const d = this.#disk(ref);
    const old = d.blocks.get(index);
    if (isZero(data)) {
      if (old) this.#bytes -= BLOCK_SIZE;
      if (this.#parentHas(ref, index)) d.blocks.set(index, null);
      else d.blocks.delete(index);
    } else {
      if (!old) {
        if (this.#bytes + BLOCK_SIZE > this.maxBytes) throw this.#full();
        this.#bytes += BLOCK_SIZE;
      }
      const b = Buffer.alloc(BLOCK_SIZE);
      data.copy(b, 0, 0, Math.min(data.length, BLOCK_SIZE));
      d.blocks.set(index, b);
    }
    if (d.blocks.size === 0 && d.parent === this.#parentUuid(ref)) this.#disks.delete(ref);
    this.#changed();
  }

  /** Writes `data` at byte `offset` of a VDI. */
  write(ref: string, offset: number, data: Buffer): void {
    let pos = 0;
    while (pos < data.length) {
      const at = offset + pos;
      const index = Math.floor(at / BLOCK_SIZE);
      const inBlock = at - index * BLOCK_SIZE;
      const n = Math.min(BLOCK_SIZE - inBlock, data.length - pos);
      const piece = data.subarray(pos, pos + n);
      if (inBlock === 0 && n === BLOCK_SIZE) this.#setBlock(ref, index, piece);
      else {
        const cur = this.readBlock(ref, index);
        if (!cur && isZero(piece)) {
          // zeros over zeros: nothing to record
        } else {
          const b = Buffer.alloc(BLOCK_SIZE);
          if (cur) cur.copy(b);
          piece.copy(b, inBlock);
          this.#setBlock(ref, index, b);
        }
      }
      pos += n;
    }
  }

  /** Makes a VDI read as zeros everywhere (before a whole-image import). */
  clear(ref: string): void {
    const d = this.#disks.get(ref);
    const hasParentData = this.#chain(ref)
      .slice(1)
      .some((r) => (this.#disks.get(r)?.blocks.size ?? 0) > 0);
    if (d) {
      for (const b of d.blocks.values()) if (b) this.#bytes -= BLOCK_SIZE;
      d.blocks.clear();
    }
    if (hasParentData) {
      const dd = this.#disk(ref);
      for (const i of this.dataBlocks(ref)) dd.blocks.set(i, null);
    } else this.#disks.delete(ref);
    this.#changed();
  }

  /**
   * A VDI's own blocks (not its parents'): index → data, or null for zeros hiding a parent's block. The buffers are
   * never written in place, so a caller may keep them and compare by identity to notice changes.
   */
  ownBlocks(ref: string): ReadonlyMap<number, Buffer | null> {
    return new Map(this.#disks.get(ref)?.blocks ?? []);
  }

  /**
   * Gives a VDI these own blocks, as the storage holds them (a disk on replicated storage that another pool
   * introduces: behaviour/dr.ts). Fails with the cap's `INTERNAL_ERROR` when they do not fit; then nothing changed.
   */
  restore(ref: string, blocks: ReadonlyMap<number, Buffer | null>): void {
    const old = this.#ownData(ref);
    let added = 0;
    for (const b of blocks.values()) if (b) added++;
    if (this.#bytes + (added - old) * BLOCK_SIZE > this.maxBytes) throw this.#full();
    this.#drop(ref);
    if (blocks.size === 0) return;
    const d = this.#disk(ref);
    for (const [i, b] of blocks) {
      if (b) {
        const buf = Buffer.alloc(BLOCK_SIZE);
        b.copy(buf, 0, 0, Math.min(b.length, BLOCK_SIZE));
        d.blocks.set(i, buf);
        this.#bytes += BLOCK_SIZE;
      } else d.blocks.set(i, null);
    }
    this.#changed();
  }

  /** Fails with the cap's `INTERNAL_ERROR` unless `bytes` more of blocks fit. */
  assertCanHold(bytes: number): void {
    if (bytes > 0 && this.#bytes + bytes > this.maxBytes) throw this.#full();
  }

  #changed(): void {
    for (const fn of changeListeners) fn(this.#store);
    if (this.#file === undefined || this.#saveTimer) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      this.#save();
    }, 250);
    this.#saveTimer.unref();
  }

  /** Saves (atomically) when small enough; removes an older save otherwise, so it cannot come back stale. */
  #save(): void {
    const file = this.#file;
    if (file === undefined) return;
    try {
      this.prune();
      if (this.#bytes > this.#persistMax) {
        rmSync(file, { force: true });
        return;
      }
      const disks: [string, string | null, [number, string | null][]][] = [];
      for (const [ref, d] of this.#disks)
        disks.push([
          ref,
          d.parent ?? null,
          [...d.blocks].map(([i, b]) => [i, b ? b.toString('base64') : null] as [number, string | null]),
        ]);
      mkdirSync(dirname(file), { recursive: true });
      const tmp = `${file}.${String(process.pid)}.tmp`;
      writeFileSync(tmp, JSON.stringify({ format: 'xenlab-sim-disks', version: 1, disks }), { mode: 0o600 });
      renameSync(tmp, file);
    } catch (e) {
      process.emitWarning(`xenlab sim: could not save disk contents to ${file}: ${(e as Error).message}`);
    }
  }

  #load(): void {
    const file = this.#file;
    if (file === undefined) return;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    try {
      const data = JSON.parse(text) as {
        format?: unknown;
        disks?: [string, string | null, [number, string | null][]][];
      };
      if (data.format !== 'xenlab-sim-disks' || !Array.isArray(data.disks))
        throw new Error('not a disks file');
      for (const [ref, parent, blocks] of data.disks) {
        if (!this.#store.find('VDI', ref)) continue;
        const d: Disk = { blocks: new Map(), parent: parent ?? undefined };
        for (const [i, b] of blocks) {
          if (b === null) d.blocks.set(i, null);
          else {
            if (this.#bytes + BLOCK_SIZE > this.maxBytes) break;
            const buf = Buffer.alloc(BLOCK_SIZE);
            Buffer.from(b, 'base64').copy(buf);
            d.blocks.set(i, buf);
            this.#bytes += BLOCK_SIZE;
          }
        }
        this.#disks.set(ref, d);
      }
    } catch (e) {
      process.emitWarning(`xenlab sim: ignoring unreadable disk contents ${file}: ${(e as Error).message}`);
    }
  }
}
