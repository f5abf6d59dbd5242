/**
 * `net`: apply a YAML network plan — private networks, bonds and their modes, VLANs — to every host of a pool,
 * idempotently: it reads the pool, shows the difference, then makes only the missing changes. A rerun of an applied
 * plan changes nothing.
 *
 * XenAPI facts (xenapi/NOTES.md §2): networks are pool-wide, each host has its own PIFs; `Bond.create(network,
 * members, MAC, mode)` with MAC "" takes the primary member's, modes are exactly balance-slb, active-backup, lacp;
 * `VLAN.create(tagged_PIF, tag, network)` on a physical or bond PIF, tags 0..4094; a NIC already in a bond cannot
 * join another.
 */
import { parse as parseYaml } from 'yaml';
import type {
  BondMode,
  BondRecord,
  PIFRecord,
  Ref,
  VLANRecord,
  XapiClient,
  hostRecord,
  networkRecord,
} from '../../xenapi/index.js';
import { defineTool } from '../command.js';
import { ToolError, ToolErrorCode } from '../errors.js';
import { table } from '../format.js';

/** Bond modes as XAPI spells them. */
export const BOND_MODES = ['balance-slb', 'active-backup', 'lacp'] as const;

/** A checked plan. */
export interface NetPlan {
  readonly networks: readonly {
    readonly name: string;
    readonly mtu: number;
    /** Enforced when not empty. */
    readonly description: string;
    /** Written when the network is created. */
    readonly createDescription: string;
  }[];
  readonly bonds: readonly {
    readonly network: string;
    readonly devices: readonly string[];
    readonly mode: BondMode;
    readonly hosts?: readonly string[];
  }[];
  readonly vlans: readonly {
    readonly network: string;
    readonly tag: number;
    readonly on: string;
    readonly hosts?: readonly string[];
  }[];
}

/** One change (or a note that something is already right). */
export interface NetChange {
  readonly kind:
    'create-network' | 'set-mtu' | 'set-description' | 'create-bond' | 'set-bond-mode' | 'create-vlan';
  readonly text: string;
  readonly apply: (client: XapiClient, state: PoolNet) => Promise<void>;
}

/** The network part of a pool, as read. */
export interface PoolNet {
  hosts: Record<string, hostRecord>;
  networks: Record<string, networkRecord>;
  pifs: Record<string, PIFRecord>;
  bonds: Record<string, BondRecord>;
  vlans: Record<string, VLANRecord>;
}

