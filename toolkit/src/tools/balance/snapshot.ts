/**
 * What the balancer reads from a pool for one evaluation: host and VM records, whether each VM can be
 * live-migrated (shared storage, no operation in progress, xapi allows `pool_migrate`), and the recent samples of
 * `/rrd_updates` (as `top` reads them), reduced to a {@link Snapshot} for the decision core.
 */
import type {
  Ref,
  SRRecord,
  VBDRecord,
  VDIRecord,
  VMRecord,
  XapiClient,
  hostRecord,
  host_metricsRecord,
} from '../../xenapi/index.js';
import { latest, readPoolMetrics, sumMatching } from '../rrd.js';
import type { HostSample, HostState, Snapshot, VmState } from './decide.js';

/** A snapshot plus the refs needed to act on it. */
export interface PoolReading {
  readonly snapshot: Snapshot;
  readonly vmRefs: ReadonlyMap<string, Ref<'VM'>>;
  readonly hostRefs: ReadonlyMap<string, Ref<'host'>>;
  /** uuid of the pool (messages of class Pool). */
  readonly poolUuid: string;
}

/** Options of {@link readPool}. */
export interface ReadPoolOptions {
  /** Seconds of history to read. */
  readonly seconds: number;
  readonly allowUnauthorized: boolean;
  /** Ask every host's address too (real pools report only the VMs resident on the host asked). */
  readonly perHost: boolean;
}

/** Why a VM cannot be live-migrated within the pool now; undefined when it can. */
export function migrationBlocker(
  vm: VMRecord,
  vbds: Readonly<Record<string, VBDRecord>>,
  vdis: Readonly<Record<string, VDIRecord>>,
  srs: Readonly<Record<string, SRRecord>>,
): string | undefined {
  const busy = Object.values(vm.current_operations);
  if (busy.length) return `busy (${[...new Set(busy)].join(', ')} in progress)`;
  if (!vm.allowed_operations.includes('pool_migrate')) return 'xapi does not allow pool_migrate on it now';
  for (const ref of vm.VBDs) {
    const vbd = vbds[ref];
    if (!vbd || vbd.empty) continue;
    const sr = srs[vdis[vbd.VDI]?.SR ?? ''];
    if (sr && !sr.shared)
      return `${vbd.type === 'CD' ? 'CD' : 'disk'} ${vbd.device || vbd.userdevice} on local SR "${sr.name_label}"`;
  }
  return undefined;
}

/**
 * Reads the pool as the balancer sees it.
 * @example
 * const { snapshot } = await readPool(client, { seconds: 60, allowUnauthorized: false, perHost: false });
 */
