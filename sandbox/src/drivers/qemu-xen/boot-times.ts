/**
 * Boot durations measured on this machine (`<states>/boot-times.json`), for the ETA a page shows while a host
 * boots.
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/qemu-xen');

/** Boot durations measured on this machine, for the ETA a page shows while a host boots (last few per kind). */
export class BootTimes {
  /** Until something was measured: TCG cold boots measured 30-75 s alone, ~2 min with the CPUs shared. */
  static readonly DEFAULTS: Readonly<Record<string, number>> = {
    'cold-tcg': 100_000,
    'cold-kvm': 25_000,
    'pxe-tcg': 150_000,
    'pxe-kvm': 40_000,
    restore: 5_000,
  };
  private times: Record<string, number[]>;
  constructor(private readonly file: string) {
    try {
      this.times = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number[]>;
    } catch {
      // Deliberate: no measurements yet (first boot) or a torn file: estimates start over.
      this.times = {};
    }
  }

  record(kind: string, ms: number): void {
    this.times[kind] = [...(this.times[kind] ?? []), Math.round(ms)].slice(-5);
    try {
      writeFileSync(this.file, JSON.stringify(this.times));
    } catch (err) {
      // Only an estimate: not kept this time.
      log.debug('could not save boot times', { file: this.file, err });
    }
  }

  /** The median of the last measurements of `kind`, else the default. */
  estimate(kind: string): number {
    const t = [...(this.times[kind] ?? [])].sort((a, b) => a - b);
    return t.length > 0 ? (t[Math.floor(t.length / 2)] ?? 0) : (BootTimes.DEFAULTS[kind] ?? 60_000);
  }
}
