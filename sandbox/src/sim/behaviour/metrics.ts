/**
 * The load model behind the RRD data sources (NOTES §4; names from ocaml/xcp-rrdd/bin/rrdp-*): what each running VM
 * and each host would report now. Load follows placement: a VM's demand is computed from the VM itself (idle noise
 * plus any injected CPU or I/O hog), and a host sums the demand of the domains resident on it, so a hog shows up on
 * its VM and its host, and moves with the VM. When a host's vCPU demand exceeds its pCPUs every guest gets a
 * proportional share (the noisy-neighbour effect) and `runstate_runnable` grows.
 */
import type { SimContext, SimDataSources, SimMetrics, SimRecord, SimStore } from '../contract.js';
import { hostFreeMemory, hostMemoryTotal } from './placement.js';
import { bool, fail, isNull, map, num, pifsOfHost, ref, residentVms, str, vbdsOf, vifsOf } from './util.js';

/** Injected load per VM uuid: fraction 0..1 of its capacity. Kept per store (a world) so worlds never share it. */
const hogs = new WeakMap<SimStore, Map<string, { cpu: number; io: number }>>();

/** Sets (level > 0) or clears (0) a CPU or I/O hog in a VM; it follows the VM wherever it runs. */
export function setHog(store: SimStore, vm: string, kind: 'cpu' | 'io', level: number): void {
  const rec = store.get('VM', vm);
  if (!Number.isFinite(level) || level < 0 || level > 1) fail('INVALID_VALUE', 'level', String(level));
  let m = hogs.get(store);
  if (!m) {
    m = new Map();
    hogs.set(store, m);
  }
  const uuid = str(rec, 'uuid');
  memos.delete(store);
  const cur = m.get(uuid) ?? { cpu: 0, io: 0 };
  cur[kind] = level;
  if (cur.cpu === 0 && cur.io === 0) m.delete(uuid);
  else m.set(uuid, cur);
}

function hogOf(store: SimStore, vm: Readonly<SimRecord>): { cpu: number; io: number } {
  return hogs.get(store)?.get(str(vm, 'uuid')) ?? { cpu: 0, io: 0 };
}

/** Deterministic noise in [0,1) for an object, a metric and a 5-second step. */
function noise(key: string, t: number): number {
  let h = 2166136261;
  const s = `${key}:${String(Math.floor(t / 5000))}`;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return ((h >>> 0) % 10000) / 10000;
}

interface VmDemand {
  /** Wanted CPU per vCPU, 0..1. */
  readonly perVcpu: readonly number[];
  readonly io: number;
}

function vmDemand(store: SimStore, vm: Readonly<SimRecord>, t: number): VmDemand {
  const uuid = str(vm, 'uuid');
  const hog = hogOf(store, vm);
  const metrics = store.find('VM_metrics', ref(vm, 'metrics'));
  const vcpus = Math.max(1, num(metrics, 'VCPUs_number') || num(vm, 'VCPUs_at_startup'));
  const control = bool(vm, 'is_control_domain');
  const perVcpu: number[] = [];
  for (let i = 0; i < vcpus; i++) {
    const idle = (control ? 0.03 : 0.01) + 0.04 * noise(`${uuid}:cpu${String(i)}`, t);
    // An I/O hog also costs CPU (interrupts, grant copies): a quarter of its level.
    perVcpu.push(Math.min(1, Math.max(idle, hog.cpu) + hog.io * 0.25));
  }
  return { perVcpu, io: hog.io };
}

/**
 * Per-sample memo: core samples every host and every VM at one instant, and each VM's share depends on its host's
 * total demand; without it a sample of 1000 VMs would recompute each host's demand 1000 times.
 */
interface Memo {
  readonly t: number;
  readonly share: Map<string, { share: number; demand: number; pcpus: number }>;
  readonly vm: Map<string, SimDataSources>;
}
const memos = new WeakMap<SimStore, Memo>();

function memoFor(store: SimStore, t: number): Memo {
  let m = memos.get(store);
  if (m?.t !== t) {
    m = { t, share: new Map(), vm: new Map() };
    memos.set(store, m);
  }
  return m;
}

/** CPU share guests get on a host: 1 unless the vCPU demand exceeds the physical CPUs. */
function hostShare(
  store: SimStore,
  host: string,
  t: number,
  memo?: Memo,
): { share: number; demand: number; pcpus: number } {
  const hit = memo?.share.get(host);
  if (hit) return hit;
  const computed = computeHostShare(store, host, t);
  memo?.share.set(host, computed);
  return computed;
}

