/**
 * The highly available NFS pair as one model — a DRBD resource replicated between two nodes, promoted on one of
 * them, with a filesystem, the NFS server, an export and a floating IP grouped on top — rendered three ways:
 * the DRBD resource file, Pacemaker's CIB XML, the crm shell script and the pcs script.
 *
 * Sources: drbd.conf(5) for DRBD 9 (`fencing` in `net`, crm-fence-peer.9.sh handlers), Pacemaker 2.1 "Pacemaker
 * Explained" (promotable clones, role names Promoted/Unpromoted, schema pacemaker-3.x), ClusterLabs "Clusters from
 * Scratch" (DRBD + Filesystem + IPaddr2 constraints), resource-agents (`Filesystem`, `nfsserver`, `exportfs`,
 * `IPaddr2`, `portblock` parameters), crmsh and pcs manuals for the two command forms.
 */
import { ToolError, ToolErrorCode } from '../errors.js';
import { inSubnet, parseCidr, parseIp } from '../ipv4.js';

/** A cluster node: its `uname -n` and its replication address. */
export interface HaNode {
  readonly name: string;
  readonly address: string;
  /** Fencing (IPMI) address, when fencing is configured. */
  readonly fenceAddress?: string;
}

/**
 * The DRBD kernel module the nodes run: `8.4` is the one in mainline Linux (Debian's and Ubuntu's stock kernels:
 * Debian 12's 6.1 kernel has 8.4.11), `9` is LINBIT's out-of-tree module (drbd-dkms). drbd-utils 9 drives both, but
 * the resource file differs: 9 has node-id and `fencing` in `net`, 8.4 rejects both (`fencing` goes in `disk`).
 */
export type DrbdVersion = '8.4' | '9';

/** What the user describes. */
export interface HaSpec {
  readonly nodes: readonly [HaNode, HaNode];
  readonly drbdVersion: DrbdVersion;
  /** Corosync's token timeout in ms (how long a silent node takes to be declared lost). */
  readonly token: number;
  readonly clusterName: string;
  readonly resource: string;
  readonly device: string;
  readonly disk: string;
  readonly port: number;
  readonly vip: string;
  readonly vipPrefix: number;
  readonly mount: string;
  readonly fstype: string;
  readonly exportDir: string;
  readonly clients: string;
  /**
   * Where the NFS server runs: `cluster` — an `nfsserver` resource in the group, started on the promoted node with
   * its state (statd's client list, NFSv4 leases) on the replicated disk; `everywhere` — nfs-kernel-server runs on
   * both nodes outside the cluster and the group only exports, which takes its start out of every failover but
   * gives up NFSv3 lock recovery and NFSv4 state across a failover.
   */
  readonly nfsd: NfsdPlacement;
  readonly fenceUser?: string;
  readonly fencePassword?: string;
}

/** Where the NFS server runs (see {@link HaSpec.nfsd}). */
export type NfsdPlacement = 'cluster' | 'everywhere';

/** One Pacemaker primitive. */
export interface Primitive {
  readonly id: string;
  readonly cls: 'ocf' | 'stonith';
  readonly provider?: string;
  readonly type: string;
  readonly params: readonly (readonly [string, string])[];
  readonly ops: readonly {
    readonly name: string;
    readonly interval: string;
    readonly timeout?: string;
    readonly role?: string;
  }[];
}