function rec(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Parses and checks a plan; every problem is listed in one `TOOLS_ERR_INPUT` error. */
export function parseNetPlan(source: string, name: string): NetPlan {
  let doc: unknown;
  try {
    doc = parseYaml(source);
  } catch (e) {
    throw new ToolError(
      ToolErrorCode.input,
      `${name} is not valid YAML: ${(e as Error).message.split('\n')[0] ?? ''}`,
    );
  }
  const d = rec(doc);
  const problems: string[] = [];
  const known = new Set(['networks', 'bonds', 'vlans']);
  for (const k of Object.keys(d))
    if (!known.has(k)) problems.push(`${k}: unknown section (expected networks, bonds, vlans)`);
  const list = (k: string): Record<string, unknown>[] => {
    const v = d[k];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      problems.push(`${k}: must be a list`);
      return [];
    }
    return v.map(rec);
  };
  const str = (o: Record<string, unknown>, k: string, at: string, required = true): string => {
    const v = o[k];
    if (typeof v === 'string' && v.trim() !== '') return v.trim();
    if (typeof v === 'number') return String(v);
    if (required) problems.push(`${at}.${k}: required`);
    return '';
  };
  const mtuOf = (o: Record<string, unknown>, at: string): number => {
    const v = o.mtu ?? 1500;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 68 || v > 9216)
      problems.push(`${at}.mtu: ${JSON.stringify(v)} is not an MTU (68..9216)`);
    return Number(v);
  };
  const hostsOf = (o: Record<string, unknown>, at: string): { hosts?: string[] } => {
    if (o.hosts === undefined) return {};
    if (!Array.isArray(o.hosts) || o.hosts.some((h) => typeof h !== 'string')) {
      problems.push(`${at}.hosts: must be a list of host names`);
      return {};
    }
    return { hosts: o.hosts as string[] };
  };
  const networks = list('networks').map((n, i) => {
    const description = str(n, 'description', `networks[${i}]`, false);
    return {
      name: str(n, 'name', `networks[${i}]`),
      mtu: mtuOf(n, `networks[${i}]`),
      description,
      createDescription: description,
    };
  });
  const bonds = list('bonds').map((b, i) => {
    const at = `bonds[${i}]`;
    const devices = Array.isArray(b.devices) ? b.devices.map(String) : [];
    if (devices.length < 2)
      problems.push(`${at}.devices: a bond needs at least 2 NICs (PIF_BOND_NEEDS_MORE_MEMBERS)`);
    if (new Set(devices).size !== devices.length) problems.push(`${at}.devices: a NIC is listed twice`);
    const mode = (typeof b.mode === 'string' ? b.mode : 'balance-slb') as BondMode;
    if (!(BOND_MODES as readonly string[]).includes(mode))
      problems.push(`${at}.mode: "${mode}" must be one of ${BOND_MODES.join(', ')}`);
    return { network: str(b, 'network', at), devices, mode, mtu: mtuOf(b, at), ...hostsOf(b, at) };
  });
  const vlans = list('vlans').map((v, i) => {
    const at = `vlans[${i}]`;
    const tag = v.tag;
    if (typeof tag !== 'number' || !Number.isInteger(tag) || tag < 0 || tag > 4094)
      problems.push(`${at}.tag: ${String(tag)} is not a VLAN tag (0..4094)`);
    return {
      network: str(v, 'network', at),
      tag: Number(tag),
      on: str(v, 'on', at),
      mtu: mtuOf(v, at),
      ...hostsOf(v, at),
    };
  });
  const used = new Map<string, string>();
  const claim = (n: string, at: string): void => {
    const first = used.get(n);
    if (first !== undefined && n !== '') problems.push(`${at}: network "${n}" is already used by ${first}`);
    used.set(n, at);
  };
  networks.forEach((n, i) => {
    claim(n.name, `networks[${i}]`);
  });
  bonds.forEach((b, i) => {
    claim(b.network, `bonds[${i}]`);
  });
  vlans.forEach((v, i) => {
    claim(v.network, `vlans[${i}]`);
  });
  const claimed = new Map<string, string>();
  bonds.forEach((b, i) => {
    for (const dev of b.devices) {
      const first = claimed.get(dev);
      if (first !== undefined) problems.push(`bonds[${i}].devices: ${dev} is already in ${first}`);
      claimed.set(dev, `bonds[${i}]`);
    }
  });
  if (networks.length + bonds.length + vlans.length === 0)
    problems.push('the plan is empty: give networks, bonds or vlans');
  if (problems.length)
    throw new ToolError(ToolErrorCode.input, `${name} has ${problems.length} problem(s):`, problems);
  // Networks named by bonds and VLANs are created with the item's MTU.
  const all = [
    ...networks,
    ...bonds.map((b) => ({
      name: b.network,
      mtu: b.mtu,
      description: '',
      createDescription: `bond of ${b.devices.join('+')}`,
    })),
    ...vlans.map((v) => ({
      name: v.network,
      mtu: v.mtu,
      description: '',
      createDescription: `VLAN ${v.tag} on ${v.on}`,
    })),
  ];
  return {
    networks: all,
    bonds: bonds.map(({ mtu: _m, ...b }) => b),
    vlans: vlans.map(({ mtu: _m, ...v }) => v),
  };
}

/** Reads the network objects of the pool. */
export async function readPoolNet(client: XapiClient): Promise<PoolNet> {
  const [hosts, networks, pifs, bonds, vlans] = await Promise.all([
    client.call('host.get_all_records'),
    client.call('network.get_all_records'),
    client.call('PIF.get_all_records'),
    client.call('Bond.get_all_records'),
    client.call('VLAN.get_all_records'),
  ]);
  return { hosts, networks, pifs, bonds, vlans };
}

function networkByName(s: PoolNet, name: string): Ref<'network'> | undefined {
  return Object.entries(s.networks).find(([, n]) => n.name_label === name)?.[0] as Ref<'network'> | undefined;
}

function hostsFor(s: PoolNet, only: readonly string[] | undefined): [Ref<'host'>, hostRecord][] {
  const all = (Object.entries(s.hosts) as [Ref<'host'>, hostRecord][]).sort(([, a], [, b]) =>
    a.name_label.localeCompare(b.name_label),
  );
  if (!only) return all;
  const missing = only.filter((h) => !all.some(([, r]) => r.name_label === h));
  if (missing.length)
    throw new ToolError(ToolErrorCode.notFound, `no host named ${missing.join(', ')} in the pool`);
  return all.filter(([, r]) => only.includes(r.name_label));
}

