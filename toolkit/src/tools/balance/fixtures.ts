/**
 * Pools for the balancer's unit tests and benchmark, built by hand: hosts with their recent samples and VMs with
 * their load, plus a tiny load model that turns placement into samples the way Xen shares CPUs (a host whose vCPUs
 * ask for more than its pCPUs gives each VM the same fraction of what it asks).
 */
import type { HostSample, HostState, PastMove, Snapshot, VmState } from './decide.js';

const GiB = 1024 ** 3;

/** A host of a fixture: its load per sample, oldest first (a number: the same for every sample). */
export interface FixtureHost {
  readonly name: string;
  readonly cpu?: number | readonly number[];
  /** Fraction of memory used. */
  readonly memory?: number | readonly number[];
  readonly disk?: number | readonly number[];
  readonly network?: number | readonly number[];
  readonly enabled?: boolean;
  readonly live?: boolean;
  readonly pcpus?: number;
  readonly memoryGiB?: number;
}

/** A VM of a fixture. */
export interface FixtureVm {
  readonly name: string;
  readonly host: string;
  readonly vcpus?: number;
  readonly cpu?: number;
  readonly runnable?: number;
  readonly memoryGiB?: number;
  readonly disk?: number;
  readonly network?: number;
  readonly tags?: readonly string[];
  readonly blocked?: string;
}

/** Time of the newest sample of every fixture. */
export const FIXTURE_TIME = 1_767_225_600; // 2026-01-01 00:00:00Z

/** uuid of a fixture object (readable in goldens). */
export const fid = (kind: 'host' | 'vm', name: string): string => `${kind}-${name}`;

/**
 * A snapshot from fixture hosts and VMs; `samples` per host (default 6), 5 s apart, ending at {@link FIXTURE_TIME}.
 * @example
 * const snap = fixture([{ name: 'a', cpu: 0.9 }, { name: 'b', cpu: 0.2 }], [{ name: 'hog', host: 'a', cpu: 1 }]);
 */
export function fixture(
  hosts: readonly FixtureHost[],
  vms: readonly FixtureVm[],
  o: { readonly samples?: number; readonly time?: number } = {},
): Snapshot {
  const n = o.samples ?? 6;
  const end = o.time ?? FIXTURE_TIME;
  const series = (v: number | readonly number[] | undefined, fallback: number): number[] => {
    if (v === undefined) return Array.from({ length: n }, () => fallback);
    if (typeof v === 'number') return Array.from({ length: n }, () => v);
    return Array.from({ length: n }, (_, i) => v[Math.max(0, v.length - n + i)] ?? v[0] ?? fallback);
  };
  const hostStates: HostState[] = hosts.map((h) => {
    const cpu = series(h.cpu, 0.1);
    const mem = series(h.memory, 0.3);
    const disk = series(h.disk, 1e6);
    const net = series(h.network, 1e6);
    const samples: HostSample[] = cpu.map((c, i) => ({
      t: end - (n - 1 - i) * 5,
      cpu: c,
      memory: mem[i] ?? NaN,
      disk: disk[i] ?? NaN,
      network: net[i] ?? NaN,
    }));
    return {
      uuid: fid('host', h.name),
      name: h.name,
      enabled: h.enabled ?? true,
      live: h.live ?? true,
      pcpus: h.pcpus ?? 8,
      memoryTotal: (h.memoryGiB ?? 64) * GiB,
      samples,
    };
  });
  const vmStates: VmState[] = vms.map((v) => ({
    uuid: fid('vm', v.name),
    name: v.name,
    host: fid('host', v.host),
    vcpus: v.vcpus ?? 2,
    cpu: v.cpu ?? 0.03,
    runnable: v.runnable ?? 0,
    memory: (v.memoryGiB ?? 2) * GiB,
    disk: v.disk ?? 1e5,
    network: v.network ?? 1e5,
    tags: v.tags ?? [],
    ...(v.blocked ? { blocked: v.blocked } : {}),
  }));
  return { time: end, step: 5, hosts: hostStates, vms: vmStates };
}