/** The Pacemaker side of the model. */
export interface PacemakerModel {
  readonly properties: readonly (readonly [string, string])[];
  /** Resource defaults (`rsc_defaults`): meta attributes every resource has unless it says otherwise. */
  readonly defaults: readonly (readonly [string, string])[];
  readonly drbd: Primitive;
  readonly clone: { readonly id: string; readonly meta: readonly (readonly [string, string])[] };
  readonly group: { readonly id: string; readonly members: readonly Primitive[] };
  readonly fencing: readonly (Primitive & { readonly avoid: string })[];
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const PATH_RE = /^\/[A-Za-z0-9._/-]*$/;

/** Parses `name=ip,name=ip`. */
function pairs(text: string, what: string): [string, string][] {
  return text.split(',').map((p) => {
    const [k, v] = p.split('=').map((s) => s.trim());
    if (!k || !v) throw new ToolError(ToolErrorCode.usage, `${what} wants name=address pairs, got "${p}"`);
    return [k, v];
  });
}

/** Raw options, as the tool receives them. */
export interface HaInput {
  readonly nodes: string;
  readonly vip: string;
  readonly drbd?: string | undefined;
  readonly token?: number | undefined;
  readonly clusterName?: string | undefined;
  readonly resource: string;
  readonly device: string;
  readonly disk: string;
  readonly port: number;
  readonly mount: string;
  readonly fstype: string;
  readonly clients: string;
  readonly nfsd?: string | undefined;
  readonly fence?: string | undefined;
  readonly fenceUser?: string | undefined;
  readonly fencePassword?: string | undefined;
}

/** Checks the input; every problem is listed in one `TOOLS_ERR_INPUT` error. */
export function parseHaSpec(i: HaInput): HaSpec {
  const problems: string[] = [];
  const nodePairs = pairs(i.nodes, '--nodes');
  if (nodePairs.length !== 2)
    problems.push(`--nodes names ${nodePairs.length} node(s); a DRBD pair has exactly 2`);
  for (const [name, addr] of nodePairs) {
    if (!NAME_RE.test(name)) problems.push(`node name "${name}" must be its hostname (uname -n)`);
    if (parseIp(addr) === undefined) problems.push(`node ${name}: "${addr}" is not an IPv4 address`);
  }
  const [first, second] = nodePairs;
  if (first !== undefined && first[0] === second?.[0]) problems.push('the two nodes have the same name');
  if (first !== undefined && first[1] === second?.[1]) problems.push('the two nodes have the same address');
  const [vipIp, vipLen] = i.vip.split('/');
  const prefix = Number(vipLen ?? '24');
  const vipNum = parseIp(vipIp ?? '');
  if (vipNum === undefined || !Number.isInteger(prefix) || prefix < 8 || prefix > 30)
    problems.push(`--vip "${i.vip}" must be an address with a prefix, e.g. 10.0.0.50/24`);
  else {
    const size = 2 ** (32 - prefix);
    const network = Math.floor(vipNum / size) * size;
    if (!inSubnet(vipNum, { network, broadcast: network + size - 1, prefix, netmask: '', text: '' }))
      problems.push(`--vip ${i.vip} is the network or broadcast address of its subnet`);
    for (const [name, addr] of nodePairs)
      if (addr === vipIp) problems.push(`--vip is node ${name}'s own address`);
  }
  const drbdVersion = i.drbd ?? '9';
  if (drbdVersion !== '8.4' && drbdVersion !== '9')
    problems.push(`--drbd "${drbdVersion}" must be 8.4 (the mainline kernel's module) or 9 (LINBIT's)`);
  const token = i.token ?? 3000;
  if (!Number.isInteger(token) || token < 1000 || token > 60000)
    problems.push(`--token ${String(token)} must be 1000..60000 ms`);
  const clusterName = i.clusterName ?? 'storage';
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(clusterName))
    problems.push(`--cluster-name "${clusterName}" must be 1-32 letters, digits, - or _`);
  if (!/^[A-Za-z0-9_-]+$/.test(i.resource))
    problems.push(`--resource "${i.resource}" must be letters, digits, - or _`);
  if (!/^\/dev\/drbd\d+$/.test(i.device)) problems.push(`--device "${i.device}" must be /dev/drbdN`);
  if (!/^\/dev\/\S+$/.test(i.disk)) problems.push(`--disk "${i.disk}" must be a block device under /dev`);
  if (!Number.isInteger(i.port) || i.port < 1024 || i.port > 65535)
    problems.push(`--port ${i.port} must be 1024..65535`);
  if (!PATH_RE.test(i.mount) || i.mount === '/')
    problems.push(`--mount "${i.mount}" must be an absolute path below /`);
  if (!/^(ext4|xfs)$/.test(i.fstype)) problems.push(`--fstype "${i.fstype}" must be ext4 or xfs`);
  if (parseCidr(i.clients) === undefined && parseIp(i.clients) === undefined && !NAME_RE.test(i.clients))
    problems.push(`--clients "${i.clients}" must be a subnet (10.0.0.0/24), an address or a hostname`);
  const nfsd = i.nfsd ?? 'cluster';
  if (nfsd !== 'cluster' && nfsd !== 'everywhere')
    problems.push(`--nfsd "${nfsd}" must be cluster (an nfsserver resource) or everywhere (on both nodes)`);
  let fence: Map<string, string> | undefined;
  if (i.fence !== undefined) {
    fence = new Map(pairs(i.fence, '--fence'));
    for (const [name] of nodePairs)
      if (!fence.has(name)) problems.push(`--fence has no IPMI address for node ${name}`);
    for (const [name, addr] of fence)
      if (parseIp(addr) === undefined) problems.push(`--fence ${name}: "${addr}" is not an IPv4 address`);
    if (!i.fenceUser || !i.fencePassword)
      problems.push(
        '--fence needs --fence-user and a password (--fence-password-file or XENLAB_FENCE_PASSWORD)',
      );
  }
  if (problems.length)
    throw new ToolError(
      ToolErrorCode.input,
      `the HA pair is not consistent (${problems.length} problem(s)):`,
      problems,
    );
  const nodes = nodePairs.map(([name, address]) => {
    const f = fence?.get(name);
    return f === undefined ? { name, address } : { name, address, fenceAddress: f };
  }) as unknown as [HaNode, HaNode];
  return {
    nodes,
    drbdVersion: drbdVersion as DrbdVersion,
    token,
    clusterName,
    resource: i.resource,
    device: i.device,
    disk: i.disk,
    port: i.port,
    vip: vipIp ?? '',
    vipPrefix: prefix,
    mount: i.mount,
    fstype: i.fstype,
    exportDir: `${i.mount.replace(/\/$/, '')}/export`,
    clients: i.clients,
    nfsd: nfsd as NfsdPlacement,
    ...(i.fenceUser ? { fenceUser: i.fenceUser } : {}),
    ...(i.fencePassword ? { fencePassword: i.fencePassword } : {}),
  };
}