function pifsOn(s: PoolNet, host: Ref<'host'>): [Ref<'PIF'>, PIFRecord][] {
  return (Object.entries(s.pifs) as [Ref<'PIF'>, PIFRecord][]).filter(([, p]) => p.host === host);
}

/**
 * Compares a plan with the pool: the changes to make (in order: networks, bonds, VLANs) and how many items already
 * match. Changes that depend on earlier ones (a VLAN on a bond not made yet) are resolved when applied.
 */
export function diffNet(
  plan: NetPlan,
  s: PoolNet,
): { changes: NetChange[]; unchanged: number; conflicts: string[] } {
  const changes: NetChange[] = [];
  const conflicts: string[] = [];
  let unchanged = 0;
  for (const n of plan.networks) {
    const ref = networkByName(s, n.name);
    const cur = ref ? s.networks[ref] : undefined;
    if (!ref || !cur) {
      changes.push({
        kind: 'create-network',
        text: `+ network "${n.name}" (MTU ${n.mtu})`,
        apply: async (c) => {
          const fields = {
            name_label: n.name,
            name_description: n.createDescription,
            MTU: n.mtu,
            other_config: {},
            tags: [],
          };
          await c.call('network.create', fields as unknown as networkRecord);
        },
      });
      continue;
    }
    let same = true;
    if (cur.MTU !== n.mtu) {
      same = false;
      changes.push({
        kind: 'set-mtu',
        text: `~ network "${n.name}": MTU ${cur.MTU} → ${n.mtu}`,
        apply: async (c) => {
          await c.call('network.set_MTU', ref, n.mtu);
        },
      });
    }
    if (n.description !== '' && cur.name_description !== n.description) {
      same = false;
      changes.push({
        kind: 'set-description',
        text: `~ network "${n.name}": description "${cur.name_description}" → "${n.description}"`,
        apply: async (c) => {
          await c.call('network.set_name_description', ref, n.description);
        },
      });
    }
    if (same) unchanged++;
  }
  for (const b of plan.bonds) {
    for (const [host, h] of hostsFor(s, b.hosts)) {
      const pifs = pifsOn(s, host);
      const members = b.devices.map((dev) => pifs.find(([, p]) => p.device === dev && p.physical));
      const missing = b.devices.filter((_, i) => !members[i]);
      if (missing.length) {
        conflicts.push(`host ${h.name_label} has no NIC ${missing.join(', ')} for bond "${b.network}"`);
        continue;
      }
      const bondRefs = new Set(members.map((m) => m?.[1].bond_slave_of));
      const [only] = bondRefs;
      const existing = only !== undefined && bondRefs.size === 1 ? s.bonds[only] : undefined;
      if (existing && only !== undefined) {
        const master = s.pifs[existing.master];
        const onNet = master ? s.networks[master.network]?.name_label : undefined;
        if (onNet !== b.network || existing.slaves.length !== b.devices.length) {
          conflicts.push(
            `host ${h.name_label}: ${b.devices.join('+')} already form a bond on network "${onNet ?? '?'}"`,
          );
          continue;
        }
        if (existing.mode !== b.mode) {
          const bondRef = only;
          changes.push({
            kind: 'set-bond-mode',
            text: `~ bond "${b.network}" on ${h.name_label}: mode ${existing.mode} → ${b.mode}`,
            apply: async (c) => {
              await c.call('Bond.set_mode', bondRef, b.mode);
            },
          });
        } else unchanged++;
        continue;
      }
      const bonded = members.filter((m) => m && s.bonds[m[1].bond_slave_of]);
      if (bonded.length) {
        conflicts.push(
          `host ${h.name_label}: ${bonded.map((m) => m?.[1].device).join(', ')} already in another bond (PIF_ALREADY_BONDED)`,
        );
        continue;
      }
      const refs = members.map((m) => m?.[0]).filter((r): r is Ref<'PIF'> => r !== undefined);
      changes.push({
        kind: 'create-bond',
        text: `+ bond "${b.network}" on ${h.name_label}: ${b.devices.join('+')}, mode ${b.mode}`,
        apply: async (c, live) => {
          const net = networkByName(live, b.network);
          if (!net)
            throw new ToolError(
              ToolErrorCode.notFound,
              `network "${b.network}" vanished before its bond was made`,
            );
          await c.call('Bond.create', net, refs, '', b.mode);
        },
      });
    }
  }
  for (const v of plan.vlans) {
    for (const [host, h] of hostsFor(s, v.hosts)) {
      const pifs = pifsOn(s, host);
      const onNet = networkByName(s, v.on);
      const tagged =
        pifs.find(([, p]) => p.device === v.on && p.VLAN === -1) ??
        pifs.find(([, p]) => onNet !== undefined && p.network === onNet);
      const pendingBond = plan.bonds.some((b) => b.network === v.on);
      if (!tagged && !pendingBond) {
        conflicts.push(`host ${h.name_label} has no NIC or network "${v.on}" to carry VLAN ${v.tag}`);
        continue;
      }
      if (tagged) {
        const existing = Object.values(s.vlans).find((x) => x.tagged_PIF === tagged[0] && x.tag === v.tag);
        if (existing) {
          const net = s.pifs[existing.untagged_PIF]?.network;
          const name = net ? s.networks[net]?.name_label : undefined;
          if (name === v.network) unchanged++;
          else
            conflicts.push(
              `host ${h.name_label}: VLAN ${v.tag} on ${v.on} already exists on network "${name ?? '?'}" (VLAN_IN_USE)`,
            );
          continue;
        }
      }
      changes.push({
        kind: 'create-vlan',
        text: `+ VLAN ${v.tag} on ${h.name_label} ${v.on} → network "${v.network}"`,
        apply: async (c, live) => {
          const net = networkByName(live, v.network);
          const onLive = networkByName(live, v.on);
          const carrier = pifsOn(live, host).find(
            ([, p]) =>
              (p.device === v.on && p.VLAN === -1) ||
              (onLive !== undefined && p.network === onLive && p.VLAN === -1),
          );
          if (!net || !carrier)
            throw new ToolError(ToolErrorCode.notFound, `no PIF for "${v.on}" on ${h.name_label}`);
          await c.call('VLAN.create', carrier[0], v.tag, net);
        },
      });
    }
  }
  return { changes, unchanged, conflicts };
}

