/**
 * `bottleneck`: read a window of metrics, find saturated CPU, memory, disk and network per host and VM, show the
 * evidence, and recommend a repair — migrate a VM to a host with room, lower a VM's CPU weight/cap, move a disk to
 * another SR, give a VM memory. The method is the USE method (utilisation and saturation per resource, Brendan
 * Gregg) applied to xapi's RRD data sources (xenapi/NOTES.md §4): cpu_avg and runstate_runnable for CPU,
 * memory_free_kib and memory_internal_free for memory, vbd_*_latency for disks, pif_aggr_* for the network.
 */
import type { SRRecord, VBDRecord, VDIRecord, XapiClient } from '../../xenapi/index.js';
import { defineTool } from '../command.js';
import { ToolError, ToolErrorCode } from '../errors.js';
import { bytes, pct } from '../format.js';
import { readPoolView, type HostView, type PoolView, type VmView } from '../pool-view.js';

/** The resource a finding is about. */
export type Resource = 'cpu' | 'memory' | 'disk' | 'network';

/** A recommended repair. */
export interface Repair {
  readonly action: 'migrate' | 'cap' | 'move-disk' | 'add-memory' | 'add-vcpus' | 'none';
  readonly text: string;
  /** The `xe` command that carries it out, when there is one. */
  readonly command?: string;
}

/** One saturated resource. */
export interface Finding {
  readonly resource: Resource;
  readonly subject: { readonly kind: 'host' | 'vm'; readonly name: string; readonly uuid: string };
  readonly summary: string;
  readonly evidence: readonly string[];
  readonly repair: Repair;
}

/** Thresholds (fractions, ms, B/s). */
export interface Thresholds {
  readonly cpu: number;
  readonly memory: number;
  readonly latencyMs: number;
  readonly networkBps: number;
}

/** The result. */
export interface BottleneckReport {
  readonly windowSeconds: number;
  readonly samples: number;
  readonly hosts: number;
  readonly vms: number;
  readonly findings: readonly Finding[];
}

interface Extra {
  readonly free: ReadonlyMap<string, number>;
  readonly vbds: Readonly<Record<string, VBDRecord>>;
  readonly vdis: Readonly<Record<string, VDIRecord>>;
  readonly srs: Readonly<Record<string, SRRecord>>;
  /** Local (unshared) SR ref → the host it is plugged into. */
  readonly localSrHost: ReadonlyMap<string, string>;
}

function hostFor(
  view: PoolView,
  extra: Extra,
  exclude: HostView,
  needMemory: number,
  by: (h: HostView) => number,
): HostView | undefined {
  return view.hosts
    .filter(
      (h) =>
        h !== exclude &&
        h.rec.enabled &&
        Number.isFinite(h.cpu) &&
        (extra.free.get(h.ref) ?? 0) >= needMemory,
    )
    .sort((a, b) => by(a) - by(b))[0];
}

function migrate(vm: VmView, to: HostView | undefined, extra: Extra, why: (to: HostView) => string): Repair {
  if (!to)
    return {
      action: 'cap',
      text: `no other host has room for ${vm.name}: lower its CPU weight (default 256) or cap it so its neighbours get their share; xapi applies both when the domain is next built (reboot or live migration), and on the host "xl sched-credit -d <domid> -w 128" changes the running domain now`,
      command: `xe vm-param-set uuid=${vm.uuid} VCPUs-params:weight=128 VCPUs-params:cap=${50 * vm.vcpus}`,
    };
  return {
    action: 'migrate',
    text: `migrate VM ${vm.name} to host ${to.name} (${why(to)}, ${bytes(extra.free.get(to.ref) ?? NaN)} free)`,
    command: `xe vm-migrate uuid=${vm.uuid} host-uuid=${to.uuid} live=true`,
  };
}

