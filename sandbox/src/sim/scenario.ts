/**
 * Scenarios: what pool a simulator starts with. Authors write YAML or JSON; zod validates it and errors name the file
 * and the field. `buildScenario` turns one into store objects shaped like a fresh XCP-ng 8.3 install (NOTES §2, §7):
 * dom0 per host, PIFs on pool-wide networks, local + shared + ISO storage, default templates with provision XML.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { SimRecord, SimStore } from './contract.js';
import { newMap } from './codec.js';
import { macFrom } from './random.js';
import { NULL_REF } from './wire-types.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const hostSchema = z.object({
  /** Host name and name_label, e.g. `xcp-ng-01`. */
  name: z.string().min(1),
  /** Management IP; default 10.0.0.11, .12, … */
  address: z.string().optional(),
  /** Logical CPUs. */
  cpus: z.number().int().min(1).max(512).default(8),
  /** Physical memory in GiB. */
  memoryGiB: z.number().positive().max(6144).default(32),
  /** Physical NICs; the first is the management interface. */
  nics: z
    .array(z.string().regex(/^eth\d+$/, 'NIC names look like eth0'))
    .min(1)
    .default(['eth0', 'eth1']),
  /** Size of the host's "Local storage" SR in GiB (0 = none). */
  localStorageGiB: z.number().min(0).default(500),
});

const srSchema = z.object({
  /** name_label of the SR. */
  name: z.string().min(1),
  /** SM type: nfs, lvmoiscsi, iso, … */
  type: z.string().default('nfs'),
  /** Size in GiB. */
  sizeGiB: z.number().min(0).default(2048),
  /** device-config of every PBD (e.g. server, serverpath). */
  deviceConfig: z.record(z.string(), z.string()).default({}),
  /** Make it the pool's default SR. */
  default: z.boolean().default(false),
});

const templateSchema = z.object({
  name: z.string().min(1),
  description: z.string().default(''),
  memoryMiB: z.number().int().positive().default(2048),
  vcpus: z.number().int().positive().default(2),
  /** Size of the system disk in GiB (0 = no disk, e.g. "Other install media" still has one in XCP-ng). */
  diskGiB: z.number().min(0).default(10),
  /** Linux (PV drivers, linux_template=true) or not. */
  linux: z.boolean().default(true),
  /** `install-distro` key, e.g. debianlike, rhlike. */
  distro: z.string().optional(),
});

const vmSchema = z.object({
  /** name_label of the VM. */
  name: z.string().min(1),
  /** Template to install from (name_label), e.g. "Debian Bookworm 12". */
  template: z.string().default('Debian Bookworm 12'),
  /** Host to start it on (name_label); default: wherever placement puts it. */
  host: z.string().optional(),
  /** Power state after start-up. */
  power_state: z.enum(['Halted', 'Running']).default('Running'),
  /** Memory in MiB (all four limits); default: the template's. */
  memoryMiB: z.number().int().positive().optional(),
  /** vCPUs; default: the template's. */
  vcpus: z.number().int().positive().optional(),
  /** Network for its VIF 0 (name_label); default "Pool-wide network associated with eth0". */
  network: z.string().optional(),
  tags: z.array(z.string()).default([]),
});

/** The scenario format (YAML or JSON). */
export const scenarioSchema = z.object({
  /** Pool name_label. */
  pool: z.object({ name: z.string().default('xenlab') }).default({ name: 'xenlab' }),
  /** Seed for uuids and MACs; the same seed builds the same pool. */
  seed: z.union([z.string(), z.number()]).optional(),
  /** The hosts; the first is the pool coordinator (master). */
  hosts: z.array(hostSchema).min(1),
  /** Shared SRs (plugged on every host). */
  sharedStorage: z.array(srSchema).default([]),
  /** ISO libraries: name and location. */
  isoStorage: z
    .array(
      z.object({
        name: z.string().min(1),
        location: z.string().default('10.0.0.5:/srv/iso'),
        isos: z.array(z.string()).default([]),
      }),
    )
    .default([]),
  /** Templates; the built-in XCP-ng-like list when left out. */
  templates: z.array(templateSchema).optional(),
  /** VMs that exist from the start, installed through the same API calls a learner would make. */
  vms: z.array(vmSchema).default([]),
  /** Operation durations in ms, e.g. `{ "VM.start": 5000 }` (see clock.ts for the defaults). */
  durations: z.record(z.string(), z.number().min(0)).default({}),
});

