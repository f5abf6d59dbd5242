/**
 * The hosts of a fresh XCP-ng 8.3 install: each with its metrics, CPUs, dom0, PIFs and local storage. The first host
 * is the pool coordinator.
 */
import { NULL_REF } from '../wire-types.js';
import { GiB, strMap, type ScenarioBuild } from './build-context.js';
import { DOM0_MEMORY, createDom0 } from './dom0.js';
import { createHostPifs } from './networks.js';
import type { ScenarioHost } from './schema.js';
import { createHostStorage } from './storage.js';

/** What `/proc/cpuinfo` of every simulated host says (a Xeon Silver 4214), with the host's CPU count. */
function cpuInfoOf(h: ScenarioHost) {
  return {
    cpu_count: String(h.cpus),
    socket_count: String(h.cpus >= 16 ? 2 : 1),
    vendor: 'GenuineIntel',
    speed: '2593.906',
    modelname: 'Intel(R) Xeon(R) Silver 4214 CPU @ 2.20GHz',
    family: '6',
    model: '85',
    stepping: '7',
    flags:
      'fpu de tsc msr pae mce cx8 apic sep mca cmov pat clflush acpi mmx fxsr sse sse2 ht syscall nx lm constant_tsc rep_good nopl nonstop_tsc pni pclmulqdq vmx ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand hypervisor lahf_lm abm',
    features: '7ffefbff-bfebfbff-00000121-2c100800',
  };
}

type CpuInfo = ReturnType<typeof cpuInfoOf>;

/** `host.software_version` of XCP-ng 8.3. */
function softwareVersion(name: string): Record<string, unknown> {
  return strMap({
    product_version: '8.3.0',
    product_version_text: '8.3',
    product_version_text_short: '8.3',
    platform_name: 'XCP',
    platform_version: '3.4.0',
    product_brand: 'XCP-ng',
    build_number: 'cloud',
    hostname: name,
    date: '2024-10-02',
    xapi: '24.19',
    xen: '4.17.5-3',
    linux: '4.19.0+1',
    xencenter_min: '2.21',
    xencenter_max: '2.21',
    network_backend: 'openvswitch',
    db_schema: '5.780',
  });
}

/** Creates the host record and its metrics (dom0's memory already used); returns the host ref. */
function createHostRecord(b: ScenarioBuild, h: ScenarioHost, address: string, cpuInfo: CpuInfo): string {
  const memory = Math.round(h.memoryGiB * GiB);
  const metrics = b.make('host_metrics', {
    memory_total: memory,
    memory_free: memory - DOM0_MEMORY,
    live: true,
    last_updated: b.now,
  });
  return b.make('host', {
    name_label: h.name,
    hostname: h.name,
    address,
    enabled: true,
    API_version_major: 2,
    API_version_minor: 21,
    API_version_vendor: 'XenSource',
    software_version: softwareVersion(h.name),
    capabilities: ['xen-3.0-x86_64', 'hvm-3.0-x86_32', 'hvm-3.0-x86_32p', 'hvm-3.0-x86_64'],
    cpu_info: strMap(cpuInfo),
    memory_overhead: 0,
    metrics,
    edition: 'xcp-ng',
    license_params: strMap({ sku_type: 'free', restrict_pool_size: 'false' }),
    other_config: strMap({
      iscsi_iqn: `iqn.2024-10.org.xcp-ng:${h.name}`,
      agent_start_time: String(Math.floor(b.now.getTime() / 1000)),
    }),
    sched_policy: 'credit',
    iscsi_iqn: `iqn.2024-10.org.xcp-ng:${h.name}`,
    external_auth_type: '',
    control_domain: NULL_REF,
  });
}

/** Creates one host_cpu per logical CPU. */
function createHostCpus(b: ScenarioBuild, host: string, h: ScenarioHost, cpuInfo: CpuInfo): void {
  for (let n = 0; n < h.cpus; n++) {
    b.make('host_cpu', {
      host,
      number: n,
      vendor: cpuInfo.vendor,
      speed: 2593,
      modelname: cpuInfo.modelname,
      family: 6,
      model: 85,
      stepping: '7',
      flags: cpuInfo.flags,
      features: cpuInfo.features,
      utilisation: 0,
    });
  }
}

/**
 * Creates host number `index` of the scenario with everything that belongs to it: metrics, CPUs, dom0, PIFs on the
 * pool-wide `networks`, local storage and the DVD drive SR. Returns the host ref.
 */
export function createHost(
  b: ScenarioBuild,
  h: ScenarioHost,
  index: number,
  networks: ReadonlyMap<string, string>,
): string {
  const address = h.address ?? `10.0.0.${11 + index}`;
  const cpuInfo = cpuInfoOf(h);
  const host = createHostRecord(b, h, address, cpuInfo);
  createHostCpus(b, host, h, cpuInfo);
  const dom0 = createDom0(b, host, h);
  b.store.update('host', host, { control_domain: dom0 });
  createHostPifs(b, host, h, address, networks);
  createHostStorage(b, host, h);
  return host;
}