/** Finds saturation in a pool view. */
export function analyse(view: PoolView, extra: Extra, t: Thresholds): Finding[] {
  const findings: Finding[] = [];
  const vmsOn = (h: HostView): VmView[] => view.vms.filter((v) => v.host === h.name);
  for (const h of view.hosts) {
    const vms = vmsOn(h);
    if (h.cpu >= t.cpu) {
      const demand = vms.reduce((n, v) => n + (Number.isFinite(v.cpu) ? v.cpu * v.vcpus : 0), 0);
      const busiest = [...vms].sort((a, b) => b.cpu * b.vcpus - a.cpu * a.vcpus)[0];
      const waiting = vms.filter((v) => v.runnable > 0.05);
      findings.push({
        resource: 'cpu',
        subject: { kind: 'host', name: h.name, uuid: h.uuid },
        summary: `host ${h.name} CPU saturated: cpu_avg ${pct(h.cpu)}`,
        evidence: [
          `cpu_avg ${pct(h.cpu)} (threshold ${pct(t.cpu)}) over ${h.samples} sample(s)`,
          `${vms.length} running VM(s) use ${demand.toFixed(1)} of ${h.pcpus} physical CPUs`,
          ...(waiting.length
            ? [
                `${waiting.length} VM(s) wait for a CPU (runstate_runnable up to ${pct(Math.max(...waiting.map((v) => v.runnable)))})`,
              ]
            : []),
          ...(busiest ? [`busiest: ${busiest.name} at ${pct(busiest.cpu)} of ${busiest.vcpus} vCPU(s)`] : []),
        ],
        repair: busiest
          ? migrate(
              busiest,
              hostFor(view, extra, h, busiest.rec.memory_static_max, (x) => x.cpu),
              extra,
              (to) => `cpu_avg ${pct(to.cpu)}`,
            )
          : { action: 'none', text: 'no guest load: look at dom0 (xentop on the host)' },
      });
    }
    const used = h.memTotal > 0 ? 1 - h.memFree / h.memTotal : NaN;
    if (used >= t.memory) {
      const biggest = [...vms].sort((a, b) => b.memory - a.memory)[0];
      const to = biggest
        ? hostFor(view, extra, h, biggest.rec.memory_static_max, (x) => -(extra.free.get(x.ref) ?? 0))
        : undefined;
      findings.push({
        resource: 'memory',
        subject: { kind: 'host', name: h.name, uuid: h.uuid },
        summary: `host ${h.name} memory nearly full: ${pct(used)} used`,
        evidence: [
          `memory_free_kib ${bytes(h.memFree)} of ${bytes(h.memTotal)} (threshold ${pct(t.memory)} used)`,
          ...(biggest ? [`largest VM: ${biggest.name} with ${bytes(biggest.memory)}`] : []),
        ],
        repair: biggest
          ? migrate(biggest, to, extra, () => 'most free memory')
          : { action: 'none', text: 'no guest on the host' },
      });
    }
    if (h.net >= t.networkBps) {
      const loudest = [...vms].sort((a, b) => b.netRx + b.netTx - (a.netRx + a.netTx))[0];
      findings.push({
        resource: 'network',
        subject: { kind: 'host', name: h.name, uuid: h.uuid },
        summary: `host ${h.name} network busy: ${bytes(h.net)}/s through its PIFs`,
        evidence: [
          `pif_aggr_rx+tx ${bytes(h.net)}/s (threshold ${bytes(t.networkBps)}/s)`,
          ...(loudest ? [`loudest VM: ${loudest.name} at ${bytes(loudest.netRx + loudest.netTx)}/s`] : []),
        ],
        repair: loudest
          ? migrate(
              loudest,
              hostFor(view, extra, h, loudest.rec.memory_static_max, (x) => x.net),
              extra,
              (to) => `its PIFs carry ${bytes(to.net)}/s`,
            )
          : { action: 'none', text: 'traffic is not from guests: check dom0 and storage traffic' },
      });
    }
  }
  const saturated = new Set(findings.filter((f) => f.resource === 'cpu').map((f) => f.subject.name));
  for (const v of view.vms) {
    // A VM using nearly all of its own vCPUs on a host with room is limited by its size, not by its neighbours.
    if (v.cpu >= t.cpu && !saturated.has(v.host)) {
      const more = v.vcpus * 2;
      findings.push({
        resource: 'cpu',
        subject: { kind: 'vm', name: v.name, uuid: v.uuid },
        summary: `VM ${v.name} CPU-bound: ${pct(v.cpu)} of its ${v.vcpus} vCPU(s)`,
        evidence: [
          `cpu0..cpu${v.vcpus - 1} average ${pct(v.cpu)} (threshold ${pct(t.cpu)})`,
          `host ${v.host} has room (not saturated)`,
        ],
        repair: {
          action: 'add-vcpus',
          text: `give ${v.name} more vCPUs (${v.vcpus} → ${more}; raising VCPUs-max needs the VM halted)`,
          command: `xe vm-param-set uuid=${v.uuid} VCPUs-max=${more} VCPUs-at-startup=${more}`,
        },
      });
    }
    if (v.diskLatency >= t.latencyMs) {
      // The disk's SR, its other users, and the heaviest of them: moving the heaviest disk relieves everyone.
      const vbd = Object.values(extra.vbds).find((b) => b.VM === v.ref && b.device === v.diskDevice);
      const vdi = vbd ? extra.vdis[vbd.VDI] : undefined;
      const sr = vdi ? extra.srs[vdi.SR] : undefined;
      const onSr = view.vms.filter((o) =>
        Object.values(extra.vbds).some((b) => b.VM === o.ref && extra.vdis[b.VDI]?.SR === vdi?.SR),
      );
      const heaviest =
        [...onSr].sort((a, b) => b.diskRead + b.diskWrite - (a.diskRead + a.diskWrite))[0] ?? v;
      const heavyVbd = Object.values(extra.vbds).find(
        (b) => b.VM === heaviest.ref && b.type === 'Disk' && extra.vdis[b.VDI]?.SR === vdi?.SR,
      );
      const heavyVdi = heavyVbd ? extra.vdis[heavyVbd.VDI] : undefined;
      const host = view.hosts.find((h) => h.name === heaviest.host);
      const target = Object.entries(extra.srs)
        .filter(
          ([ref, s]) =>
            ref !== vdi?.SR &&
            s.content_type === 'user' &&
            s.physical_size - s.physical_utilisation > (heavyVdi?.virtual_size ?? 0),
        )
        // A shared SR keeps the VM migratable; a local SR must be the one of the host the VM runs on.
        .filter(([ref, s]) => s.shared || (host !== undefined && extra.localSrHost.get(ref) === host.ref))
        .sort(
          ([, a], [, b]) =>
            Number(b.shared) - Number(a.shared) ||
            b.physical_size - b.physical_utilisation - (a.physical_size - a.physical_utilisation),
        )
        .at(0);
      findings.push({
        resource: 'disk',
        subject: { kind: 'vm', name: v.name, uuid: v.uuid },
        summary: `VM ${v.name} disk ${v.diskDevice} saturated: ${v.diskLatency.toFixed(1)} ms latency`,
        evidence: [
          `vbd_${v.diskDevice}_latency ${v.diskLatency.toFixed(1)} ms (threshold ${t.latencyMs} ms)`,
          ...(sr ? [`on SR ${sr.name_label} (${sr.type}), shared by ${onSr.length} running VM(s)`] : []),
          `heaviest there: ${heaviest.name} reading ${bytes(heaviest.diskRead)}/s, writing ${bytes(heaviest.diskWrite)}/s`,
        ],
        repair:
          heavyVdi && target
            ? {
                action: 'move-disk',
                text: `move disk ${heavyVbd?.device ?? ''} of VM ${heaviest.name} (${bytes(heavyVdi.virtual_size)}) from SR ${sr?.name_label ?? ''} to SR ${target[1].name_label}`,
                command: `xe vdi-pool-migrate uuid=${heavyVdi.uuid} sr-uuid=${target[1].uuid}`,
              }
            : {
                action: 'cap',
                text: `no other SR has room: lower the I/O priority of ${heaviest.name}'s disk`,
                ...(heavyVbd
                  ? {
                      command: `xe vbd-param-set uuid=${heavyVbd.uuid} qos_algorithm_type=ionice qos_algorithm_params:sched=idle`,
                    }
                  : {}),
              },
      });
    }
    if (Number.isFinite(v.memoryFree) && v.memory > 0 && v.memoryFree / v.memory < 1 - t.memory) {
      findings.push({
        resource: 'memory',
        subject: { kind: 'vm', name: v.name, uuid: v.uuid },
        summary: `VM ${v.name} short of memory: ${pct(v.memoryFree / v.memory)} free inside the guest`,
        evidence: [`memory_internal_free ${bytes(v.memoryFree)} of ${bytes(v.memory)}`],
        repair: {
          action: 'add-memory',
          text: `give ${v.name} more memory (it has ${bytes(v.rec.memory_static_max)}; needs a reboot above static-max)`,
          command: `xe vm-memory-limits-set uuid=${v.uuid} static-min=${v.rec.memory_static_min} dynamic-min=${v.rec.memory_dynamic_min} dynamic-max=${v.rec.memory_static_max * 2} static-max=${v.rec.memory_static_max * 2}`,
        },
      });
    }
  }
  return findings;
}

