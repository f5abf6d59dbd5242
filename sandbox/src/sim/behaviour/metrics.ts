/**
 * The load model behind the RRD data sources (toolkit/src/xenapi/NOTES.md §4; names from ocaml/xcp-rrdd/bin/rrdp-*):
 * what each running VM and each host would report now. A VM's demand comes from the VM itself — idle noise plus its
 * workload (workload.ts: CPU, memory, disk, network, steady or following a pattern) — and its CPU from the credit
 * scheduler's sharing of its host among the domains resident there (metrics-cpu.ts, credit.ts), so load shows on its
 * VM and its host, moves with the VM, and a busy neighbour makes the others wait (`runstate_runnable`) in proportion
 * to their weights, within their caps.
 *
 * `runstate_runnable` (the mean fraction of time a vCPU waits for a pCPU) is this simulator's one figure for CPU
 * contention, which xenlab-tools reads; real rrdd splits it into runstate_full_contention, runstate_concurrency_hazard,
 * runstate_partial_contention and runnable_any (rrdp_cpu.ml). Time a cap parks a vCPU is not waiting (credit.ts).
 */
import type { SimContext, SimDataSources, SimMetrics, SimStore } from '../contract.js';
import { hostCpu, noise, vmCpu } from './metrics-cpu.js';
import { freshMemo, memoFor, type Memo } from './metrics-memo.js';
import { hostFreeMemory, hostMemoryTotal } from './placement.js';
import { bool, fail, isNull, num, pifsOfHost, ref, residentVms, str, vbdsOf, vifsOf } from './util.js';
import { levelsAt } from './workload.js';

/** B/s of a VIF at net level 1: a saturated 1 GbE link, 60 % received, 40 % sent [est]. */
const LINK_BPS = 125e6;

function deviceOf(store: SimStore, vbd: string): string {
  const r = store.find('VBD', vbd);
  return str(r, 'device') || `xvd${String.fromCharCode(97 + Number(str(r, 'userdevice') || 0))}`;
}

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** CPU, memory and VIF data sources of a VM (zeros when it is not running). */
function vmCpuMemNet(store: SimStore, vmRef: string, memo: Memo, out: Record<string, number>): void {
  const vm = store.get('VM', vmRef);
  const t = memo.t;
  const uuid = str(vm, 'uuid');
  const running = str(vm, 'power_state') === 'Running';
  const w = levelsAt(store, uuid, t);
  const cpu = vmCpu(store, vmRef, vm, memo);
  cpu.got.forEach((g, i) => {
    out[`cpu${String(i)}`] = running ? g : 0;
  });
  out.runstate_fullrun = running ? mean(cpu.got) : 0;
  out.runstate_runnable = running ? mean(cpu.allowed.map((a, i) => Math.max(0, a - (cpu.got[i] ?? 0)))) : 0;
  const actual = num(store.find('VM_metrics', ref(vm, 'metrics')), 'memory_actual');
  out.memory = actual;
  out.memory_target = num(vm, 'memory_dynamic_max');
  // The guest's own use: about half plus its page cache under disk I/O, or its workload's share if that is more.
  const used = Math.min(0.98, Math.max(0.45 + 0.1 * noise(`${uuid}:mem`, t) + 0.4 * w.io, w.memory));
  out.memory_internal_free = Math.round((actual / 1024) * (1 - used));
  const vifs = vifsOf(store, vmRef);
  for (const vif of vifs) {
    const dev = str(store.find('VIF', vif), 'device') || '0';
    const base = 2000 + 20000 * noise(`${uuid}:vif${dev}`, t);
    const traffic = (w.net * LINK_BPS) / vifs.length;
    out[`vif_${dev}_rx`] = running ? base + traffic * 0.6 : 0;
    out[`vif_${dev}_tx`] = running ? base * 0.6 + traffic * 0.4 : 0;
    out[`vif_${dev}_rx_errors`] = 0;
    out[`vif_${dev}_tx_errors`] = 0;
  }
}

