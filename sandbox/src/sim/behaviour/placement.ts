/**
 * Where a VM may run: memory accounting per host and the boot-here checks (ocaml/xapi/memory_check.ml,
 * xapi_vm_helpers.ml `assert_can_boot_here`, `choose_host_for_vm`).
 */
import type { SimRecord, SimStore } from '../contract.js';
import { XapiFailure } from '../contract.js';
import {
  MiB,
  NULL_REF,
  bool,
  hostLive,
  isNull,
  map,
  num,
  ref,
  residentVms,
  str,
  vbdsOf,
  vifsOf,
  pbdsOf,
  pifsOfHost,
} from './util.js';

/**
 * The host memory a VM costs besides its own RAM (shadow page tables, device model). Taken from the record when
 * set; otherwise estimated — [est] memory_check.ml's HVM footprint is ~1 MiB per 128 MiB of static_max plus about
 * 1 MiB per vCPU and 1 MiB fixed; rounded up to whole MiB like xapi.
 */
export function vmMemoryOverhead(vm: Readonly<SimRecord>): number {
  const set = num(vm, 'memory_overhead');
  if (set > 0) return set;
  const staticMax = num(vm, 'memory_static_max');
  const vcpus = Math.max(1, num(vm, 'VCPUs_max'));
  return Math.ceil(staticMax / 128 / MiB) * MiB + vcpus * MiB + MiB;
}

/**
 * Memory a domain of this VM holds on its host, under maximum compression (every ballooning guest squeezed to
 * dynamic_min): memory_check.ml `Dynamic_min` policy, used both for the start check and compute_free_memory.
 */
export function vmReservedMemory(vm: Readonly<SimRecord>): number {
  const dmin = num(vm, 'memory_dynamic_min') || num(vm, 'memory_static_max');
  return dmin + vmMemoryOverhead(vm);
}

/** Total memory of a host: host_metrics.memory_total (0 when the seed has no metrics). */
export function hostMemoryTotal(store: SimStore, host: string): number {
  const h = store.get('host', host);
  return num(store.find('host_metrics', ref(h, 'metrics')), 'memory_total');
}

/**
 * Free memory on a host as `host.compute_free_memory` reports it: total − Xen's own overhead − what every domain
 * resident (or being started) there reserves, dom0 included.
 */
export function hostFreeMemory(store: SimStore, host: string, except?: string): number {
  const h = store.get('host', host);
  let used = num(h, 'memory_overhead') + residentReserved(store, host, except);
  for (const [vm, on] of scheduled.get(store) ?? []) {
    if (on !== host || vm === except) continue;
    const rec = store.find('VM', vm);
    // A migrating VM is scheduled on its target while still resident on its source.
    if (rec && rec.resident_on !== host) used += vmReservedMemory(rec);
  }
  return Math.max(0, hostMemoryTotal(store, host) - used);
}

/**
 * Σ reserved memory of a host's resident domains, cached per host: while the resident list only grows (starts,
 * migrations in) the sum is extended; any other change of the list, or of a VM's memory settings
 * ({@link memoryChanged}), recomputes it. Keeps placement linear for a pool of 1000 VMs.
 */
function residentReserved(store: SimStore, host: string, except?: string): number {
  const list = residentVms(store, host);
  let perStore = reservedCache.get(store);
  if (!perStore) {
    perStore = new Map();
    reservedCache.set(store, perStore);
  }
  let entry = perStore.get(host);
  const stamp = memoryStamps.get(store) ?? 0;
  const cached = entry;
  const prefixOk =
    cached?.stamp === stamp &&
    cached.refs.length <= list.length &&
    cached.refs.every((r, i) => list[i] === r);
  if (!entry || !prefixOk) entry = { refs: [], sum: 0, stamp };
  for (let i = entry.refs.length; i < list.length; i++) {
    const vm = list[i] ?? '';
    const rec = store.find('VM', vm);
    entry.sum += rec ? vmReservedMemory(rec) : 0;
    entry.refs.push(vm);
  }
  perStore.set(host, entry);
  if (except !== undefined && entry.refs.includes(except)) {
    const rec = store.find('VM', except);
    return entry.sum - (rec ? vmReservedMemory(rec) : 0);
  }
  return entry.sum;
}