/** One bond as `net links-up` reports it. */
export interface BondLinks {
  readonly host: string;
  readonly device: string;
  readonly network: string;
  readonly mode: string;
  /** Bond.links_up: members with carrier, as the host reports them. */
  readonly linksUp: number;
  readonly members: readonly { readonly device: string; readonly carrier: boolean }[];
  /** up: every member has link; degraded: some (the bond failed over and carries on); down: none. */
  readonly state: 'up' | 'degraded' | 'down';
}

/** Every bond of the pool with its members' carrier (PIF_metrics) and Bond.links_up, sorted by host and device. */
export async function readBondLinks(client: XapiClient): Promise<BondLinks[]> {
  const [s, metrics] = await Promise.all([readPoolNet(client), client.call('PIF_metrics.get_all_records')]);
  const out: BondLinks[] = [];
  for (const [ref, b] of Object.entries(s.bonds)) {
    const master = s.pifs[b.master];
    const members = Object.values(s.pifs)
      .filter((p) => p.bond_slave_of === ref)
      .map((p) => ({ device: p.device, carrier: metrics[p.metrics]?.carrier ?? false }))
      .sort((x, y) => x.device.localeCompare(y.device));
    const linksUp = b.links_up;
    out.push({
      host: master ? (s.hosts[master.host]?.name_label ?? '?') : '?',
      device: master?.device ?? '?',
      network: master ? (s.networks[master.network]?.name_label ?? '?') : '?',
      mode: b.mode,
      linksUp,
      members,
      state: linksUp === 0 ? 'down' : linksUp < members.length ? 'degraded' : 'up',
    });
  }
  return out.sort((a, b) => a.host.localeCompare(b.host) || a.device.localeCompare(b.device));
}

/** The `links-up` report: a table of bonds, then one line per bond that lost a link. */
export function renderBondLinks(bonds: readonly BondLinks[]): string {
  if (bonds.length === 0) return 'no bonds in the pool\n';
  let text = table(bonds, [
    { title: 'HOST', value: (b) => b.host },
    { title: 'BOND', value: (b) => b.device },
    { title: 'NETWORK', value: (b) => b.network },
    { title: 'MODE', value: (b) => b.mode },
    { title: 'LINKS', value: (b) => `${b.linksUp}/${b.members.length}`, right: true },
    {
      title: 'MEMBERS',
      value: (b) => b.members.map((m) => `${m.device}:${m.carrier ? 'up' : 'DOWN'}`).join(' '),
    },
    { title: 'STATE', value: (b) => b.state },
  ]);
  for (const b of bonds) {
    const lost = b.members.filter((m) => !m.carrier).map((m) => m.device);
    if (b.state === 'degraded')
      text += `${b.host} ${b.device}: ${lost.join(', ')} lost link; ${b.mode} carries on over ${b.members
        .filter((m) => m.carrier)
        .map((m) => m.device)
        .join(', ')} (no redundancy left)\n`;
    else if (b.state === 'down') text += `${b.host} ${b.device}: every member lost link; the bond is down\n`;
  }
  return text;
}