/** The Pacemaker resources and constraints for a spec. */
export function pacemakerModel(s: HaSpec): PacemakerModel {
  const r = s.resource;
  const fenced = s.nodes.every((n) => n.fenceAddress !== undefined);
  return {
    properties: [
      // Without fencing a split brain cannot be resolved safely; we only turn it off when no fence device is given.
      ['stonith-enabled', fenced ? 'true' : 'false'],
      ['no-quorum-policy', 'stop'],
    ],
    // Stay where you are: once storage-a is back and resynced, DRBD rates both sides alike and, with no
    // stickiness, Pacemaker may move the service back — a second pause for every client, for nothing.
    defaults: [['resource-stickiness', '100']],
    drbd: {
      id: `p_drbd_${r}`,
      cls: 'ocf',
      provider: 'linbit',
      type: 'drbd',
      params: [['drbd_resource', r]],
      // Different intervals per role: Pacemaker tells monitor ops apart by interval (Clusters from Scratch §DRBD).
      // Start/stop/promote/demote timeouts as the agent's metadata advises (crmsh warns below them; Pacemaker's
      // 20 s default is too short on a loaded node: a start waits for the peer's connection).
      ops: [
        { name: 'start', interval: '0s', timeout: '240s' },
        { name: 'stop', interval: '0s', timeout: '100s' },
        { name: 'promote', interval: '0s', timeout: '90s' },
        { name: 'demote', interval: '0s', timeout: '90s' },
        { name: 'monitor', interval: '29s', role: 'Promoted' },
        { name: 'monitor', interval: '31s', role: 'Unpromoted' },
      ],
    },
    clone: {
      id: `ms_drbd_${r}`,
      meta: [
        ['promotable', 'true'],
        ['promoted-max', '1'],
        ['promoted-node-max', '1'],
        ['clone-max', '2'],
        ['clone-node-max', '1'],
        ['notify', 'true'],
      ],
    },
    group: {
      id: 'g_nfs',
      members: [
        {
          id: 'p_fs_nfs',
          cls: 'ocf',
          provider: 'heartbeat',
          type: 'Filesystem',
          params: [
            ['device', s.device],
            ['directory', s.mount],
            ['fstype', s.fstype],
          ],
          ops: [
            { name: 'start', interval: '0s', timeout: '60s' },
            { name: 'stop', interval: '0s', timeout: '60s' },
            { name: 'monitor', interval: '20s', timeout: '40s' },
          ],
        },
        // --nfsd everywhere: nfs-kernel-server already runs on both nodes, so a failover starts no NFS server.
        ...(s.nfsd === 'cluster'
          ? [
              {
                id: 'p_nfsserver',
                cls: 'ocf',
                provider: 'heartbeat',
                type: 'nfsserver',
                // NFS state (rmtab, v4 recovery) lives on the replicated disk so clients survive a failover.
                params: [['nfs_shared_infodir', `${s.mount.replace(/\/$/, '')}/nfsinfo`]],
                ops: [
                  { name: 'start', interval: '0s', timeout: '40s' },
                  { name: 'stop', interval: '0s', timeout: '20s' },
                  { name: 'monitor', interval: '30s' },
                ],
              } satisfies Primitive,
            ]
          : []),
        {
          id: 'p_exportfs',
          cls: 'ocf',
          provider: 'heartbeat',
          type: 'exportfs',
          params: [
            ['directory', s.exportDir],
            ['clientspec', s.clients],
            ['options', 'rw,sync,no_root_squash'],
            ['fsid', '1'],
          ],
          ops: [
            { name: 'start', interval: '0s', timeout: '40s' },
            { name: 'stop', interval: '0s', timeout: '120s' },
            { name: 'monitor', interval: '30s' },
          ],
        },
        {
          id: 'p_vip',
          cls: 'ocf',
          provider: 'heartbeat',
          type: 'IPaddr2',
          params: [
            ['ip', s.vip],
            ['cidr_netmask', String(s.vipPrefix)],
          ],
          ops: [{ name: 'monitor', interval: '10s' }],
        },
        {
          id: 'p_tickle',
          cls: 'ocf',
          provider: 'heartbeat',
          type: 'portblock',
          // After a failover the clients' TCP connections still point at the dead node: their retransmissions back
          // off (1, 2, 4 … 60 s apart, measured) and the first to reach the new owner of the IP, which answers it
          // with a reset, can come a minute after the IP moved. Once the IP is up, portblock sends each client
          // recorded in tickle_dir a "tickle" ACK; the client's answer draws that reset at once and it reconnects.
          // Its monitor records the connections on the replicated disk; a clean stop blocks the port (DROP) so
          // clients wait instead of failing while the service moves.
          params: [
            ['protocol', 'tcp'],
            ['portno', '2049'],
            ['ip', s.vip],
            ['action', 'unblock'],
            ['tickle_dir', `${s.mount.replace(/\/$/, '')}/tickle`],
          ],
          // Twice the metadata's 20 s: each action runs iptables and ss, slow on a loaded (emulated) node.
          ops: [
            { name: 'start', interval: '0s', timeout: '40s' },
            { name: 'stop', interval: '0s', timeout: '40s' },
            { name: 'monitor', interval: '10s', timeout: '40s' },
          ],
        },
      ],
    },
    fencing: fenced
      ? s.nodes.map((n) => ({
          id: `fence_${n.name}`,
          cls: 'stonith' as const,
          type: 'fence_ipmilan',
          params: [
            ['ip', n.fenceAddress ?? ''],
            ['username', s.fenceUser ?? ''],
            ['password', s.fencePassword ?? ''],
            ['lanplus', '1'],
            ['pcmk_host_list', n.name],
          ] as const,
          ops: [{ name: 'monitor', interval: '60s' }],
          // A node never runs the device that fences itself.
          avoid: n.name,
        }))
      : [],
  };
}