const reservedCache = new WeakMap<SimStore, Map<string, { refs: string[]; sum: number; stamp: number }>>();
const memoryStamps = new WeakMap<SimStore, number>();

/** Invalidates cached memory sums: call after a VM's memory settings (or overhead) changed. */
export function memoryChanged(store: SimStore): void {
  memoryStamps.set(store, (memoryStamps.get(store) ?? 0) + 1);
}

/** VMs being started or migrated, by target host: their memory is reserved before the domain exists. */
const scheduled = new WeakMap<SimStore, Map<string, string>>();

/**
 * Sets (or clears, with NULL) VM.scheduled_to_be_resident_on and the reservation it implies, so two concurrent
 * starts cannot both take the last free memory of a host (xapi's Helpers.with_global_lock + scheduled_to_be_resident_on).
 */
export function schedule(store: SimStore, vm: string, host: string): void {
  let m = scheduled.get(store);
  if (!m) {
    m = new Map();
    scheduled.set(store, m);
  }
  if (host === NULL_REF || host === '') m.delete(vm);
  else m.set(vm, host);
  store.update('VM', vm, { scheduled_to_be_resident_on: host === '' ? NULL_REF : host });
}

/** SRs a VM's disks live on (CD drives without media excluded). */
export function vmSrs(store: SimStore, vm: string): string[] {
  const srs = new Set<string>();
  for (const vbd of vbdsOf(store, vm)) {
    const r = store.find('VBD', vbd);
    if (!r || bool(r, 'empty')) continue;
    const vdi = store.find('VDI', ref(r, 'VDI'));
    if (vdi && !isNull(ref(vdi, 'SR'))) srs.add(ref(vdi, 'SR'));
  }
  return [...srs];
}

/** Whether a host has a plugged PBD for an SR. */
export function hostSeesSr(store: SimStore, host: string, sr: string): boolean {
  return pbdsOf(store, sr).some((p) => {
    const r = store.find('PBD', p);
    return r?.host === host && bool(r, 'currently_attached');
  });
}

/**
 * The error booting `vm` on `host` would raise, or undefined when it can. Order [est from xapi_vm_helpers.ml]:
 * host live → host enabled → SRs visible → networks attachable → enough free memory.
 * `ignoreSrs` skips the SR check (pool_migrate checks disks separately).
 */
export function bootHereError(
  store: SimStore,
  vmRef: string,
  host: string,
  opts: { ignoreSrs?: boolean; except?: string; free?: number } = {},
): XapiFailure | undefined {
  const h = store.get('host', host);
  const vm = store.get('VM', vmRef);
  if (!hostLive(store, host)) return new XapiFailure('HOST_OFFLINE', [host]);
  // CA-233580: control domains may start on a disabled host; a VM already running here is a local migration
  const localMigration = str(vm, 'power_state') === 'Running' && ref(vm, 'resident_on') === host;
  if (!bool(h, 'enabled') && !bool(vm, 'is_control_domain') && !localMigration) {
    return new XapiFailure('HOST_DISABLED', [host]);
  }
  if (!opts.ignoreSrs) {
    for (const sr of vmSrs(store, vmRef)) {
      if (!hostSeesSr(store, host, sr)) return new XapiFailure('VM_REQUIRES_SR', [vmRef, sr]);
    }
  }
  const hostNets = new Set(
    pifsOfHost(store, host)
      .map((p) => store.find('PIF', p))
      .filter((p) => p !== undefined)
      .map((p) => ref(p, 'network')),
  );
  for (const vif of vifsOf(store, vmRef)) {
    const net = ref(store.find('VIF', vif), 'network');
    const netRec = store.find('network', net);
    // Internal (PIF-less) networks are available on every host (xapi_network_attach_helpers.ml).
    const pifCount = Array.isArray(netRec?.PIFs) ? (netRec.PIFs as unknown[]).length : 0;
    if (netRec && pifCount > 0 && !hostNets.has(net))
      return new XapiFailure('VM_REQUIRES_NETWORK', [vmRef, net]);
  }
  const needed = vmReservedMemory(vm);
  const free = opts.free ?? hostFreeMemory(store, host, opts.except ?? vmRef);
  if (needed > free) return new XapiFailure('HOST_NOT_ENOUGH_FREE_MEMORY', [String(needed), String(free)]);
  // assert_enough_pcpus: VCPUs_max above the host's CPU count, unless platform:vcpu-unrestricted
  const pcpus = Number(map(h, 'cpu_info').cpu_count ?? 0);
  const vcpus = num(vm, 'VCPUs_max');
  if (pcpus > 0 && vcpus > pcpus && map(vm, 'platform')['vcpu-unrestricted'] !== 'true') {
    return new XapiFailure('HOST_NOT_ENOUGH_PCPUS', [String(vcpus), String(pcpus)]);
  }
  return undefined;
}