/** A toy pool: VMs ask for CPU (in pCPUs), hosts share their pCPUs out proportionally; placement can change. */
export class ToyPool {
  readonly hosts: { name: string; pcpus: number; memoryGiB: number; enabled: boolean }[];
  readonly vms: {
    name: string;
    host: string;
    vcpus: number;
    demand: number;
    memoryGiB: number;
    tags: string[];
  }[];
  readonly history: { t: number; cpu: Map<string, number> }[] = [];
  time = FIXTURE_TIME;
  /** Base load of each host's control domain, in pCPUs. */
  dom0 = 0.1;

  constructor(
    hosts: readonly { name: string; pcpus?: number; memoryGiB?: number; enabled?: boolean }[],
    vms: readonly {
      name: string;
      host: string;
      vcpus?: number;
      demand: number;
      memoryGiB?: number;
      tags?: string[];
    }[],
  ) {
    this.hosts = hosts.map((h) => ({
      name: h.name,
      pcpus: h.pcpus ?? 8,
      memoryGiB: h.memoryGiB ?? 64,
      enabled: h.enabled ?? true,
    }));
    this.vms = vms.map((v) => ({
      name: v.name,
      host: v.host,
      vcpus: v.vcpus ?? 2,
      demand: v.demand,
      memoryGiB: v.memoryGiB ?? 2,
      tags: v.tags ?? [],
    }));
  }

  /** Demand of a host in pCPUs (dom0 included). */
  demand(host: string): number {
    return this.dom0 + this.vms.filter((v) => v.host === host).reduce((n, v) => n + v.demand, 0);
  }

  share(host: string): number {
    const h = this.hosts.find((x) => x.name === host);
    const d = this.demand(host);
    return h && d > h.pcpus ? h.pcpus / d : 1;
  }

  /** Takes one sample (5 s later than the last). */
  sample(): void {
    this.time += 5;
    const cpu = new Map<string, number>();
    for (const h of this.hosts) cpu.set(h.name, Math.min(1, this.demand(h.name) / h.pcpus));
    this.history.push({ t: this.time, cpu });
  }

  /** The snapshot a balancer would read now (the last `n` samples). */
  snapshot(n = 6): Snapshot {
    const rows = this.history.slice(-n);
    return {
      time: this.time,
      step: 5,
      hosts: this.hosts.map((h) => ({
        uuid: fid('host', h.name),
        name: h.name,
        enabled: h.enabled,
        live: true,
        pcpus: h.pcpus,
        memoryTotal: h.memoryGiB * GiB,
        samples: rows.map((r) => ({
          t: r.t,
          cpu: r.cpu.get(h.name) ?? NaN,
          memory:
            this.vms.filter((v) => v.host === h.name).reduce((k, v) => k + v.memoryGiB, 2) / h.memoryGiB,
          disk: 1e6,
          network: 1e6,
        })),
      })),
      vms: this.vms.map((v) => {
        const s = this.share(v.host);
        return {
          uuid: fid('vm', v.name),
          name: v.name,
          host: fid('host', v.host),
          vcpus: v.vcpus,
          cpu: (v.demand * s) / v.vcpus,
          // Xen: a vCPU that wants the CPU and does not get it is runnable.
          runnable: (v.demand * (1 - s)) / v.vcpus,
          memory: v.memoryGiB * GiB,
          disk: 1e5,
          network: 1e5,
          tags: v.tags,
        };
      }),
    };
  }

  /** Moves a VM (by uuid, as decisions name it); returns the move as history. */
  move(vmUuid: string, toUuid: string): PastMove {
    const v = this.vms.find((x) => fid('vm', x.name) === vmUuid);
    const to = this.hosts.find((x) => fid('host', x.name) === toUuid);
    if (!v || !to) throw new Error(`no ${vmUuid} or ${toUuid}`);
    const from = fid('host', v.host);
    v.host = to.name;
    return { vm: vmUuid, from, to: toUuid, time: this.time + 1 };
  }

  /** Where each VM runs, `vm@host` sorted. */
  placement(): string[] {
    return this.vms.map((v) => `${v.name}@${v.host}`).sort();
  }
}
