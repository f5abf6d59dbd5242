import { describe, expect, it } from 'vitest';
import { creditShare, waterFill } from './credit.js';

const busy = (n: number): number[] => Array<number>(n).fill(1);
const total = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

describe('credit scheduler sharing', () => {
  it('shares a contended host 2:1 between weights 512 and 256', () => {
    const [a, b] = creditShare(4, [
      { weight: 512, cap: 0, want: busy(4) },
      { weight: 256, cap: 0, want: busy(4) },
    ]);
    expect(total(a?.got ?? [])).toBeCloseTo(8 / 3, 6);
    expect(total(b?.got ?? [])).toBeCloseTo(4 / 3, 6);
    // Contention is waiting: what a domain may run but does not get.
    expect(total(b?.allowed ?? [])).toBe(4);
  });

  it('weighs per active vCPU, as credit1 does: equal weights, 4 busy vCPUs get twice what 2 get', () => {
    const [big, small] = creditShare(3, [
      { weight: 256, cap: 0, want: busy(4) },
      { weight: 256, cap: 0, want: busy(2) },
    ]);
    expect(total(big?.got ?? []) / total(small?.got ?? [])).toBeCloseTo(2, 6);
  });

  it('holds a cap with and without contention, and parks rather than queues the rest', () => {
    const [alone] = creditShare(8, [{ weight: 256, cap: 150, want: busy(4) }]);
    expect(total(alone?.got ?? [])).toBeCloseTo(1.5, 6);
    expect(total(alone?.allowed ?? [])).toBeCloseTo(1.5, 6);
    const [capped, other] = creditShare(2, [
      { weight: 65535, cap: 50, want: busy(2) },
      { weight: 256, cap: 0, want: busy(2) },
    ]);
    expect(total(capped?.got ?? [])).toBeCloseTo(0.5, 6);
    expect(total(other?.got ?? [])).toBeCloseTo(1.5, 6);
  });

  it('is work-conserving: what an idle domain leaves goes to the busy one, never above 1.0 per vCPU', () => {
    const [heavy, idle] = creditShare(4, [
      { weight: 256, cap: 0, want: busy(8) },
      { weight: 4096, cap: 0, want: [0.05, 0.05] },
    ]);
    expect(idle?.got).toEqual([0.05, 0.05]);
    expect(total(heavy?.got ?? [])).toBeCloseTo(3.9, 6);
    const [solo] = creditShare(8, [{ weight: 256, cap: 0, want: [1, 0.2] }]);
    expect(solo?.got).toEqual([1, 0.2]);
  });

  it('never hands out more than the host has', () => {
    const shares = creditShare(2, [
      { weight: 300, cap: 0, want: [0.9, 0.3, 1] },
      { weight: 100, cap: 120, want: [1, 1] },
      { weight: 1, cap: 0, want: [0.01] },
    ]);
    const all = shares.flatMap((s) => s.got);
    expect(total(all)).toBeCloseTo(2, 6);
    for (const g of all) expect(g).toBeLessThanOrEqual(1);
  });

  it('water-fills in proportion to weight, each item within its limit', () => {
    expect(
      waterFill(10, [
        { limit: 1, weight: 1 },
        { limit: 100, weight: 1 },
        { limit: 100, weight: 2 },
      ]),
    ).toEqual([1, 3, 6]);
    expect(waterFill(10, [{ limit: 2, weight: 1 }])).toEqual([2]);
  });
});