/** A validated scenario. */
export type Scenario = z.output<typeof scenarioSchema>;
/** A scenario as authors write it (defaults optional). */
export type ScenarioInput = z.input<typeof scenarioSchema>;

/** A scenario file or object that failed validation; the message names the source and every bad field. */
export class ScenarioError extends Error {
  readonly code = 'SIM_ERR_SCENARIO_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

/** Validates a scenario, throwing {@link ScenarioError} that names the file and each field with the problem. */
export function parseScenario(input: unknown, source = 'scenario'): Scenario {
  const r = scenarioSchema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map(
    (i) => `  - ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`,
  );
  throw new ScenarioError(`${source} is not a valid scenario:\n${lines.join('\n')}`);
}

/** Reads a YAML or JSON scenario file. */
export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScenarioError(`cannot read scenario ${path}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ScenarioError(
      `${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`,
    );
  }
  return parseScenario(data, path);
}

/** XCP-ng 8.3-like default templates (names as XCP-ng ships them). */
export const DEFAULT_TEMPLATES: readonly z.input<typeof templateSchema>[] = [
  {
    name: 'Debian Bookworm 12',
    description: 'Template that allows VM installation from Xen-aware Debian-based distros.',
    distro: 'debianlike',
    memoryMiB: 2048,
    vcpus: 2,
    diskGiB: 10,
  },
  {
    name: 'Debian Bullseye 11',
    description: 'Template that allows VM installation from Xen-aware Debian-based distros.',
    distro: 'debianlike',
    memoryMiB: 2048,
    vcpus: 2,
    diskGiB: 10,
  },
  {
    name: 'Ubuntu Jammy Jellyfish 22.04',
    description: 'Template that allows VM installation from Xen-aware Debian-based distros.',
    distro: 'debianlike',
    memoryMiB: 2048,
    vcpus: 2,
    diskGiB: 10,
  },
  {
    name: 'Rocky Linux 9',
    description: 'Template that allows VM installation from Xen-aware EL-based distros.',
    distro: 'rhlike',
    memoryMiB: 2048,
    vcpus: 2,
    diskGiB: 10,
  },
  {
    name: 'Alpine Linux 3.20',
    description: 'Template that allows VM installation from Xen-aware Alpine distros.',
    distro: 'alpine',
    memoryMiB: 1024,
    vcpus: 1,
    diskGiB: 8,
  },
  {
    name: 'Windows Server 2022 (64-bit)',
    description:
      'Clones of this template will automatically provision their storage when first booted and then reconfigure themselves with the optimal settings for Windows Server 2022 (64-bit).',
    linux: false,
    memoryMiB: 4096,
    vcpus: 2,
    diskGiB: 32,
  },
  {
    name: 'Other install media',
    description: 'Template which allows VM installation from install media',
    linux: false,
    memoryMiB: 2048,
    vcpus: 2,
    diskGiB: 10,
  },
];

/**
 * The built-in default: pool "xenlab" of three hosts (8 CPUs, 32 GiB, eth0 management + eth1), local storage per
 * host, a shared NFS SR as the default SR, an ISO library, and the default templates. Exported so tests and labs can
 * copy and tweak it.
 */
export const DEFAULT_SCENARIO: ScenarioInput = {
  pool: { name: 'xenlab' },
  seed: 'xenlab',
  hosts: [
    { name: 'xcp-ng-01', cpus: 8, memoryGiB: 32, nics: ['eth0', 'eth1'] },
    { name: 'xcp-ng-02', cpus: 8, memoryGiB: 32, nics: ['eth0', 'eth1'] },
    { name: 'xcp-ng-03', cpus: 8, memoryGiB: 32, nics: ['eth0', 'eth1'] },
  ],
  sharedStorage: [
    {
      name: 'NFS storage',
      type: 'nfs',
      sizeGiB: 2048,
      deviceConfig: { server: '10.0.0.5', serverpath: '/srv/nfs/xenlab', nfsversion: '4.1' },
      default: true,
    },
  ],
  isoStorage: [
    {
      name: 'ISO library',
      location: '10.0.0.5:/srv/iso',
      isos: [
        'debian-12.8.0-amd64-netinst.iso',
        'ubuntu-22.04.5-live-server-amd64.iso',
        'Rocky-9.5-x86_64-minimal.iso',
      ],
    },
  ],
};

function strMap(o: Readonly<Record<string, string>>): Record<string, unknown> {
  const m = newMap();
  for (const [k, v] of Object.entries(o)) m[k] = v;
  return m;
}

/**
 * Creates the scenario's objects in an (empty) store. `random` drives MACs; uuids come from the store's source.
 * Returns the refs of everything created, so the caller can run behaviour `afterChange` hooks on them.
 */
export function buildScenario(
  store: SimStore,
  scenario: Scenario,
  random: () => number,
  now: Date,
): [string, string][] {
  const created: [string, string][] = [];
  const make = (cls: string, fields: SimRecord): string => {
    const ref = store.create(cls, fields);
    created.push([cls, ref]);
    return ref;
  };
  const pool = make('pool', {
    name_label: scenario.pool.name,
    other_config: strMap({ memory_ratio_hvm: '0.25', memory_ratio_pv: '0.25' }),
    cpu_info: strMap({
      cpu_count: String(scenario.hosts.reduce((n, h) => n + h.cpus, 0)),
      socket_count: String(scenario.hosts.length),
      vendor: 'GenuineIntel',
    }),
  });

  // Pool-wide networks, one per NIC name ("Pool-wide network associated with ethN", ocaml/xapi/helpers.ml).
  const nicNames = [...new Set(scenario.hosts.flatMap((h) => h.nics))].sort(
    (a, b) => Number(a.slice(3)) - Number(b.slice(3)),
  );
  const networks = new Map<string, string>();
  for (const nic of nicNames) {
    networks.set(
      nic,
      make('network', {
        name_label: `Pool-wide network associated with ${nic}`,
        bridge: `xenbr${nic.slice(3)}`,
        MTU: 1500,
        managed: true,
        other_config: strMap({ automatic: 'true' }),
        purpose: [],
      }),
    );
  }
  make('network', {
    name_label: 'Host internal management network',
    name_description:
      'Network on which guests will be assigned a private link-local IP address which can be used to talk XenAPI',
    bridge: 'xenapi',
    MTU: 1500,
    managed: true,
    other_config: strMap({
      is_guest_installer_network: 'true',
      is_host_internal_management_network: 'true',
      ip_begin: '169.254.0.1',
      ip_end: '169.254.255.254',
      netmask: '255.255.0.0',
    }),
  });

  const hosts: string[] = [];
  scenario.hosts.forEach((h, index) => {
    const address = h.address ?? `10.0.0.${11 + index}`;
    const memory = Math.round(h.memoryGiB * GiB);
    const dom0Memory = 4 * GiB;
    const cpuInfo = {
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
    const metrics = make('host_metrics', {
      memory_total: memory,
      memory_free: memory - dom0Memory,
      live: true,
      last_updated: now,
    });
    const host = make('host', {
      name_label: h.name,
      hostname: h.name,
      address,
      enabled: true,
      API_version_major: 2,
      API_version_minor: 21,
      API_version_vendor: 'XenSource',
      software_version: strMap({
        product_version: '8.3.0',
        product_version_text: '8.3',
        product_version_text_short: '8.3',
        platform_name: 'XCP',
        platform_version: '3.4.0',
        product_brand: 'XCP-ng',
        build_number: 'cloud',
        hostname: h.name,
        date: '2024-10-02',
        xapi: '24.19',
        xen: '4.17.5-3',
        linux: '4.19.0+1',
        xencenter_min: '2.21',
        xencenter_max: '2.21',
        network_backend: 'openvswitch',
        db_schema: '5.780',
      }),
      capabilities: ['xen-3.0-x86_64', 'hvm-3.0-x86_32', 'hvm-3.0-x86_32p', 'hvm-3.0-x86_64'],
      cpu_info: strMap(cpuInfo),
      memory_overhead: 0,
      metrics,
      edition: 'xcp-ng',
      license_params: strMap({ sku_type: 'free', restrict_pool_size: 'false' }),
      other_config: strMap({
        iscsi_iqn: `iqn.2024-10.org.xcp-ng:${h.name}`,
        agent_start_time: String(Math.floor(now.getTime() / 1000)),
      }),
      sched_policy: 'credit',
      iscsi_iqn: `iqn.2024-10.org.xcp-ng:${h.name}`,
      external_auth_type: '',
      control_domain: NULL_REF,
    });
    hosts.push(host);
    for (let n = 0; n < h.cpus; n++) {
      make('host_cpu', {
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
    // dom0: "Control domain on host: <hostname>" (NOTES §7), running, domid 0.
    const dom0Metrics = make('VM_metrics', {
      memory_actual: dom0Memory,
      VCPUs_number: Math.min(h.cpus, 8),
      state: [],
      start_time: now,
      install_time: now,
      last_updated: now,
      current_domain_type: 'pv',
    });
    const dom0 = make('VM', {
      name_label: `Control domain on host: ${h.name}`,
      name_description: 'The domain which manages physical devices and manages other domains',
      power_state: 'Running',
      is_control_domain: true,
      resident_on: host,
      affinity: host,
      domid: 0,
      domain_type: 'pv',
      memory_static_max: dom0Memory,
      memory_dynamic_max: dom0Memory,
      memory_dynamic_min: dom0Memory,
      memory_static_min: dom0Memory,
      memory_target: dom0Memory,
      VCPUs_max: Math.min(h.cpus, 8),
      VCPUs_at_startup: Math.min(h.cpus, 8),
      actions_after_shutdown: 'destroy',
      actions_after_reboot: 'restart',
      actions_after_crash: 'restart',
      metrics: dom0Metrics,
      other_config: strMap({ storage_driver_domain: '', is_system_domain: 'true' }),
      user_version: 1,
    });
    store.update('host', host, { control_domain: dom0 });
    h.nics.forEach((nic, i) => {
      const management = i === 0;
      const pifMetrics = make('PIF_metrics', {
        carrier: true,
        vendor_id: '8086',
        vendor_name: 'Intel Corporation',
        device_id: '1533',
        device_name: 'I210 Gigabit Network Connection',
        speed: 1000,
        duplex: true,
        pci_bus_path: `0000:0${i + 1}:00.0`,
        last_updated: now,
      });
      make('PIF', {
        device: nic,
        host,
        network: networks.get(nic),
        MAC: macFrom(random),
        MTU: 1500,
        VLAN: -1,
        physical: true,
        currently_attached: true,
        management,
        ip_configuration_mode: management ? 'DHCP' : 'None',
        IP: management ? address : '',
        netmask: management ? '255.255.255.0' : '',
        gateway: management ? '10.0.0.1' : '',
        DNS: management ? '10.0.0.1' : '',
        metrics: pifMetrics,
        managed: true,
        primary_address_type: 'IPv4',
        ipv6_configuration_mode: 'None',
        properties: strMap({ gro: 'on' }),
        capabilities: ['fcoe'],
        other_config: strMap({}),
      });
    });
    if (h.localStorageGiB > 0) {
      const size = Math.round(h.localStorageGiB * GiB);
      const sr = make('SR', {
        name_label: 'Local storage',
        type: 'ext',
        content_type: 'user',
        shared: false,
        physical_size: size,
        physical_utilisation: 0,
        virtual_allocation: 0,
        other_config: strMap({
          'i18n-key': 'local-storage',
          'i18n-original-value-name_label': 'Local storage',
        }),
        sm_config: strMap({ devserial: `scsi-${h.name}` }),
      });
      make('PBD', { host, SR: sr, device_config: strMap({ device: '/dev/sda3' }), currently_attached: true });
    }
    const dvd = make('SR', {
      name_label: 'DVD drives',
      name_description: 'Physical DVD drives',
      type: 'udev',
      content_type: 'iso',
      shared: false,
      other_config: strMap({
        'i18n-key': 'local-hotplug-cd',
        'i18n-original-value-name_label': 'DVD drives',
      }),
      sm_config: strMap({ type: 'cd' }),
    });
    make('PBD', {
      host,
      SR: dvd,
      device_config: strMap({ location: '/dev/xapi/cd' }),
      currently_attached: true,
    });
  });
  store.update('pool', pool, { master: hosts[0] ?? NULL_REF });

  let defaultSr = NULL_REF;
  for (const s of scenario.sharedStorage) {
    const size = Math.round(s.sizeGiB * GiB);
    const sr = make('SR', {
      name_label: s.name,
      type: s.type,
      content_type: 'user',
      shared: true,
      physical_size: size,
      physical_utilisation: 0,
      virtual_allocation: 0,
      other_config: strMap({ auto_scan: 'true' }),
    });
    for (const host of hosts)
      make('PBD', { host, SR: sr, device_config: strMap(s.deviceConfig), currently_attached: true });
    if (s.default || defaultSr === NULL_REF) defaultSr = sr;
  }
  for (const iso of scenario.isoStorage) {
    const sr = make('SR', {
      name_label: iso.name,
      type: 'iso',
      content_type: 'iso',
      shared: true,
      physical_size: 100 * GiB,
      physical_utilisation: iso.isos.length * 700 * MiB,
      other_config: strMap({ auto_scan: 'true' }),
      sm_config: strMap({ iso_type: 'nfs_iso' }),
    });
    for (const host of hosts)
      make('PBD', {
        host,
        SR: sr,
        device_config: strMap({ location: iso.location, legacy_mode: 'true' }),
        currently_attached: true,
      });
    for (const name of iso.isos) {
      make('VDI', {
        name_label: name,
        SR: sr,
        virtual_size: 700 * MiB,
        physical_utilisation: 700 * MiB,
        type: 'user',
        read_only: true,
        sharable: false,
        managed: true,
        location: name,
      });
    }
  }
  if (defaultSr === NULL_REF)
    defaultSr = store.all('SR').find(([, r]) => r.name_label === 'Local storage')?.[0] ?? NULL_REF;
  store.update('pool', pool, {
    default_SR: defaultSr,
    suspend_image_SR: defaultSr,
    crash_dump_SR: defaultSr,
  });

  const templates = scenario.templates ?? DEFAULT_TEMPLATES.map((t) => templateSchema.parse(t));
  templates.forEach((t, i) => {
    const mem = t.memoryMiB * MiB;
    const other: Record<string, string> = {
      default_template: 'true',
      'install-methods': t.linux ? 'cdrom,nfs,http,ftp' : 'cdrom',
      mac_seed: '',
      base_template_name: t.name,
    };
    if (t.linux) other.linux_template = 'true';
    if (t.distro) other['install-distro'] = t.distro;
    if (t.diskGiB > 0)
      // Provision XML read by VM.provision (ocaml/xapi/xapi_templates.ml); sr="" means "the default SR".
      other.disks = `<provision><disk device="0" size="${Math.round(t.diskGiB * GiB)}" sr="" bootable="true" type="system"/></provision>`;
    make('VM', {
      name_label: t.name,
      name_description: t.description,
      is_a_template: true,
      is_default_template: true,
      power_state: 'Halted',
      domid: -1,
      domain_type: 'hvm',
      memory_static_max: mem,
      memory_dynamic_max: mem,
      memory_dynamic_min: mem,
      memory_static_min: Math.min(mem, 512 * MiB),
      memory_target: 0,
      VCPUs_max: t.vcpus,
      VCPUs_at_startup: t.vcpus,
      actions_after_shutdown: 'destroy',
      actions_after_reboot: 'restart',
      actions_after_crash: 'restart',
      HVM_boot_policy: 'BIOS order',
      HVM_boot_params: strMap({ order: 'cdn' }),
      platform: strMap({
        viridian: t.linux ? 'false' : 'true',
        acpi: '1',
        apic: 'true',
        pae: 'true',
        nx: 'true',
        'device-model': 'qemu-upstream-compat',
      }),
      other_config: strMap(other),
      user_version: 1,
      reference_label: t.name.toLowerCase().replace(/[^a-z0-9]+/g, '-'),
      order: i,
    });
  });
  return created;
}
