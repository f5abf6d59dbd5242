import { FLOW } from '../protocol/index.js';

/**
 * Output flow control for one terminal, as the xterm.js guide recommends: count bytes sent but not yet
 * acknowledged by the browser (it acks after xterm.js has parsed them); above `high` the producer is paused,
 * below `low` it resumes. This bounds the gateway's memory per terminal to about `high` plus one batch, whatever
 * the shell prints (`yes`), and keeps Ctrl-C answering quickly because little output is queued ahead of it.
 *
 * Acks are the client's word and are never trusted beyond what was sent: an ack is credited at most up to the
 * bytes outstanding (an ack ahead of the output, or a bogus huge one, earns no credit for later output). A client
 * that acks output it never read still has its socket's unsent backlog bounded separately (see
 * `VIEWER_BACKLOG_BYTES` in `sessions/shared-terminal.ts`).
 */
export class FlowControl {
  readonly high: number;
  readonly low: number;
  #unacked = 0;
  #sent = 0;
  #acked = 0;
  #overAcked = 0;
  #paused = false;
  readonly #pause: () => void;
  readonly #resume: () => void;

  constructor(pause: () => void, resume: () => void, high: number = FLOW.HIGH, low: number = FLOW.LOW) {
    if (low >= high) throw new RangeError('flow control: low watermark must be below high');
    this.high = high;
    this.low = low;
    this.#pause = pause;
    this.#resume = resume;
  }

  /** Bytes sent to the browser and not yet acknowledged. */
  get unacked(): number {
    return this.#unacked;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Totals for tests and diagnostics: bytes sent, bytes credited by acks, bytes acked beyond what was sent. */
  get totals(): { sent: number; acked: number; overAcked: number } {
    return { sent: this.#sent, acked: this.#acked, overAcked: this.#overAcked };
  }

  /** Records bytes sent; pauses the producer when above the high watermark. */
  sent(bytes: number): void {
    this.#unacked += bytes;
    this.#sent += bytes;
    if (!this.#paused && this.#unacked > this.high) {
      this.#paused = true;
      this.#pause();
    }
  }

  /**
   * Records bytes the browser acknowledged, credited at most up to the bytes outstanding (the excess is ignored
   * and counted); resumes the producer below the low watermark.
   */
  acked(bytes: number): void {
    const n = Number.isFinite(bytes) && bytes > 0 ? Math.trunc(bytes) : 0;
    const credit = Math.min(n, this.#unacked);
    this.#overAcked += n - credit;
    this.#unacked -= credit;
    this.#acked += credit;
    if (this.#paused && this.#unacked < this.low) {
      this.#paused = false;
      this.#resume();
    }
  }

  /** Releases the producer for good (the viewer left): nothing it had outstanding holds the shell any more. */
  release(): void {
    this.#unacked = 0;
    if (this.#paused) {
      this.#paused = false;
      this.#resume();
    }
  }
}