/** VBD data sources of a VM: every disk carries its I/O level. */
function vmDisks(store: SimStore, vmRef: string, t: number, out: Record<string, number>): void {
  const vm = store.get('VM', vmRef);
  const uuid = str(vm, 'uuid');
  const running = str(vm, 'power_state') === 'Running';
  const io = levelsAt(store, uuid, t).io;
  for (const vbd of vbdsOf(store, vmRef)) {
    const r = store.find('VBD', vbd);
    if (!r || bool(r, 'empty') || str(r, 'type') === 'CD') continue;
    const dev = deviceOf(store, vbd);
    const read = running ? 20_000 + 200_000 * noise(`${uuid}:${dev}:r`, t) + io * 120e6 : 0;
    const write = running ? 10_000 + 100_000 * noise(`${uuid}:${dev}:w`, t) + io * 80e6 : 0;
    out[`vbd_${dev}_read`] = read;
    out[`vbd_${dev}_write`] = write;
    out[`vbd_${dev}_iops_read`] = read / 4096;
    out[`vbd_${dev}_iops_write`] = write / 4096;
    out[`vbd_${dev}_iops_total`] = (read + write) / 4096;
    // Latency in ms: a saturated disk queues.
    out[`vbd_${dev}_latency`] = running ? 0.4 + 25 * io + 2 * noise(`${uuid}:${dev}:l`, t) : 0;
    out[`vbd_${dev}_avgqu_sz`] = running ? 0.05 + 30 * io : 0;
  }
}

/** Data sources of a VM now. */
export function vmDataSources(store: SimStore, vmRef: string, now: Date, given?: Memo): SimDataSources {
  const memo = given ?? freshMemo(now.getTime());
  const cached = memo.vms.get(vmRef);
  if (cached) return cached;
  const out: Record<string, number> = {};
  vmCpuMemNet(store, vmRef, memo, out);
  vmDisks(store, vmRef, memo.t, out);
  memo.vms.set(vmRef, out);
  return out;
}

/** PIF data sources of a host: a little noise plus the traffic of the guests' VIFs on each PIF's network. */
function hostPifs(
  store: SimStore,
  host: string,
  live: boolean,
  memo: Memo,
  out: Record<string, number>,
): void {
  const t = memo.t;
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
        const ds = vmDataSources(store, vm, new Date(t), memo);
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
}

/** Data sources of a host now. */
export function hostDataSources(store: SimStore, host: string, now: Date, given?: Memo): SimDataSources {
  const h = store.get('host', host);
  const memo = given ?? freshMemo(now.getTime());
  const t = memo.t;
  const out: Record<string, number> = {};
  const live = bool(store.find('host_metrics', ref(h, 'metrics')), 'live');
  const { pcpus, used, load } = hostCpu(store, host, memo);
  let sum = 0;
  for (let i = 0; i < pcpus; i++) {
    // Spread the load over the pCPUs with a little per-CPU jitter, keeping the average near the truth.
    const jitter = (noise(`${str(h, 'uuid')}:cpu${String(i)}`, t) - 0.5) * 0.04;
    const v = live ? Math.min(1, Math.max(0, Math.min(pcpus, used) / pcpus + jitter)) : 0;
    out[`cpu${String(i)}`] = v;
    sum += v;
  }
  out.cpu_avg = sum / pcpus;
  // The run queue: every vCPU that wants a pCPU and may have one (running or runnable; parked ones are not).
  out.loadavg = live ? load + 0.1 * noise(`${str(h, 'uuid')}:load`, t) : 0;
  out.memory_total_kib = Math.round(hostMemoryTotal(store, host) / 1024);
  out.memory_free_kib = Math.round(hostFreeMemory(store, host) / 1024);
  out.memory_reclaimed = 0;
  out.xapi_memory_usage_kib = 180_000;
  hostPifs(store, host, live, memo, out);
  return out;
}

const UNITS: readonly [RegExp, string, string][] = [
  [/^cpu(\d+|_avg)$/, '(fraction)', 'Physical or virtual CPU usage'],
  [/^runstate_/, '(fraction)', 'Fraction of time in this vCPU run state'],
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

/** The metrics model core samples for the RRD endpoints: one memo per sampled instant. */
export const metricsModel: SimMetrics = {
  host: (ctx: SimContext, host: string, now: Date) =>
    hostDataSources(ctx.store, host, now, memoFor(ctx.store, now.getTime())),
  vm: (ctx: SimContext, vm: string, now: Date) =>
    vmDataSources(ctx.store, vm, now, memoFor(ctx.store, now.getTime())),
};
