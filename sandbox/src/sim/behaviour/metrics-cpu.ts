/**
 * CPU in the load model: what each running domain's vCPUs want (idle noise plus its workload), and what the credit
 * scheduler (credit.ts) gives them on their host with the parameters their domain was built with (credit-params.ts).
 * Load follows placement: a domain competes with the domains resident on the same host, and a busy VM moves its load
 * with it when it migrates.
 */
import type { SimRecord, SimStore } from '../contract.js';
import { creditShare, type CreditDomain } from './credit.js';
import { domainSchedParams } from './credit-params.js';
import type { DomainCpu, HostCpu, Memo } from './metrics-memo.js';
import { bool, isNull, map, num, ref, residentVms, str } from './util.js';
import { levelsAt } from './workload.js';

/** Deterministic noise in [0,1) for an object, a metric and a 5-second step. */
export function noise(key: string, t: number): number {
  let h = 2166136261;
  const s = `${key}:${String(Math.floor(t / 5000))}`;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return ((h >>> 0) % 10000) / 10000;
}

/** vCPUs of a domain: its metrics once running (set_VCPUs_number_live changes them), else VCPUs_at_startup. */
function vcpusOf(store: SimStore, vm: Readonly<SimRecord>): number {
  const metrics = store.find('VM_metrics', ref(vm, 'metrics'));
  return Math.max(1, num(metrics, 'VCPUs_number') || num(vm, 'VCPUs_at_startup'));
}

/** What each vCPU of a VM would run at `t` if nothing held it back, 0..1. */
export function vcpuWant(store: SimStore, vm: Readonly<SimRecord>, t: number): number[] {
  const uuid = str(vm, 'uuid');
  const w = levelsAt(store, uuid, t);
  const control = bool(vm, 'is_control_domain');
  const out: number[] = [];
  for (let i = 0; i < vcpusOf(store, vm); i++) {
    const idle = (control ? 0.03 : 0.01) + 0.04 * noise(`${uuid}:cpu${String(i)}`, t);
    // I/O costs the guest CPU too (interrupts, grant copies): a quarter of a disk's level, a tenth of a link's [est].
    out.push(Math.min(1, Math.max(idle, w.cpu) + w.io * 0.25 + w.net * 0.1));
  }
  return out;
}

/** Physical CPUs of a host (cpu_info.cpu_count, else its host_cpu objects). */
export function pcpusOf(store: SimStore, host: string): number {
  const h = store.get('host', host);
  return Math.max(
    1,
    Number(map(h, 'cpu_info').cpu_count ?? 0) ||
      store.all('host_cpu').filter(([, c]) => c.host === host).length ||
      1,
  );
}

function running(rec: Readonly<SimRecord> | undefined): rec is Readonly<SimRecord> {
  return str(rec, 'power_state') === 'Running';
}

/** Shares a host's pCPUs among the running domains resident on it (paused ones do not run). */
function computeHostCpu(store: SimStore, host: string, t: number): HostCpu {
  const pcpus = pcpusOf(store, host);
  const refs: string[] = [];
  const domains: CreditDomain[] = [];
  for (const vm of residentVms(store, host)) {
    const rec = store.find('VM', vm);
    if (!running(rec)) continue;
    refs.push(vm);
    domains.push({ ...domainSchedParams(store, vm, rec), want: vcpuWant(store, rec, t) });
  }
  const shares = creditShare(pcpus, domains);
  const out = new Map<string, DomainCpu>();
  let used = 0;
  let load = 0;
  shares.forEach((s, i) => {
    const vm = refs[i];
    if (vm === undefined) return;
    out.set(vm, { want: domains[i]?.want ?? [], allowed: s.allowed, got: s.got });
    for (const g of s.got) used += g;
    for (const a of s.allowed) load += a;
  });
  return { pcpus, used, load, domains: out };
}

/** The sharing of a host's pCPUs at the memo's instant. */
export function hostCpu(store: SimStore, host: string, memo: Memo): HostCpu {
  const hit = memo.hosts.get(host);
  if (hit) return hit;
  const computed = computeHostCpu(store, host, memo.t);
  memo.hosts.set(host, computed);
  return computed;
}

/** A running VM's CPU: its part of its host's sharing (alone, under its cap, when it has no host). */
export function vmCpu(store: SimStore, vm: string, rec: Readonly<SimRecord>, memo: Memo): DomainCpu {
  const host = ref(rec, 'resident_on');
  const mine =
    !isNull(host) && store.find('host', host) ? hostCpu(store, host, memo).domains.get(vm) : undefined;
  if (mine) return mine;
  const want = vcpuWant(store, rec, memo.t);
  const [alone] = creditShare(want.length, [{ ...domainSchedParams(store, vm, rec), want }]);
  return { want, allowed: alone?.allowed ?? want, got: alone?.got ?? want };
}