/** The DRBD resource file, in the syntax of the module the nodes run (drbd.conf(5) of 8.4 and of 9). */
export function drbdResource(s: HaSpec): string {
  const [a, b] = s.nodes;
  const v9 = s.drbdVersion === '9';
  const afterSb = [
    '    after-sb-0pri discard-zero-changes;',
    '    after-sb-1pri discard-secondary;',
    '    after-sb-2pri disconnect;',
  ];
  return [
    `# DRBD ${s.drbdVersion} resource ${s.resource}: ${s.disk} replicated between ${a.name} and ${b.name} (synchronous, protocol C).`,
    '# Generated by xenlab-tools ha. Install as /etc/drbd.d/' +
      `${s.resource}.res on both nodes; check with drbdadm dump.`,
    `resource ${s.resource} {`,
    `  device    ${s.device};`,
    `  disk      ${s.disk};`,
    '  meta-disk internal;',
    '  net {',
    '    protocol C;',
    // Pacemaker-integrated fencing: on loss of the peer, constrain the peer in the CIB. DRBD 9 has it in `net`
    // with the .9 handlers; 8.4 in `disk`, its handlers crm-fence-peer.sh and (after a resync) crm-unfence-peer.sh.
    ...(v9 ? ['    fencing resource-only;'] : []),
    ...afterSb,
    '  }',
    ...(v9
      ? []
      : [
          '  disk {',
          '    fencing resource-only;',
          // A fixed resync rate: the dynamic controller's default fill target (50 KiB in flight) caps a resync
          // at 50 KiB per round trip, ~1.2 MB/s on a slow link (measured on emulated nodes; 3-4 MB/s fixed).
          '    c-plan-ahead 0;',
          '    resync-rate 40M;',
          '  }',
        ]),
    '  handlers {',
    ...(v9
      ? [
          '    fence-peer "/usr/lib/drbd/crm-fence-peer.9.sh";',
          '    unfence-peer "/usr/lib/drbd/crm-unfence-peer.9.sh";',
        ]
      : [
          '    fence-peer "/usr/lib/drbd/crm-fence-peer.sh";',
          '    after-resync-target "/usr/lib/drbd/crm-unfence-peer.sh";',
        ]),
    '  }',
    ...s.nodes.flatMap((n, i) => [
      `  on ${n.name} {`,
      `    address   ${n.address}:${s.port};`,
      ...(v9 ? [`    node-id   ${i};`] : []),
      '  }',
    ]),
    '}',
    '',
  ].join('\n');
}

