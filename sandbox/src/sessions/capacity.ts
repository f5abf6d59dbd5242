/**
 * How many environments of a lab this machine can run at once, per driver, from measured facts: the host's memory
 * (total and `MemAvailable` when the gateway started), its cores, whether QEMU gets KVM or emulates (TCG), and what
 * one environment of the lab costs (the lab's declared per-node `memoryMb`, else the driver's default, plus each
 * process's overhead). The operator overrides any driver (`xenlab serve --capacity qemu-xen=6,local=80`, or
 * `XENLAB_CAPACITY`). Figures behind the defaults are measured on a 2-core, 24 GiB box without KVM (see the
 * sessions README, "Room capacity").
 * @module
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { autoAccel } from '../drivers/qemu-xen/accel.js';

/** What capacity is derived from. */
export interface HostFacts {
  /** Total memory (MiB). */
  readonly totalMb: number;
  /** `MemAvailable` of /proc/meminfo when measured (MiB); the total where it cannot be read. */
  readonly availableMb: number;
  readonly cores: number;
  /** Whether the qemu-xen driver runs QEMU with KVM here (see `drivers/qemu-xen/accel.ts`); false: TCG, software emulation. */
  readonly kvm: boolean;
}

/** What one environment of a lab needs: its driver and, for machine drivers, its nodes' memory. */
export interface LabCost {
  /** The lab's driver (`local`, `docker`, `qemu-xen`, `xcp`). */
  readonly driver: string;
  /** Nodes of the environment (1 for a shell). */
  readonly nodes: number;
  /** Declared memory of all its nodes (MiB), when the lab declares it. */
  readonly memoryMb?: number;
}

/** Measures this machine (Linux: /proc/meminfo, and KVM as the qemu-xen driver finds it; elsewhere the totals and no KVM). */
export function measureHost(): HostFacts {
  const totalMb = Math.floor(totalmem() / 2 ** 20);
  let availableMb = totalMb;
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m?.[1]) availableMb = Math.floor(Number(m[1]) / 1024);
  } catch {
    // Not Linux: the total stands in for what is free.
  }
  // What the qemu-xen driver will use: /dev/kvm can open and still not run a nested Xen (the driver then falls back to
  // TCG for good), and a room planned for KVM on such a machine would admit four times the Xen hosts it can run.
  const kvm = autoAccel() === 'kvm';
  return { totalMb, availableMb, cores: Math.max(1, availableParallelism()), kvm };
}

/**
 * Resident memory of one environment (MiB) besides its declared guest memory, measured with `ps -o rss` over the
 * gateway and its children on the 2-core, 24 GiB box without KVM (sessions README, "Room capacity"): a simulator
 * lab (its simulator in a shared worker thread, grader, jailed bash) and, per node, what QEMU adds to the guest's
 * RAM under TCG (its translation cache is 1 GiB by default).
 */
export const MEASURED_MB = {
  /** One `local` environment: measured 17-20 MiB (6-10 at once, playground and a lab); doubled for pools that grow. */
  local: 32,
  /** One `docker` environment: a container's shell and the learner's simulator (estimate, not measured here). */
  docker: 160,
  /** Per QEMU node under TCG, beyond its guest RAM: measured 650-1250 MiB over a 384 MiB guest after 15 min. */
  qemuOverheadTcg: 1024,
  /** Per QEMU node with KVM (no translation cache): an estimate, not measured here (no /dev/kvm). */
  qemuOverheadKvm: 96,
  /** A qemu-xen node with no declared memory gets the driver's default (`memoryMb` 2048). */
  qemuDefaultNode: 2048,
} as const;

/** Memory kept for the OS, the gateway and the page cache: 2 GiB or 10 % of the total, whichever is more. */
export function reservedMb(host: HostFacts): number {
  return Math.max(2048, Math.round(host.totalMb * 0.1));
}

/** What one environment of the lab costs here (MiB). */
export function environmentMb(cost: LabCost, host: HostFacts): number {
  if (cost.driver === 'qemu-xen' || cost.driver === 'xcp') {
    const nodes = Math.max(1, cost.nodes);
    const guest = cost.memoryMb ?? nodes * MEASURED_MB.qemuDefaultNode;
    return guest + nodes * (host.kvm ? MEASURED_MB.qemuOverheadKvm : MEASURED_MB.qemuOverheadTcg);
  }
  if (cost.driver === 'docker') return MEASURED_MB.docker * Math.max(1, cost.nodes);
  return MEASURED_MB.local;
}

/** How the limit was reached, for the instructor's page and the logs. */
export interface CapacityDecision {
  readonly limit: number;
  /** `override` (the operator's), `memory` or `cpu` (whichever bound it). */
  readonly by: 'override' | 'memory' | 'cpu';
  /** One line: "3 at once: 24 GiB, 2 cores, TCG; 6.9 GiB each (3 nodes)". */
  readonly why: string;
}

/**
 * The measured limit for one lab: memory (what was available at start, less the reserve, over one environment's
 * cost) and CPU (TCG: one node per core, since emulation keeps a core busy while a guest runs; KVM: four nodes per
 * core; shells: 150 per core, as they mostly wait: `npm run bench:sandbox` keeps 200 typing learners on 2 cores), the smaller of the two and at least 1.
 */
export function capacityFor(
  cost: LabCost,
  host: HostFacts,
  overrides: ReadonlyMap<string, number> = new Map(),
): CapacityDecision {
  const override = overrides.get(cost.driver);
  const each = environmentMb(cost, host);
  if (override !== undefined)
    return { limit: override, by: 'override', why: `${String(override)} at once (set by the operator)` };
  const budget = Math.max(0, Math.min(host.availableMb, host.totalMb - reservedMb(host)));
  const byMemory = Math.floor(budget / each);
  const machine = cost.driver === 'qemu-xen' || cost.driver === 'xcp';
  const nodes = Math.max(1, cost.nodes);
  const byCpu = machine
    ? Math.floor((host.cores * (host.kvm ? 4 : 1)) / nodes)
    : host.cores * (cost.driver === 'docker' ? 10 : 150);
  const limit = Math.max(1, Math.min(byMemory, byCpu));
  const gib = (mb: number) => `${(mb / 1024).toFixed(1)} GiB`;
  const why =
    `${String(limit)} at once: ${gib(budget)} usable of ${gib(host.totalMb)}, ${String(host.cores)} cores` +
    `${machine ? (host.kvm ? ', KVM' : ', no KVM (TCG)') : ''}; ${each >= 1024 ? gib(each) : `${String(each)} MiB`} each` +
    (machine ? ` (${String(nodes)} node${nodes === 1 ? '' : 's'})` : '');
  return { limit, by: byMemory <= byCpu ? 'memory' : 'cpu', why };
}

/**
 * Parses the operator's overrides: `qemu-xen=6,local=80` (a driver name, `=`, a whole number from 1 to 10000).
 * @throws Error naming the part that is wrong.
 * @example
 * parseCapacity('qemu-xen=6, local=80') // Map { 'qemu-xen' => 6, 'local' => 80 }
 */
export function parseCapacity(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z][a-z0-9-]*)=(\d{1,5})$/.exec(part);
    const n = Number(m?.[2]);
    if (!m?.[1] || !(n >= 1 && n <= 10_000))
      throw new Error(
        `capacity "${part}" is not <driver>=<environments at once> (e.g. qemu-xen=6, a number from 1 to 10000)`,
      );
    out.set(m[1], n);
  }
  return out;
}
