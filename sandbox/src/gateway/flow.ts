import { FLOW } from '../protocol/index.js';

/**
 * Output flow control for one terminal, as the xterm.js guide recommends: count bytes sent but not yet
 * acknowledged by the browser (it acks after xterm.js has parsed them); above `high` the producer is paused,
 * below `low` it resumes. This bounds the gateway's memory per terminal to about `high` plus one batch, whatever
 * the shell prints (`yes`), and keeps Ctrl-C answering quickly because little output is queued ahead of it.
 */
export class FlowControl {
  readonly high: number;
  readonly low: number;
  #unacked = 0;
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

  /** Records bytes sent; pauses the producer when above the high watermark. */
  sent(bytes: number): void {
    this.#unacked += bytes;
    if (!this.#paused && this.#unacked > this.high) {
      this.#paused = true;
      this.#pause();
    }
  }

  /** Records bytes the browser acknowledged (never below zero); resumes the producer below the low watermark. */
  acked(bytes: number): void {
    this.#unacked = Math.max(0, this.#unacked - bytes);
    if (this.#paused && this.#unacked < this.low) {
      this.#paused = false;
      this.#resume();
    }
  }
}
