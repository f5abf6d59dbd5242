/**
 * A pull reader over a byte stream (an HTTP request body, a decompressor): exact reads, skips and short reads, with
 * at most one read's worth of bytes buffered, so a client controls how fast it sends and never how much we hold.
 * An idle deadline ends a stream that stops sending (slow-drip defence for uploads that may legitimately take long).
 * @module
 */

/** The stream ended before the bytes a reader needed (xapi: `End_of_file`). */
export class EndOfStream extends Error {
  constructor(
    readonly wanted: number,
    readonly had: number,
  ) {
    super(`the stream ended early: ${String(had)} of ${String(wanted)} bytes`);
    this.name = 'EndOfStream';
  }
}

/** No byte arrived for the idle deadline. */
export class StreamIdle extends Error {
  constructor(ms: number) {
    super(`no data for ${String(Math.round(ms / 1000))} s`);
    this.name = 'StreamIdle';
  }
}

/** Reads exactly what is asked of an async byte source. */
export class StreamReader {
  readonly #it: AsyncIterator<unknown>;
  readonly #idleMs: number;
  #bufs: Buffer[] = [];
  #len = 0;
  #done = false;
  /** Bytes handed out so far (reads and skips). */
  consumed = 0;

  constructor(source: AsyncIterable<unknown>, idleMs = 60_000) {
    this.#it = source[Symbol.asyncIterator]();
    this.#idleMs = idleMs;
  }

  async #next(): Promise<IteratorResult<unknown>> {
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new StreamIdle(this.#idleMs));
      }, this.#idleMs);
    });
    try {
      return await Promise.race([this.#it.next(), idle]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Buffers until `n` bytes are available or the stream ended; true when they are. */
  async #fill(n: number): Promise<boolean> {
    while (this.#len < n && !this.#done) {
      const r = await this.#next();
      if (r.done === true) {
        this.#done = true;
        break;
      }
      const v = r.value;
      const b = Buffer.isBuffer(v)
        ? v
        : v instanceof Uint8Array
          ? Buffer.from(v.buffer, v.byteOffset, v.byteLength)
          : Buffer.from(String(v));
      if (b.length === 0) continue;
      this.#bufs.push(b);
      this.#len += b.length;
    }
    return this.#len >= n;
  }

  #take(n: number): Buffer {
    const first = this.#bufs[0];
    let out: Buffer;
    if (first && first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#bufs.shift();
      else this.#bufs[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const b = this.#bufs[0];
        if (!b) break;
        const k = Math.min(b.length, n - off);
        b.copy(out, off, 0, k);
        off += k;
        if (k === b.length) this.#bufs.shift();
        else this.#bufs[0] = b.subarray(k);
      }
    }
    this.#len -= n;
    this.consumed += n;
    return out;
  }

  /** Exactly `n` bytes, or {@link EndOfStream}. */
  async read(n: number): Promise<Buffer> {
    if (n === 0) return Buffer.alloc(0);
    if (!(await this.#fill(n))) throw new EndOfStream(n, this.#len);
    return this.#take(n);
  }

  /** Between 1 and `max` bytes, or undefined at the end of the stream. */
  async readSome(max: number): Promise<Buffer | undefined> {
    if (!(await this.#fill(1)) && this.#len === 0) return undefined;
    return this.#take(Math.min(max, this.#len));
  }

  /** Up to `n` bytes: fewer only when the stream ends first. */
  async readUpTo(n: number): Promise<Buffer> {
    await this.#fill(n);
    return this.#take(Math.min(n, this.#len));
  }

  /** Discards exactly `n` bytes, or {@link EndOfStream}. */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      const b = await this.readSome(Math.min(left, 1 << 20));
      if (!b) throw new EndOfStream(n, n - left);
      left -= b.length;
    }
  }

  /** Puts bytes back in front (a peeked header). */
  unshift(b: Buffer): void {
    if (b.length === 0) return;
    this.#bufs.unshift(b);
    this.#len += b.length;
    this.consumed -= b.length;
  }

  /** True when nothing is left. */
  async atEnd(): Promise<boolean> {
    return !(await this.#fill(1));
  }

  /** Reads and discards up to `max` more bytes; true when the stream ended within them. */
  async drain(max: number): Promise<boolean> {
    let left = max;
    while (left > 0) {
      const b = await this.readSome(Math.min(left, 1 << 20));
      if (!b) return true;
      left -= b.length;
    }
    return this.atEnd();
  }

  /** Every byte left, as one async iterable (for piping the rest into a decompressor). */
  async *rest(): AsyncGenerator<Buffer> {
    while (this.#bufs.length > 0) {
      const b = this.#bufs.shift();
      if (b) {
        this.#len -= b.length;
        this.consumed += b.length;
        yield b;
      }
    }
    while (!this.#done) {
      const r = await this.#next();
      if (r.done === true) {
        this.#done = true;
        break;
      }
      const v = r.value;
      const b = Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array);
      this.consumed += b.length;
      yield b;
    }
  }
}