/**
 * Reads a window and analyses it.
 * @example
 * const r = await findBottlenecks(client, { seconds: 300, allowUnauthorized: false, perHost: false }, DEFAULT_THRESHOLDS);
 */
export async function findBottlenecks(
  client: XapiClient,
  o: { readonly seconds: number; readonly allowUnauthorized: boolean; readonly perHost: boolean },
  t: Thresholds,
): Promise<BottleneckReport> {
  const view = await readPoolView(client, {
    seconds: o.seconds,
    reduce: 'mean',
    allowUnauthorized: o.allowUnauthorized,
    perHost: o.perHost,
  });
  if (view.window.rows === 0)
    throw new ToolError(
      ToolErrorCode.metrics,
      `no samples in the last ${o.seconds} s: the pool has not recorded metrics yet (xapi samples every 5 s)`,
    );
  const [vbds, vdis, srs, pbds] = await Promise.all([
    client.call('VBD.get_all_records'),
    client.call('VDI.get_all_records'),
    client.call('SR.get_all_records'),
    client.call('PBD.get_all_records'),
  ]);
  const localSrHost = new Map<string, string>();
  for (const p of Object.values(pbds)) if (srs[p.SR]?.shared === false) localSrHost.set(p.SR, p.host);
  const free = new Map(
    await Promise.all(
      view.hosts.map(
        async (h) => [h.ref as string, await client.call('host.compute_free_memory', h.ref)] as const,
      ),
    ),
  );
  return {
    windowSeconds: o.seconds,
    samples: view.window.rows,
    hosts: view.hosts.length,
    vms: view.vms.length,
    findings: analyse(view, { free, vbds, vdis, srs, localSrHost }, t),
  };
}

