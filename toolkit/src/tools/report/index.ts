/**
 * `report`: a pool inventory — pool, hosts, VMs, storage, networks — as Markdown, JSON or a standalone HTML page.
 * One `get_all_records` per class, so it costs the same on a 3-host lab and a 64-host pool.
 */
import type { Ref, XapiClient } from '../../xenapi/index.js';
import { OPAQUE_REF_NULL } from '../../xenapi/index.js';
import { defineTool } from '../command.js';
import { bytes, escapeHtml, pct } from '../format.js';

/** The inventory, as the JSON format prints it. */
export interface PoolReport {
  readonly pool: {
    readonly name: string;
    readonly uuid: string;
    readonly master: string;
    readonly defaultSr: string;
    readonly haEnabled: boolean;
  };
  readonly hosts: readonly {
    readonly name: string;
    readonly uuid: string;
    readonly address: string;
    readonly enabled: boolean;
    readonly live: boolean;
    readonly cpus: number;
    readonly memoryTotal: number;
    readonly memoryFree: number;
    readonly version: string;
    readonly runningVms: number;
  }[];
  readonly vms: readonly {
    readonly name: string;
    readonly uuid: string;
    readonly powerState: string;
    readonly host: string;
    readonly vcpus: number;
    readonly memory: number;
    readonly disks: number;
    readonly diskSize: number;
    readonly ips: readonly string[];
  }[];
  readonly srs: readonly {
    readonly name: string;
    readonly uuid: string;
    readonly type: string;
    readonly shared: boolean;
    readonly size: number;
    readonly used: number;
    readonly vdis: number;
  }[];
  readonly networks: readonly {
    readonly name: string;
    readonly uuid: string;
    readonly bridge: string;
    readonly mtu: number;
    readonly pifs: readonly string[];
    readonly vifs: number;
  }[];
  readonly totals: {
    readonly hosts: number;
    readonly vms: number;
    readonly running: number;
    readonly templates: number;
  };
}

/**
 * Reads the pool's inventory.
 * @example
 * const report = await collectReport(client);
 */