export async function readPool(client: XapiClient, o: ReadPoolOptions): Promise<PoolReading> {
  const [hosts, metrics, vms, vbds, vdis, srs, pools] = await Promise.all([
    client.call('host.get_all_records'),
    client.call('host_metrics.get_all_records'),
    client.call('VM.get_all_records'),
    client.call('VBD.get_all_records'),
    client.call('VDI.get_all_records'),
    client.call('SR.get_all_records'),
    client.call('pool.get_all_records'),
  ]);
  const window = await readPoolMetrics(client, hosts, o);
  const times = Array.from(
    { length: window.rows },
    (_, i) => window.end - (window.rows - 1 - i) * window.step,
  );

  const hostUuid = new Map<string, string>();
  const hostRefs = new Map<string, Ref<'host'>>();
  for (const [ref, h] of Object.entries(hosts) as [Ref<'host'>, hostRecord][]) {
    hostUuid.set(ref, h.uuid);
    hostRefs.set(h.uuid, ref);
  }
  const vmRefs = new Map<string, Ref<'VM'>>();
  const vmStates: VmState[] = [];
  // Per host, per sample: B/s of the disks and VIFs of the VMs running there now (hosts report no disk figure of
  // their own). Placement as of now: for the few seconds after a move the decision core counts the moved VM twice
  // on its new host (and not on its old one), which only makes the new host look busier.
  const diskByHost = new Map<string, number[]>();
  const netByHost = new Map<string, number[]>();
  const addInto = (into: Map<string, number[]>, host: string, xs: readonly number[]): void => {
    const acc = into.get(host) ?? times.map(() => 0);
    xs.forEach((v, i) => {
      if (Number.isFinite(v)) acc[i] = (acc[i] ?? 0) + v;
    });
    into.set(host, acc);
  };
  for (const [ref, vm] of Object.entries(vms) as [Ref<'VM'>, VMRecord][]) {
    if (vm.is_a_template || vm.is_a_snapshot || vm.is_control_domain || vm.power_state !== 'Running')
      continue;
    const host = hostUuid.get(vm.resident_on);
    if (host === undefined) continue;
    vmRefs.set(vm.uuid, ref);
    const m = window.series.get(`vm:${vm.uuid}`);
    const cpuKeys = [...(m?.keys() ?? [])].filter((k) => /^cpu\d+$/.test(k));
    const vcpus = cpuKeys.length || vm.VCPUs_at_startup;
    const cpu = latest(sumMatching(m, /^cpu\d+$/).map((v) => v / Math.max(1, cpuKeys.length)));
    // Xen's runstates: runnable (simulator, older xcp-rrdd), else the contention runstates of xcp-rrdd ≥ 1.x.
    let runnable = latest(m?.get('runstate_runnable'));
    if (!Number.isFinite(runnable)) {
      const full = latest(m?.get('runstate_full_contention'));
      const partial = latest(m?.get('runstate_partial_contention'));
      if (Number.isFinite(full)) runnable = full + (Number.isFinite(partial) ? partial / 2 : 0);
    }
    const disk = sumMatching(m, /^vbd_.+_(read|write)$/);
    const net = sumMatching(m, /^vif_\d+_(rx|tx)$/);
    addInto(diskByHost, host, disk);
    addInto(netByHost, host, net);
    const memory = latest(m?.get('memory'));
    const blocked = migrationBlocker(vm, vbds, vdis, srs);
    vmStates.push({
      uuid: vm.uuid,
      name: vm.name_label,
      host,
      vcpus,
      cpu,
      runnable,
      memory: Number.isFinite(memory) && memory > 0 ? memory : vm.memory_dynamic_max,
      disk: latest(disk),
      network: latest(net),
      tags: vm.tags,
      ...(blocked ? { blocked } : {}),
    });
  }

  const live = new Map<string, boolean>();
  for (const [ref, hm] of Object.entries<host_metricsRecord>(metrics)) live.set(ref, hm.live);
  const hostStates: HostState[] = [];
  for (const h of Object.values(hosts)) {
    const m = window.series.get(`host:${h.uuid}`);
    const cpu = m?.get('cpu_avg') ?? [];
    const free = m?.get('memory_free_kib') ?? [];
    const total = m?.get('memory_total_kib') ?? [];
    const pif = sumMatching(m, /^pif_aggr_(rx|tx)$/);
    const net = pif.some(Number.isFinite) ? pif : (netByHost.get(h.uuid) ?? []);
    const disk = diskByHost.get(h.uuid) ?? [];
    const samples: HostSample[] = [];
    times.forEach((t, i) => {
      const c = cpu[i] ?? NaN;
      if (!Number.isFinite(c)) return;
      const tot = total[i] ?? NaN;
      samples.push({
        t,
        cpu: c,
        memory: tot > 0 ? 1 - (free[i] ?? NaN) / tot : NaN,
        disk: disk[i] ?? 0,
        network: net[i] ?? NaN,
      });
    });
    const totalKib = latest(total);
    hostStates.push({
      uuid: h.uuid,
      name: h.name_label,
      enabled: h.enabled,
      live: live.get(h.metrics) ?? true,
      pcpus: Number(h.cpu_info.cpu_count ?? h.host_CPUs.length) || h.host_CPUs.length || 1,
      memoryTotal: Number.isFinite(totalKib) ? totalKib * 1024 : 0,
      samples,
    });
  }
  return {
    snapshot: { time: window.end, step: window.step, hosts: hostStates, vms: vmStates },
    vmRefs,
    hostRefs,
    poolUuid: Object.values(pools)[0]?.uuid ?? '',
  };
}
