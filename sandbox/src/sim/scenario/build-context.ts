/**
 * What every part of the scenario builder shares: the store, the random source for MACs, the build time, and
 * `make`, which creates an object and remembers its ref. Objects are created in a fixed order (uuids and MACs come
 * from seeded sources, so the order is part of what a seed builds).
 */
import type { SimRecord, SimStore } from '../contract.js';
import { newMap } from '../codec.js';

export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;

/** One build in progress. */
export interface ScenarioBuild {
  readonly store: SimStore;
  /** Drives MACs. */
  readonly random: () => number;
  /** The install time stamped on metrics and dom0s. */
  readonly now: Date;
  /** Creates an object of class `cls` and records it among the created refs; returns its ref. */
  make(cls: string, fields: SimRecord): string;
}

/** Starts a build; `created` collects `[class, ref]` of every object `make` creates, in order. */
export function startBuild(
  store: SimStore,
  random: () => number,
  now: Date,
): { build: ScenarioBuild; created: [string, string][] } {
  const created: [string, string][] = [];
  const make = (cls: string, fields: SimRecord): string => {
    const ref = store.create(cls, fields);
    created.push([cls, ref]);
    return ref;
  };
  return { build: { store, random, now, make }, created };
}

/** A XenAPI string→string map field from a plain object. */
export function strMap(o: Readonly<Record<string, string>>): Record<string, unknown> {
  const m = newMap();
  for (const [k, v] of Object.entries(o)) m[k] = v;
  return m;
}