export async function collectReport(client: XapiClient): Promise<PoolReport> {
  const [pools, hosts, hostMetrics, vms, vbds, vdis, srs, networks, pifs, vifs, guests] = await Promise.all([
    client.call('pool.get_all_records'),
    client.call('host.get_all_records'),
    client.call('host_metrics.get_all_records'),
    client.call('VM.get_all_records'),
    client.call('VBD.get_all_records'),
    client.call('VDI.get_all_records'),
    client.call('SR.get_all_records'),
    client.call('network.get_all_records'),
    client.call('PIF.get_all_records'),
    client.call('VIF.get_all_records'),
    client.call('VM_guest_metrics.get_all_records'),
  ]);
  const name = (ref: string, table: Readonly<Record<string, { name_label: string }>>): string =>
    ref === OPAQUE_REF_NULL ? '' : (table[ref]?.name_label ?? '');
  const pool = Object.values(pools)[0];
  const allVms = Object.values(vms);
  const guestVms = allVms.filter((v) => !v.is_a_template && !v.is_a_snapshot && !v.is_control_domain);
  const hostName = (r: Ref<'host'>): string => name(r, hosts);
  // host_metrics.memory_free is "Removed" in the datamodel; compute_free_memory is what VM.start checks against.
  const free = new Map(
    await Promise.all(
      (Object.keys(hosts) as Ref<'host'>[]).map(
        async (ref) => [ref, await client.call('host.compute_free_memory', ref).catch(() => NaN)] as const,
      ),
    ),
  );
  return {
    pool: {
      name: pool?.name_label ?? '',
      uuid: pool?.uuid ?? '',
      master: pool ? hostName(pool.master) : '',
      defaultSr: pool ? name(pool.default_SR, srs) : '',
      haEnabled: pool?.ha_enabled ?? false,
    },
    hosts: Object.entries(hosts)
      .map(([ref, h]) => {
        const m = hostMetrics[h.metrics];
        return {
          name: h.name_label,
          uuid: h.uuid,
          address: h.address,
          enabled: h.enabled,
          live: m?.live ?? false,
          cpus: Number(h.cpu_info.cpu_count ?? h.host_CPUs.length),
          memoryTotal: m?.memory_total ?? 0,
          memoryFree: free.get(ref as Ref<'host'>) ?? NaN,
          version: [h.software_version.product_brand, h.software_version.product_version]
            .filter(Boolean)
            .join(' '),
          runningVms: guestVms.filter((v) => v.resident_on === ref && v.power_state === 'Running').length,
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name)),
    vms: guestVms
      .map((v) => {
        const disks = v.VBDs.map((b) => vbds[b]).filter((b) => b?.type === 'Disk' && !b.empty);
        const g = v.guest_metrics === OPAQUE_REF_NULL ? undefined : guests[v.guest_metrics];
        return {
          name: v.name_label,
          uuid: v.uuid,
          powerState: v.power_state,
          host: hostName(v.resident_on),
          vcpus: v.VCPUs_at_startup,
          memory: v.memory_static_max,
          disks: disks.length,
          diskSize: disks.reduce((n, b) => n + (b ? (vdis[b.VDI]?.virtual_size ?? 0) : 0), 0),
          ips: Object.entries(g?.networks ?? {})
            .filter(([k]) => k.endsWith('/ip'))
            .map(([, ip]) => ip),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true })),
    srs: Object.values(srs)
      .map((s) => ({
        name: s.name_label,
        uuid: s.uuid,
        type: s.type,
        shared: s.shared,
        size: s.physical_size,
        used: s.physical_utilisation,
        vdis: s.VDIs.length,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    networks: Object.values(networks)
      .map((n) => ({
        name: n.name_label,
        uuid: n.uuid,
        bridge: n.bridge,
        mtu: n.MTU,
        pifs: n.PIFs.map((p) => {
          const pif = pifs[p];
          if (!pif) return '';
          return `${hostName(pif.host)}/${pif.device}${pif.VLAN >= 0 ? `.${pif.VLAN}` : ''}`;
        })
          .filter(Boolean)
          .sort(),
        vifs: n.VIFs.filter((v) => vifs[v] !== undefined).length,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    totals: {
      hosts: Object.keys(hosts).length,
      vms: guestVms.length,
      running: guestVms.filter((v) => v.power_state === 'Running').length,
      templates: allVms.filter((v) => v.is_a_template && !v.is_a_snapshot).length,
    },
  };
}

type Cell = string | number;
interface Section {
  readonly title: string;
  readonly head: readonly string[];
  readonly rows: readonly (readonly Cell[])[];
}

function sections(r: PoolReport): Section[] {
  return [
    {
      title: 'Hosts',
      head: ['host', 'address', 'state', 'CPUs', 'memory free / total', 'running VMs', 'version'],
      rows: r.hosts.map((h) => [
        h.name,
        h.address,
        !h.live ? 'offline' : h.enabled ? 'enabled' : 'disabled',
        h.cpus,
        `${bytes(h.memoryFree)} / ${bytes(h.memoryTotal)}`,
        h.runningVms,
        h.version,
      ]),
    },
    {
      title: 'VMs',
      head: ['VM', 'power', 'host', 'vCPUs', 'memory', 'disks', 'IPs'],
      rows: r.vms.map((v) => [
        v.name,
        v.powerState,
        v.host,
        v.vcpus,
        bytes(v.memory),
        `${v.disks} (${bytes(v.diskSize)})`,
        v.ips.join(' '),
      ]),
    },
    {
      title: 'Storage',
      head: ['SR', 'type', 'shared', 'used / size', 'use', 'VDIs'],
      rows: r.srs.map((s) => [
        s.name,
        s.type,
        s.shared ? 'yes' : 'no',
        `${bytes(s.used)} / ${bytes(s.size)}`,
        s.size > 0 ? pct(s.used / s.size) : '-',
        s.vdis,
      ]),
    },
    {
      title: 'Networks',
      head: ['network', 'bridge', 'MTU', 'PIFs', 'VIFs'],
      rows: r.networks.map((n) => [n.name, n.bridge, n.mtu, n.pifs.join(' '), n.vifs]),
    },
  ];
}

function summaryLine(r: PoolReport): string {
  return `${r.totals.hosts} hosts, ${r.totals.vms} VMs (${r.totals.running} running), ${r.totals.templates} templates; coordinator ${r.pool.master}; default SR ${r.pool.defaultSr || '(none)'}; HA ${r.pool.haEnabled ? 'on' : 'off'}`;
}

/** Markdown: a heading per section and pipe tables (pipes in values escaped). */
export function reportMarkdown(r: PoolReport): string {
  const cell = (c: Cell): string => String(c).replace(/\|/g, '\\|');
  const out = [`# Pool ${r.pool.name}`, '', summaryLine(r), ''];
  for (const s of sections(r)) {
    out.push(`## ${s.title}`, '');
    if (s.rows.length === 0) {
      out.push('(none)', '');
      continue;
    }
    out.push(`| ${s.head.join(' | ')} |`, `|${s.head.map(() => ' --- |').join('')}`);
    for (const row of s.rows) out.push(`| ${row.map(cell).join(' | ')} |`);
    out.push('');
  }
  return out.join('\n');
}

/** A standalone HTML page (inline CSS, no scripts; every value escaped). */
export function reportHtml(r: PoolReport): string {
  const out = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>Pool ${escapeHtml(r.pool.name)}</title>`,
    '<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f3f3f3}</style>',
    '</head><body>',
    `<h1>Pool ${escapeHtml(r.pool.name)}</h1>`,
    `<p>${escapeHtml(summaryLine(r))}</p>`,
  ];
  for (const s of sections(r)) {
    out.push(
      `<h2>${escapeHtml(s.title)}</h2>`,
      '<table>',
      `<tr>${s.head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`,
    );
    for (const row of s.rows)
      out.push(`<tr>${row.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`);
    out.push('</table>');
  }
  out.push('</body></html>', '');
  return out.join('\n');
}

/** The `report` tool. */
export const reportTool = defineTool({
  name: 'report',
  summary: 'pool inventory as Markdown, JSON or HTML',
  description:
    'Reads the pool (hosts, VMs, storage, networks) with one get_all_records per class and prints an inventory: Markdown tables (default), JSON for scripts, or a standalone HTML page. --out writes it to a file instead of stdout.',
  examples: [
    'xenlab-tools report',
    'xenlab-tools report --format html --out pool.html',
    'xenlab-tools report --format json | jq .totals',
  ],
  usesPool: true,
  options: {
    format: {
      type: 'string',
      default: 'markdown',
      choices: ['markdown', 'json', 'html'],
      description: 'Output format.',
    },
    out: { type: 'string', placeholder: 'FILE', description: 'Write to a file instead of stdout.' },
  },
  async run(ctx, o) {
    const report = await collectReport(ctx.client());
    const text =
      o.format === 'json'
        ? `${JSON.stringify(report, null, 2)}\n`
        : o.format === 'html'
          ? reportHtml(report)
          : reportMarkdown(report);
    if (o.out === undefined) ctx.io.stdout(text);
    else {
      ctx.files.write(o.out, text);
      ctx.io.stdout(`wrote ${o.out}: ${summaryLine(report)}\n`);
    }
    return 0;
  },
});