/**
 * corosync.conf for the two nodes (corosync 3, knet): `two_node` keeps the survivor quorate when its peer dies
 * (and implies wait_for_all: a cold cluster waits until it has seen both once).
 */
export function corosyncConf(s: HaSpec): string {
  return [
    '# corosync.conf for a two-node cluster. Generated by xenlab-tools ha. Install as /etc/corosync/corosync.conf',
    '# on both nodes; check with corosync -t.',
    'totem {',
    '  version: 2',
    `  cluster_name: ${s.clusterName}`,
    '  transport: knet',
    // No key: a lab. Production sets crypto_cipher/crypto_hash and shares /etc/corosync/authkey (corosync-keygen).
    '  crypto_cipher: none',
    '  crypto_hash: none',
    `  token: ${String(s.token)}`,
    '}',
    'nodelist {',
    ...s.nodes.flatMap((n, i) => [
      '  node {',
      `    ring0_addr: ${n.address}`,
      `    name: ${n.name}`,
      `    nodeid: ${String(i + 1)}`,
      '  }',
    ]),
    '}',
    'quorum {',
    '  provider: corosync_votequorum',
    '  two_node: 1',
    '}',
    'logging {',
    '  to_logfile: yes',
    '  logfile: /var/log/corosync/corosync.log',
    '  to_syslog: no',
    '  timestamp: on',
    '}',
    '',
  ].join('\n');
}

function xmlAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
}

function nvpairs(
  tag: string,
  id: string,
  pairsList: readonly (readonly [string, string])[],
  indent: string,
): string[] {
  if (pairsList.length === 0) return [];
  return [
    `${indent}<${tag} id="${id}">`,
    ...pairsList.map(([k, v]) => `${indent}  <nvpair id="${id}-${k}" name="${k}" value="${xmlAttr(v)}"/>`),
    `${indent}</${tag}>`,
  ];
}

function primitiveXml(p: Primitive, indent: string): string[] {
  const provider = p.provider ? ` provider="${p.provider}"` : '';
  return [
    `${indent}<primitive id="${p.id}" class="${p.cls}"${provider} type="${p.type}">`,
    ...nvpairs('instance_attributes', `${p.id}-instance_attributes`, p.params, `${indent}  `),
    `${indent}  <operations>`,
    ...p.ops.map(
      (o) =>
        `${indent}    <op id="${p.id}-${o.name}-${o.interval}" name="${o.name}" interval="${o.interval}"${o.timeout ? ` timeout="${o.timeout}"` : ''}${o.role ? ` role="${o.role}"` : ''}/>`,
    ),
    `${indent}  </operations>`,
    `${indent}</primitive>`,
  ];
}

/** A complete CIB (configuration section plus empty status) for `crm_verify -x` and `cibadmin --replace`. */
export function cibXml(s: HaSpec, m: PacemakerModel): string {
  const lines = [
    // pacemaker-3.7+ knows the Promoted/Unpromoted role names (Pacemaker 2.1).
    '<cib validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0">',
    '  <configuration>',
    '    <crm_config>',
    ...nvpairs('cluster_property_set', 'cib-bootstrap-options', m.properties, '      '),
    '    </crm_config>',
    '    <rsc_defaults>',
    ...nvpairs('meta_attributes', 'rsc-options', m.defaults, '      '),
    '    </rsc_defaults>',
    '    <nodes>',
    ...s.nodes.map((n, i) => `      <node id="${i + 1}" uname="${n.name}"/>`),
    '    </nodes>',
    '    <resources>',
    `      <clone id="${m.clone.id}">`,
    ...nvpairs('meta_attributes', `${m.clone.id}-meta_attributes`, m.clone.meta, '        '),
    ...primitiveXml(m.drbd, '        '),
    '      </clone>',
    `      <group id="${m.group.id}">`,
    ...m.group.members.flatMap((p) => primitiveXml(p, '        ')),
    '      </group>',
    ...m.fencing.flatMap((p) => primitiveXml(p, '      ')),
    '    </resources>',
    '    <constraints>',
    `      <rsc_colocation id="c_nfs_with_drbd" score="INFINITY" rsc="${m.group.id}" with-rsc="${m.clone.id}" with-rsc-role="Promoted"/>`,
    `      <rsc_order id="o_drbd_before_nfs" kind="Mandatory" first="${m.clone.id}" first-action="promote" then="${m.group.id}" then-action="start"/>`,
    ...m.fencing.map(
      (f) =>
        `      <rsc_location id="l_${f.id}_avoids_${f.avoid}" rsc="${f.id}" node="${f.avoid}" score="-INFINITY"/>`,
    ),
    '    </constraints>',
    '  </configuration>',
    '  <status/>',
    '</cib>',
    '',
  ];
  return lines.join('\n');
}