function computeHostShare(
  store: SimStore,
  host: string,
  t: number,
): { share: number; demand: number; pcpus: number } {
  const h = store.get('host', host);
  const pcpus = Math.max(
    1,
    Number(map(h, 'cpu_info').cpu_count ?? 0) ||
      store.all('host_cpu').filter(([, c]) => c.host === host).length ||
      1,
  );
  let demand = 0;
  for (const vm of residentVms(store, host)) {
    const rec = store.find('VM', vm);
    if (!rec || str(rec, 'power_state') !== 'Running') continue;
    for (const c of vmDemand(store, rec, t).perVcpu) demand += c;
  }
  return { share: demand > pcpus ? pcpus / demand : 1, demand, pcpus };
}

function deviceOf(store: SimStore, vbd: string): string {
  const r = store.find('VBD', vbd);
  return str(r, 'device') || `xvd${String.fromCharCode(97 + Number(str(r, 'userdevice') || 0))}`;
}

/** Data sources of a running VM now. */
export function vmDataSources(store: SimStore, vmRef: string, now: Date, memo?: Memo): SimDataSources {
  const cached = memo?.vm.get(vmRef);
  if (cached) return cached;
  const vm = store.get('VM', vmRef);
  const t = now.getTime();
  const uuid = str(vm, 'uuid');
  const out: Record<string, number> = {};
  const host = ref(vm, 'resident_on');
  const running = str(vm, 'power_state') === 'Running';
  const { share } =
    !isNull(host) && store.find('host', host) ? hostShare(store, host, t, memo) : { share: 1 };
  const d = vmDemand(store, vm, t);
  d.perVcpu.forEach((c, i) => {
    out[`cpu${String(i)}`] = running ? c * share : 0;
  });
  out.runstate_fullrun = running ? (d.perVcpu.reduce((a, b) => a + b, 0) / d.perVcpu.length) * share : 0;
  out.runstate_runnable = running ? (1 - share) * 0.5 : 0;
  const metrics = store.find('VM_metrics', ref(vm, 'metrics'));
  const actual = num(metrics, 'memory_actual');
  out.memory = actual;
  out.memory_target = num(vm, 'memory_dynamic_max');
  out.memory_internal_free = Math.round(
    (actual / 1024) * (0.55 - 0.1 * noise(`${uuid}:mem`, t) - 0.4 * d.io),
  );
  for (const vif of vifsOf(store, vmRef)) {
    const dev = str(store.find('VIF', vif), 'device') || '0';
    const base = 2000 + 20000 * noise(`${uuid}:vif${dev}`, t);
    out[`vif_${dev}_rx`] = running ? base + d.io * 40e6 * 0.2 : 0;
    out[`vif_${dev}_tx`] = running ? base * 0.6 + d.io * 40e6 * 0.05 : 0;
    out[`vif_${dev}_rx_errors`] = 0;
    out[`vif_${dev}_tx_errors`] = 0;
  }
  for (const vbd of vbdsOf(store, vmRef)) {
    const r = store.find('VBD', vbd);
    if (!r || bool(r, 'empty') || str(r, 'type') === 'CD') continue;
    const dev = deviceOf(store, vbd);
    const read = running ? 20_000 + 200_000 * noise(`${uuid}:${dev}:r`, t) + d.io * 120e6 : 0;
    const write = running ? 10_000 + 100_000 * noise(`${uuid}:${dev}:w`, t) + d.io * 80e6 : 0;
    out[`vbd_${dev}_read`] = read;
    out[`vbd_${dev}_write`] = write;
    out[`vbd_${dev}_iops_read`] = read / 4096;
    out[`vbd_${dev}_iops_write`] = write / 4096;
    out[`vbd_${dev}_iops_total`] = (read + write) / 4096;
    // Latency in ms: a saturated disk queues (an I/O hog also slows its neighbours on the same SR [est]).
    out[`vbd_${dev}_latency`] = running ? 0.4 + 25 * d.io + 2 * noise(`${uuid}:${dev}:l`, t) : 0;
    out[`vbd_${dev}_avgqu_sz`] = running ? 0.05 + 30 * d.io : 0;
  }
  memo?.vm.set(vmRef, out);
  return out;
}