/** The `net` tool. */
export const netTool = defineTool({
  name: 'net',
  summary: 'apply a YAML network plan (bonds, VLANs, networks) to a pool idempotently; report bond links',
  description:
    'Reads a plan — networks (private, with MTU), bonds (NICs, mode balance-slb | active-backup | lacp) and VLANs (tag, on a NIC or a network) applied on every host or the listed ones — compares it with the pool and prints the difference (+ create, ~ change) before changing anything. Then it makes only those changes, networks first, then bonds, then VLANs. Running it again changes nothing. Conflicts (a missing NIC, a NIC in another bond, a VLAN tag used by another network) stop it before any change.',
  examples: [
    'xenlab-tools net --plan network.yaml --dry-run',
    'xenlab-tools net --plan network.yaml',
    'xenlab-tools net links-up',
  ],
  usesPool: true,
  details: `### Plan

\`\`\`yaml
networks:                 # private networks (no NIC)
  - name: internal
    mtu: 9000
    description: backend traffic
bonds:                    # on every host (or hosts: [xcp-ng-01, …])
  - network: bond-data    # created if missing
    devices: [eth0, eth1]
    mode: active-backup   # balance-slb | active-backup | lacp
vlans:
  - network: storage
    tag: 20               # 0..4094
    on: bond-data         # a NIC (eth1) or a network name (a bond's network)
\`\`\`

Output lines start with \`+\` (create) or \`~\` (change). Removing what a plan no longer lists is not done: delete by hand.

### links-up

\`xenlab-tools net links-up\` lists every bond: host, bond device, network, mode, \`Bond.links_up\` out of its
members, each member's link (\`PIF_metrics.carrier\`) and the bond's state — \`up\`, \`degraded\` (a member lost
link; the bond failed over and carries traffic on the others, with no redundancy left) or \`down\`. It exits 3 when
a bond is degraded or down, so a monitor can call it.`,
  options: {
    action: {
      type: 'string',
      default: 'apply',
      choices: ['apply', 'links-up'],
      positional: true,
      description: 'apply a plan (the default), or links-up: the link state of every bond.',
    },
    plan: { type: 'string', placeholder: 'FILE', description: 'The network plan (YAML); required to apply.' },
    dryRun: { type: 'boolean', description: 'Show the difference; change nothing.' },
  },
  exitCodes: {
    1: 'the plan is malformed or conflicts with the pool (nothing changed), or a change failed',
    3: 'links-up: a bond is degraded or down',
  },
  async run(ctx, o) {
    if (o.action === 'links-up') {
      const bonds = await readBondLinks(ctx.client());
      ctx.io.stdout(renderBondLinks(bonds));
      return bonds.some((b) => b.state !== 'up') ? 3 : 0;
    }
    if (o.plan === undefined)
      throw new ToolError(ToolErrorCode.usage, 'net: --plan FILE is required to apply a plan');
    const plan = parseNetPlan(ctx.files.read(o.plan), o.plan);
    const client = ctx.client();
    const state = await readPoolNet(client);
    const { changes, unchanged, conflicts } = diffNet(plan, state);
    if (conflicts.length)
      throw new ToolError(
        ToolErrorCode.conflict,
        `the plan conflicts with the pool (${conflicts.length}); nothing was changed:`,
        conflicts,
      );
    for (const c of changes) ctx.io.stdout(`${c.text}\n`);
    ctx.io.stdout(`${changes.length} change(s), ${unchanged} already as planned\n`);
    if (o.dryRun || changes.length === 0) return 0;
    const bar = ctx.progress('net', changes.length);
    let live = state;
    let phase = changes[0]?.kind;
    try {
      for (const c of changes) {
        // Bonds need their network and VLANs may need a new bond PIF: re-read between phases.
        if (c.kind !== phase) {
          live = await readPoolNet(client);
          phase = c.kind;
        }
        await c.apply(client, live);
        bar.tick();
      }
    } finally {
      bar.done();
    }
    ctx.io.stdout(`applied ${changes.length} change(s)\n`);
    return 0;
  },
});