function kv(pairsList: readonly (readonly [string, string])[]): string {
  return pairsList
    .map(([k, v]) => (/[\s"]/.test(v) ? `${k}="${v.replace(/"/g, '\\"')}"` : `${k}=${v}`))
    .join(' ');
}

function crmPrimitive(p: Primitive): string {
  const agent = p.cls === 'stonith' ? `stonith:${p.type}` : `${p.cls}:${p.provider ?? ''}:${p.type}`;
  const ops = p.ops
    .map(
      (o) =>
        ` \\\n  op ${o.name} interval=${o.interval}${o.timeout ? ` timeout=${o.timeout}` : ''}${o.role ? ` role=${o.role}` : ''}`,
    )
    .join('');
  return `primitive ${p.id} ${agent} \\\n  params ${kv(p.params)}${ops}`;
}

/** The crm shell form (`crm configure load update crm.txt`). */
export function crmConfig(m: PacemakerModel): string {
  return [
    '# Pacemaker configuration, crm shell form. Generated by xenlab-tools ha. Load with: crm configure load update crm.txt',
    `property cib-bootstrap-options: ${kv(m.properties)}`,
    `rsc_defaults rsc-options: ${kv(m.defaults)}`,
    crmPrimitive(m.drbd),
    `clone ${m.clone.id} ${m.drbd.id} \\\n  meta ${kv(m.clone.meta)}`,
    ...m.group.members.map(crmPrimitive),
    `group ${m.group.id} ${m.group.members.map((p) => p.id).join(' ')}`,
    ...m.fencing.map(crmPrimitive),
    `colocation c_nfs_with_drbd inf: ${m.group.id} ${m.clone.id}:Promoted`,
    `order o_drbd_before_nfs Mandatory: ${m.clone.id}:promote ${m.group.id}:start`,
    ...m.fencing.map((f) => `location l_${f.id}_avoids_${f.avoid} ${f.id} -inf: ${f.avoid}`),
    '',
  ].join('\n');
}

/** The pcs form: builds the configuration in a file, then pushes it (pcs 0.10/0.11). */
export function pcsScript(m: PacemakerModel): string {
  const f = 'pcs -f "$CIB"';
  const opArgs = (p: Primitive): string =>
    p.ops.length
      ? ` op ${p.ops.map((o) => `${o.name} interval=${o.interval}${o.timeout ? ` timeout=${o.timeout}` : ''}${o.role ? ` role=${o.role}` : ''}`).join(' ')}`
      : '';
  return [
    '#!/bin/sh',
    '# Pacemaker configuration, pcs form. Generated by xenlab-tools ha. Run on one node of the running cluster.',
    'set -eu',
    'CIB=$(mktemp)',
    'pcs cluster cib "$CIB"',
    ...m.properties.map(([k, v]) => `${f} property set ${k}=${v}`),
    `${f} resource defaults update ${kv(m.defaults)}`,
    `${f} resource create ${m.drbd.id} ocf:${m.drbd.provider ?? ''}:${m.drbd.type} ${kv(m.drbd.params)}${opArgs(m.drbd)}`,
    `${f} resource promotable ${m.drbd.id} ${m.clone.id} ${kv(m.clone.meta.filter(([k]) => k !== 'promotable'))}`,
    ...m.group.members.map(
      (p) =>
        `${f} resource create ${p.id} ${p.cls}:${p.provider ?? ''}:${p.type} ${kv(p.params)}${opArgs(p)} --group ${m.group.id}`,
    ),
    ...m.fencing.map((p) => `${f} stonith create ${p.id} ${p.type} ${kv(p.params)}${opArgs(p)}`),
    `${f} constraint colocation add ${m.group.id} with Promoted ${m.clone.id} INFINITY`,
    `${f} constraint order promote ${m.clone.id} then start ${m.group.id}`,
    ...m.fencing.map((p) => `${f} constraint location ${p.id} avoids ${p.avoid}`),
    'pcs cluster cib-push "$CIB" --config',
    'rm -f "$CIB"',
    '',
  ].join('\n');
}