/** Data sources of a host now. */
export function hostDataSources(store: SimStore, host: string, now: Date, given?: Memo): SimDataSources {
  const h = store.get('host', host);
  const t = now.getTime();
  const memo = given ?? { t, share: new Map(), vm: new Map() };
  const out: Record<string, number> = {};
  const live = bool(store.find('host_metrics', ref(h, 'metrics')), 'live');
  const { share, demand, pcpus } = hostShare(store, host, t, memo);
  const used = Math.min(pcpus, demand * share);
  let sum = 0;
  for (let i = 0; i < pcpus; i++) {
    // Spread the load over the pCPUs with a little per-CPU jitter, keeping the average exact.
    const jitter = (noise(`${str(h, 'uuid')}:cpu${String(i)}`, t) - 0.5) * 0.04;
    const v = live ? Math.min(1, Math.max(0, used / pcpus + jitter)) : 0;
    out[`cpu${String(i)}`] = v;
    sum += v;
  }
  out.cpu_avg = sum / pcpus;
  out.loadavg = live ? demand + 0.1 * noise(`${str(h, 'uuid')}:load`, t) : 0;
  out.memory_total_kib = Math.round(hostMemoryTotal(store, host) / 1024);
  out.memory_free_kib = Math.round(hostFreeMemory(store, host) / 1024);
  out.memory_reclaimed = 0;
  out.xapi_memory_usage_kib = 180_000;
  let aggrRx = 0;
  let aggrTx = 0;
  for (const pif of pifsOfHost(store, host)) {
    const p = store.find('PIF', pif);
    if (!p || !bool(p, 'physical')) continue;
    const dev = str(p, 'device');
    const carrier =
      bool(store.find('PIF_metrics', ref(p, 'metrics')), 'carrier') || isNull(ref(p, 'metrics'));
    let rx = 0;
    let tx = 0;
    if (live && carrier) {
      rx = 1500 + 3000 * noise(`${str(p, 'uuid')}:rx`, t);
      tx = 800 + 2000 * noise(`${str(p, 'uuid')}:tx`, t);
      // Guest traffic leaves through the PIF on the VIF's network (bond members share their master's).
      const net = ref(p, 'network');
      for (const vm of residentVms(store, host)) {
        const rec = store.find('VM', vm);
        if (!rec || bool(rec, 'is_control_domain')) continue;
        const ds = vmDataSources(store, vm, now, memo);
        for (const vif of vifsOf(store, vm)) {
          const v = store.find('VIF', vif);
          if (v?.network !== net) continue;
          const d = str(v, 'device') || '0';
          rx += ds[`vif_${d}_rx`] ?? 0;
          tx += ds[`vif_${d}_tx`] ?? 0;
        }
      }
    }
    out[`pif_${dev}_rx`] = rx;
    out[`pif_${dev}_tx`] = tx;
    out[`pif_${dev}_rx_errors`] = 0;
    out[`pif_${dev}_tx_errors`] = 0;
    aggrRx += rx;
    aggrTx += tx;
  }
  out.pif_aggr_rx = aggrRx;
  out.pif_aggr_tx = aggrTx;
  return out;
}

const UNITS: readonly [RegExp, string, string][] = [
  [/^cpu(\d+|_avg)$/, '(fraction)', 'Physical or virtual CPU usage'],
  [/^memory(_target)?$/, 'B', 'Memory currently allocated'],
  [/_kib$/, 'KiB', 'Memory in KiB'],
  [/^loadavg$/, '', 'Domain0 loadavg'],
  [/_(rx|tx)$/, 'B/s', 'Bytes per second'],
  [/_(read|write)$/, 'B/s', 'Bytes per second'],
  [/_latency$/, 'ms', 'I/O latency'],
  [/iops/, 'requests/s', 'I/O requests per second'],
];

/** `get_data_sources` records for a set of current values. */
export function dataSourceRecords(values: SimDataSources): Record<string, unknown>[] {
  return Object.entries(values).map(([name, value]) => {
    const u = UNITS.find(([re]) => re.test(name));
    return {
      name_label: name,
      name_description: u?.[2] ?? name,
      enabled: true,
      standard: /^(cpu|memory|vif_|vbd_|pif_|loadavg)/.test(name),
      units: u?.[1] ?? '',
      min: 0,
      max: name.startsWith('cpu') ? 1 : Number.POSITIVE_INFINITY,
      value,
    };
  });
}

/** Looks one data source up (query_data_source); unknown names fail like rrdd does. */
export function queryDataSource(values: SimDataSources, name: string): number {
  const v = values[name];
  if (v === undefined) fail('INTERNAL_ERROR', `Rrdd_error(Archive_failed("No data source named ${name}"))`);
  return v;
}

/** The metrics model core samples for the RRD endpoints. */
export const metricsModel: SimMetrics = {
  host: (ctx: SimContext, host: string, now: Date) =>
    hostDataSources(ctx.store, host, now, memoFor(ctx.store, now.getTime())),
  vm: (ctx: SimContext, vm: string, now: Date) =>
    vmDataSources(ctx.store, vm, now, memoFor(ctx.store, now.getTime())),
};