function reportText(r: BottleneckReport): string {
  if (r.findings.length === 0)
    return `no saturation in the last ${r.windowSeconds} s (${r.samples} samples; ${r.hosts} hosts, ${r.vms} running VMs)\n`;
  const out = [
    `${r.findings.length} finding(s) in the last ${r.windowSeconds} s (${r.samples} samples; ${r.hosts} hosts, ${r.vms} running VMs)`,
    '',
  ];
  for (const f of r.findings) {
    out.push(`${f.resource.toUpperCase().padEnd(8)}${f.summary}`);
    for (const e of f.evidence) out.push(`        evidence: ${e}`);
    out.push(`        repair:   ${f.repair.text}`);
    if (f.repair.command) out.push(`                  ${f.repair.command}`);
    out.push('');
  }
  return out.join('\n');
}

/** The `bottleneck` tool. */
export const bottleneckTool = defineTool({
  name: 'bottleneck',
  summary: 'find saturated CPU, memory, disk and network, with evidence and a repair',
  description:
    'Reads --window seconds of rrd_updates (mean of each data source), and reports per host and VM: CPU saturation (cpu_avg, runnable vCPUs), memory pressure (host free memory, guest free memory), disk saturation (VBD latency) and network load (PIF throughput) — each with its evidence and a recommended repair: migrate a VM to the host with the most room, lower a VCPU weight or cap, move the heaviest disk to another SR, give a VM memory — with the xe command that does it. --json for scripts.',
  examples: [
    'xenlab-tools bottleneck',
    'xenlab-tools bottleneck --window 60 --json | jq ".findings[].repair"',
  ],
  usesPool: true,
  details: `### Data sources read

Hosts: \`cpu_avg\`, \`loadavg\`, \`memory_total_kib\`, \`memory_free_kib\`, \`pif_aggr_rx\`/\`tx\`. VMs: \`cpu<N>\`,
\`runstate_runnable\`, \`memory\`, \`memory_internal_free\` (needs guest tools), \`vbd_<dev>_read\`/\`write\`/\`latency\`,
\`vif_<N>_rx\`/\`tx\`. Each is averaged over the window. Disk moves prefer a shared SR (the VM stays migratable), else
the local SR of the host the VM runs on.`,
  options: {
    window: {
      type: 'number',
      default: 300,
      min: 5,
      placeholder: 'SECONDS',
      description: 'How much history to read (xapi keeps 10 min at 5 s).',
    },
    cpu: {
      type: 'number',
      default: 0.85,
      min: 0,
      placeholder: 'FRACTION',
      description: 'Host cpu_avg counted as saturated.',
    },
    memory: {
      type: 'number',
      default: 0.9,
      min: 0,
      placeholder: 'FRACTION',
      description: 'Memory use counted as saturated (hosts; guests below 1-x free).',
    },
    latency: {
      type: 'number',
      default: 20,
      min: 0,
      placeholder: 'MS',
      description: 'Disk latency counted as saturated.',
    },
    network: {
      type: 'number',
      default: 100e6,
      min: 0,
      placeholder: 'B/S',
      description: 'Host PIF throughput counted as saturated (default ≈80% of 1 GbE).',
    },
    json: { type: 'boolean', description: 'Print JSON.' },
    perHost: { type: 'boolean', description: 'Read metrics from every host address (real pools).' },
  },
  async run(ctx, o) {
    const r = await findBottlenecks(
      ctx.client(),
      { seconds: o.window, allowUnauthorized: ctx.target?.allowUnauthorized ?? false, perHost: o.perHost },
      { cpu: o.cpu, memory: o.memory, latencyMs: o.latency, networkBps: o.network },
    );
    ctx.io.stdout(o.json ? `${JSON.stringify(r, null, 2)}\n` : reportText(r));
    return 0;
  },
});
