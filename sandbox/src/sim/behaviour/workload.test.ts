import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SimDemand } from '../contract.js';
import { createTestWorld, type TestWorld } from './test-harness.js';
import { levelAt, levelsAt, listWorkloads, setHog, setWorkload, steady } from './workload.js';

const T0 = Date.UTC(2026, 0, 1);
const at = (s: number): number => T0 + s * 1000;
const demand = (d: Partial<SimDemand>): SimDemand => ({ ...steady(0, T0), ...d });

describe('workload patterns', () => {
  it('diurnal: base at time 0, peak half a period later, back to base after a period', () => {
    const d = demand({ pattern: 'diurnal', base: 0.1, peak: 0.9, period: 600 });
    // Each level is the mean over the 5-second step that ends then.
    expect(levelAt(d, at(2.5))).toBeCloseTo(0.1, 3);
    expect(levelAt(d, at(152.5))).toBeCloseTo(0.5, 2);
    expect(levelAt(d, at(302.5))).toBeCloseTo(0.9, 3);
    expect(levelAt(d, at(602.5))).toBeCloseTo(0.1, 3);
    const curve = Array.from({ length: 60 }, (_, i) => levelAt(d, at(5 + i * 5)));
    for (let i = 1; i < 60; i++) expect(curve[i]).toBeGreaterThan(curve[i - 1] ?? 1);
  });

  it('diurnal defaults to a day and can be shifted by phase', () => {
    const day = demand({ pattern: 'diurnal', base: 0, peak: 1, period: 86_400 });
    expect(levelAt(day, at(43_200))).toBeCloseTo(1, 6);
    expect(levelAt({ ...day, phase: 43_200 }, at(5))).toBeCloseTo(1, 6);
  });

  it('bursts: peak for `on` seconds of every `every`, base between, partial in the step a burst ends', () => {
    const d = demand({ pattern: 'bursts', base: 0.05, peak: 1, on: 30, every: 120 });
    expect(levelAt(d, at(10))).toBe(1);
    expect(levelAt(d, at(30))).toBe(1);
    expect(levelAt(d, at(32))).toBeCloseTo(0.05 + 0.95 * (3 / 5), 6);
    expect(levelAt(d, at(60))).toBeCloseTo(0.05, 6);
    expect(levelAt(d, at(125))).toBe(1);
    expect(levelAt(d, at(250))).toBe(1);
    // Before it was set, the pattern runs backwards the same way (a seeded RRD history shows earlier cycles).
    expect(levelAt(d, at(-100))).toBe(1);
  });

  it('steady is its level always', () => {
    expect(levelAt(steady(0.7, T0), at(12_345))).toBe(0.7);
  });
});

describe('workloads of a world', () => {
  let w: TestWorld;
  beforeEach(async () => {
    w = await createTestWorld();
  });
  afterEach(() => {
    w.close();
  });

  it('merges per resource, removes with null or a zero level, clears all, and keeps a hog a steady demand', () => {
    const vm = w.byName('VM', 'Debian Bookworm 12');
    const uuid = String(w.get('VM', vm).uuid);
    setHog(w.ctx, vm, 'cpu', 1);
    setWorkload(w.ctx, vm, { demands: { io: steady(0.5, T0), net: steady(0.2, T0) } });
    expect(levelsAt(w.engine.store, uuid, Date.now())).toEqual({ cpu: 1, memory: 0, io: 0.5, net: 0.2 });
    setWorkload(w.ctx, vm, { demands: { net: null, cpu: steady(0, T0) } });
    expect(Object.keys(listWorkloads(w.ctx)[0]?.demands ?? {})).toEqual(['io']);
    setWorkload(w.ctx, vm, { clear: true, demands: { memory: steady(0.9, T0) } });
    expect(listWorkloads(w.ctx)).toMatchObject([
      { uuid, name_label: 'Debian Bookworm 12', now: { cpu: 0, memory: 0.9, io: 0, net: 0 } },
    ]);
    setHog(w.ctx, vm, 'io', 0);
    setWorkload(w.ctx, vm, { demands: { memory: null } });
    expect(listWorkloads(w.ctx)).toEqual([]);
    expect(() => {
      setHog(w.ctx, vm, 'cpu', 2);
    }).toThrow('INVALID_VALUE');
  });
});
