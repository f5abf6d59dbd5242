/**
 * Pool records and metrics joined by uuid: what `top` and `bottleneck` both need — names, placement and the
 * per-object metric series of one `rrd_updates` window.
 */
import type { Ref, VMRecord, XapiClient, hostRecord } from '../xenapi/index.js';
import { latest, mean, readPoolMetrics, sumMatching, type MetricsWindow } from './rrd.js';

/** A host with its metrics reduced over the window. */
export interface HostView {
  readonly ref: Ref<'host'>;
  readonly rec: hostRecord;
  readonly name: string;
  readonly uuid: string;
  /** cpu_avg, 0..1. */
  readonly cpu: number;
  readonly load: number;
  readonly memTotal: number;
  readonly memFree: number;
  /** pif_aggr_rx + pif_aggr_tx, B/s. */
  readonly net: number;
  readonly pcpus: number;
  readonly samples: number;
}

/** A running VM with its metrics reduced over the window. */
export interface VmView {
  readonly ref: Ref<'VM'>;
  readonly rec: VMRecord;
  readonly name: string;
  readonly uuid: string;
  readonly host: string;
  /** Mean of the vCPUs' usage, 0..1 (1 = every vCPU busy). */
  readonly cpu: number;
  readonly vcpus: number;
  /** Fraction of time runnable but not running (waiting for a pCPU). */
  readonly runnable: number;
  /** Bytes of memory the domain has. */
  readonly memory: number;
  /** Guest-reported free memory, bytes (NaN without guest tools). */
  readonly memoryFree: number;
  readonly diskRead: number;
  readonly diskWrite: number;
  /** Worst mean latency over the VM's disks, ms, and that disk's device. */
  readonly diskLatency: number;
  readonly diskDevice: string;
  readonly netRx: number;
  readonly netTx: number;
}

/** The reduced view of a pool. */
export interface PoolView {
  readonly hosts: readonly HostView[];
  readonly vms: readonly VmView[];
  readonly window: MetricsWindow;
}

/** How to reduce a series: the window's mean, or its newest value. */
export type Reduce = 'mean' | 'latest';

/** Options of {@link readPoolView}. */
export interface PoolViewOptions {
  readonly seconds: number;
  readonly reduce: Reduce;
  readonly allowUnauthorized: boolean;
  /** Ask every host's address too (real pools report only resident VMs per host). */
  readonly perHost: boolean;
}

/**
 * Reads records and one metrics window, and reduces each series.
 * @example
 * const view = await readPoolView(client, { seconds: 300, reduce: 'mean', allowUnauthorized: false, perHost: false });
 */
export async function readPoolView(client: XapiClient, o: PoolViewOptions): Promise<PoolView> {
  const [hosts, vms] = await Promise.all([
    client.call('host.get_all_records'),
    client.call('VM.get_all_records'),
  ]);
  const window = await readPoolMetrics(client, hosts, o);
  const r = o.reduce === 'mean' ? mean : latest;
  const hostName = new Map<string, string>();
  const hostViews = (Object.entries(hosts) as [Ref<'host'>, hostRecord][]).map(([ref, h]) => {
    hostName.set(ref, h.name_label);
    const m = window.series.get(`host:${h.uuid}`);
    const net = sumMatching(m, /^pif_aggr_(rx|tx)$/);
    return {
      ref,
      rec: h,
      name: h.name_label,
      uuid: h.uuid,
      cpu: r(m?.get('cpu_avg')),
      load: r(m?.get('loadavg')),
      memTotal: r(m?.get('memory_total_kib')) * 1024,
      memFree: r(m?.get('memory_free_kib')) * 1024,
      net: r(net),
      pcpus: Number(h.cpu_info.cpu_count ?? h.host_CPUs.length) || h.host_CPUs.length,
      samples: m?.get('cpu_avg')?.filter(Number.isFinite).length ?? 0,
    };
  });
  const vmViews: VmView[] = [];
  for (const [ref, vm] of Object.entries(vms) as [Ref<'VM'>, VMRecord][]) {
    // Control domains are part of their host's figures, as in the host's own xentop header.
    if (vm.is_a_template || vm.is_a_snapshot || vm.is_control_domain || vm.power_state !== 'Running')
      continue;
    const m = window.series.get(`vm:${vm.uuid}`);
    if (!m) continue;
    const cpus = [...m.keys()].filter((k) => /^cpu\d+$/.test(k));
    const perSample = sumMatching(m, /^cpu\d+$/).map((v) => v / Math.max(1, cpus.length));
    let worst = NaN;
    let device = '';
    for (const [k, xs] of m) {
      const dev = /^vbd_(.+)_latency$/.exec(k)?.[1];
      if (dev === undefined) continue;
      const v = r(xs);
      if (!(v <= worst)) {
        worst = v;
        device = dev;
      }
    }
    vmViews.push({
      ref,
      rec: vm,
      name: vm.name_label,
      uuid: vm.uuid,
      host: hostName.get(vm.resident_on) ?? '',
      cpu: r(perSample),
      vcpus: cpus.length || vm.VCPUs_at_startup,
      runnable: r(m.get('runstate_runnable')),
      memory: r(m.get('memory')),
      memoryFree: r(m.get('memory_internal_free')) * 1024,
      diskRead: r(sumMatching(m, /^vbd_.+_read$/)),
      diskWrite: r(sumMatching(m, /^vbd_.+_write$/)),
      diskLatency: worst,
      diskDevice: device,
      netRx: r(sumMatching(m, /^vif_\d+_rx$/)),
      netTx: r(sumMatching(m, /^vif_\d+_tx$/)),
    });
  }
  return { hosts: hostViews.sort((a, b) => a.name.localeCompare(b.name)), vms: vmViews, window };
}
