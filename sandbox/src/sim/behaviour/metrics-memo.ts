/**
 * The per-sample memo of the metrics model. Core samples every host and every running VM at one instant, and each
 * VM's CPU depends on the credit scheduler's sharing of its whole host; without the memo a sample of 1000 VMs would
 * share each host 1000 times. A memo lives for one instant (`t`, ms) of one store (a world); anything that changes
 * the model without touching the store (a workload, a domain's scheduler parameters) forgets it, so the next read —
 * and so the next RRD sample, `top` and `bottleneck` — reflects the change.
 */
import type { SimDataSources, SimStore } from '../contract.js';

/** One domain's CPU on its host, per vCPU (fractions of one pCPU). */
export interface DomainCpu {
  /** What each vCPU would run if nothing held it back (idle noise plus its workload). */
  readonly want: readonly number[];
  /** What it may run under its domain's cap: `want` less the time its vCPUs are parked by the cap. */
  readonly allowed: readonly number[];
  /** What it runs: its share of the host's pCPUs (cpu<N>). */
  readonly got: readonly number[];
}

/** The credit scheduler's sharing of one host's pCPUs at one instant. */
export interface HostCpu {
  readonly pcpus: number;
  /** pCPUs' worth in use (the sum of every domain's `got`). */
  readonly used: number;
  /** vCPUs that want to run and may (the sum of `allowed`): the run queue `loadavg` follows. */
  readonly load: number;
  /** By VM ref, every running domain resident on the host (its dom0 included). */
  readonly domains: ReadonlyMap<string, DomainCpu>;
}

export interface Memo {
  readonly t: number;
  readonly hosts: Map<string, HostCpu>;
  readonly vms: Map<string, SimDataSources>;
}

const memos = new WeakMap<SimStore, Memo>();

/** A fresh memo, kept by no one (one-off reads such as `query_data_source`). */
export function freshMemo(t: number): Memo {
  return { t, hosts: new Map(), vms: new Map() };
}

/** The store's memo for instant `t` (a new one when the last was for another instant or was forgotten). */
export function memoFor(store: SimStore, t: number): Memo {
  let m = memos.get(store);
  if (m?.t !== t) {
    m = freshMemo(t);
    memos.set(store, m);
  }
  return m;
}

/** Forgets the store's memo: the model changed. */
export function forgetMemo(store: SimStore): void {
  memos.delete(store);
}