/**
 * Chooses a host for `vm` (xapi_vm_helpers.ml `choose_host_for_vm`): the affinity host when it can boot the VM,
 * else the host with the most free memory among those that can. A one-host pool reports that host's own error
 * (what users of single hosts see, e.g. HOST_NOT_ENOUGH_FREE_MEMORY); otherwise NO_HOSTS_AVAILABLE.
 */
export function chooseHost(store: SimStore, vmRef: string, exclude: readonly string[] = []): string {
  const vm = store.get('VM', vmRef);
  const hosts = store
    .all('host')
    .map(([r]) => r)
    .filter((h) => !exclude.includes(h));
  const affinity = ref(vm, 'affinity');
  if (hosts.includes(affinity) && bootHereError(store, vmRef, affinity) === undefined) return affinity;
  let best: string | undefined;
  let bestFree = -1;
  // Hosts that fail only for memory: xapi retries placement "ignoring memory checks" and then the memory
  // reservation on the chosen host raises HOST_NOT_ENOUGH_FREE_MEMORY (xapi_vm_helpers.ml choose_host_for_vm_no_wlb).
  let memoryOnly: { host: string; free: number; error: XapiFailure } | undefined;
  for (const h of hosts) {
    const free = hostFreeMemory(store, h, vmRef);
    const err = bootHereError(store, vmRef, h, { free });
    if (err?.code === 'HOST_NOT_ENOUGH_FREE_MEMORY') {
      if (!memoryOnly || free > memoryOnly.free) memoryOnly = { host: h, free, error: err };
      continue;
    }
    if (err) continue;
    if (free > bestFree) [best, bestFree] = [h, free];
  }
  if (best !== undefined) return best;
  if (memoryOnly) throw memoryOnly.error;
  throw new XapiFailure('NO_HOSTS_AVAILABLE', []);
}

/** Updates host_metrics.memory_free from the current residents (xapi samples it from rrdd's memory_free_kib). */
export function refreshHostMemory(store: SimStore, host: string): void {
  const h = store.find('host', host);
  if (!h) return;
  const m = store.find('host_metrics', ref(h, 'metrics'));
  // Only when the store keeps the field (the datamodel marks it removed; core may leave it out of records).
  if (m && 'memory_free' in m)
    store.update('host_metrics', ref(h, 'metrics'), { memory_free: hostFreeMemory(store, host) });
}

/** The pool master, falling back to the first host. */
export function masterHost(store: SimStore): string {
  const pool = store.all('pool')[0];
  const m = pool ? ref(pool[1], 'master') : '';
  if (m && store.find('host', m)) return m;
  const first = store.all('host')[0];
  return first ? first[0] : '';
}

/** A short, stable label of a host for messages. */
export function hostLabel(store: SimStore, host: string): string {
  const h = store.find('host', host);
  return str(h, 'name_label') || str(h, 'hostname') || host;
}
