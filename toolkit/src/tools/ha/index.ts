/**
 * `ha`: the configuration of a highly available NFS storage pair (DRBD + Pacemaker + floating IP) — the storage an
 * XCP pool keeps its shared SR on, surviving the loss of one storage node.
 */
import { join } from 'node:path';
import { defineTool } from '../command.js';
import {
  cibXml,
  corosyncConf,
  crmConfig,
  drbdResource,
  pacemakerModel,
  parseHaSpec,
  pcsScript,
} from './model.js';

export {
  cibXml,
  corosyncConf,
  crmConfig,
  drbdResource,
  pacemakerModel,
  parseHaSpec,
  pcsScript,
} from './model.js';
export type { DrbdVersion, HaInput, HaNode, HaSpec, PacemakerModel, Primitive } from './model.js';

/** The `ha` tool. */
export const haTool = defineTool({
  name: 'ha',
  summary: 'generate DRBD and Pacemaker (CIB, crm, pcs) configuration for an HA NFS pair',
  description:
    "Writes the DRBD resource file (for the DRBD 8.4 of mainline kernels or LINBIT's DRBD 9), corosync.conf for a two-node cluster, and the Pacemaker configuration for two storage nodes serving NFS from a replicated disk behind a floating IP: a promotable DRBD clone, a group (Filesystem, nfsserver, exportfs, IPaddr2, and portblock whose tickle ACKs reconnect the clients at once after a failover) colocated with and ordered after the promoted side, in three equivalent forms — cib.xml (for crm_verify and cibadmin), crm shell and pcs. Give --fence with IPMI addresses for fencing; without it stonith-enabled=false is written and a warning printed (fine for a lab, never for production). The output passes `drbdadm dump` and `crm_verify`.",
  examples: [
    'xenlab-tools ha --nodes alpha=10.0.0.11,beta=10.0.0.12 --vip 10.0.0.50/24 --disk /dev/sdb --clients 10.0.0.0/24 --out ha',
    'xenlab-tools ha --drbd 8.4 --token 10000 --nodes storage-a=10.13.0.11,storage-b=10.13.0.12 --vip 10.13.0.50/24 --disk /dev/vdb --clients 10.13.0.0/24',
    'XENLAB_FENCE_PASSWORD=… xenlab-tools ha --nodes alpha=10.0.0.11,beta=10.0.0.12 --vip 10.0.0.50/24 --fence alpha=10.0.1.11,beta=10.0.1.12 --fence-user admin',
    'xenlab-tools ha --nfsd everywhere --nodes alpha=10.0.0.11,beta=10.0.0.12 --vip 10.0.0.50/24 --clients 10.0.0.0/24',
  ],
  usesPool: false,
  details: `### Output and how it is validated

- \`drbd/<resource>.res\` — DRBD resource (protocol C, \`fencing resource-only\` with the crm-fence-peer handlers).
  \`--drbd 9\` (default): LINBIT's module, node-id, fencing in \`net\`, the .9 handlers. \`--drbd 8.4\`: the module in
  mainline Linux (Debian 12's kernel has 8.4.11, \`cat /proc/drbd\`), which rejects the 9 form ("Parse error: 'an
  option keyword' expected, but got 'fencing'"): fencing in \`disk\`, crm-fence-peer.sh and crm-unfence-peer.sh after
  a resync, and a fixed resync rate. Tests: \`drbdadm -c <file> dump\` (9) and \`drbdadm-84 -c <file> dump\` (8.4)
  parse them.
- \`corosync/corosync.conf\` — corosync 3 (knet), both nodes, \`two_node: 1\`, \`token\` from \`--token\`. Tests:
  \`corosync -t\` where corosync is installed.
- \`pacemaker/cib.xml\` — a complete CIB. Tests: \`crm_verify -x cib.xml\` (\`pacemaker-cli-utils\`) accepts it; with
  fencing, against a status section with both nodes online.
- \`pacemaker/crm.txt\` — crm shell form. Tests: \`CIB_file=<empty CIB> crm configure load update crm.txt\` (\`crmsh\`,
  offline) yields the same resources and constraints as cib.xml, and crm_verify accepts the result.
- \`pacemaker/pcs.sh\` — pcs form (\`pcs -f\` on a CIB copy, then \`cib-push\`). Not validated by the tests: pcs is not
  installed in CI (it pulls 34 packages); its commands follow pcs 0.10/0.11 syntax.

Every start/stop/promote/demote operation carries the timeout its agent's metadata advises (Pacemaker's 20 s
default is too short for drbd and exportfs on a loaded node). The packages on the nodes are not installed; the
nodes need \`iptables\` for portblock.

Before loading the configuration, make the folders \`export\`, \`nfsinfo\` (nfsserver's shared state; not needed with
\`--nfsd everywhere\`) and \`tickle\`
(the connections portblock records) at the top of the replicated filesystem, once, on the primary. The last member
of the group, \`portblock action=unblock\` with \`tickle_dir\`, is what makes a failover short for the clients: their
TCP connections still point at the dead node and their retransmissions back off to a minute apart; its tickle ACKs,
sent from the floating IP's new owner, draw a reset from each recorded client so that it reconnects at once.

### Where the NFS server runs (\`--nfsd\`)

- \`cluster\` (default): \`nfsserver\` is a group member, started on the promoted node after the filesystem, with
  \`nfs_shared_infodir\` on the replicated disk: statd's list of clients holding locks and the NFSv4 recovery state
  move with the service, so after a failover NFSv3 clients reclaim their locks and NFSv4 clients their state.
- \`everywhere\`: no \`nfsserver\` in the group. Enable and start nfs-kernel-server on both nodes yourself
  (\`systemctl enable --now nfs-server\`); the group mounts, exports, raises the IP and tickles. A failover no longer
  stops and starts the NFS server — on the lab's emulated nodes that cut the clients' pause from 30-35 s to 24-29 s (load 2-3) —
  but each node keeps its own NFS state: NFSv3 locks are not recovered and NFSv4 clients must start over. Right for
  NFSv3 clients that take no NFS locks (the lab's dom0 mounts with \`nolock\`: a disk image needs none); wrong for
  NFSv4 clients or for applications that rely on \`flock\`/\`fcntl\` locks over NFS.`,
  options: {
    nodes: {
      type: 'string',
      required: true,
      placeholder: 'NAME=IP,NAME=IP',
      description: 'The two nodes (uname -n) and replication addresses.',
    },
    vip: {
      type: 'string',
      required: true,
      placeholder: 'IP/PREFIX',
      description: 'Floating IP the NFS clients (the XCP pool) mount from.',
    },
    drbd: {
      type: 'string',
      default: '9',
      choices: ['9', '8.4'],
      description:
        'DRBD kernel module version on the nodes (cat /proc/drbd): 8.4 in mainline kernels, 9 from LINBIT.',
    },
    token: {
      type: 'number',
      default: 3000,
      placeholder: 'MS',
      description: 'Corosync token timeout: how long a silent node takes to be declared lost.',
    },
    clusterName: { type: 'string', default: 'storage', description: 'Corosync cluster name.' },
    disk: {
      type: 'string',
      default: '/dev/sdb',
      placeholder: 'DEV',
      description: 'Backing block device on each node.',
    },
    device: { type: 'string', default: '/dev/drbd0', placeholder: 'DEV', description: 'DRBD device.' },
    resource: { type: 'string', default: 'r0', description: 'DRBD resource name.' },
    port: { type: 'number', default: 7789, description: 'DRBD replication TCP port.' },
    mount: {
      type: 'string',
      default: '/srv/nfs',
      placeholder: 'PATH',
      description: 'Mount point of the replicated filesystem.',
    },
    fstype: {
      type: 'string',
      default: 'ext4',
      choices: ['ext4', 'xfs'],
      description: 'Filesystem on the DRBD device.',
    },
    clients: {
      type: 'string',
      default: '10.0.0.0/24',
      placeholder: 'SPEC',
      description: 'NFS clientspec allowed to mount (the pool’s storage network).',
    },
    nfsd: {
      type: 'string',
      default: 'cluster',
      choices: ['cluster', 'everywhere'],
      description:
        'Where the NFS server runs: cluster (an nfsserver resource, state on the replicated disk) or everywhere (nfs-kernel-server on both nodes: shorter failover, no lock or NFSv4 state recovery).',
    },
    fence: {
      type: 'string',
      placeholder: 'NAME=IP,NAME=IP',
      description: 'IPMI address of each node for fence_ipmilan.',
    },
    fenceUser: { type: 'string', description: 'IPMI user.' },
    fencePasswordFile: {
      type: 'string',
      placeholder: 'FILE',
      env: 'XENLAB_FENCE_PASSWORD_FILE',
      description: 'File holding the IPMI password.',
    },
    out: { type: 'string', default: 'ha', placeholder: 'DIR', description: 'Output folder.' },
    dryRun: { type: 'boolean', description: 'Check the input and list the files; write nothing.' },
  },
  exitCodes: { 1: 'the input is inconsistent (all problems listed)' },
  run(ctx, o) {
    const fencePassword =
      o.fencePasswordFile === undefined
        ? ctx.env.XENLAB_FENCE_PASSWORD
        : ctx.files.read(o.fencePasswordFile).replace(/\r?\n$/, '');
    const spec = parseHaSpec({ ...o, fencePassword });
    const model = pacemakerModel(spec);
    const files = new Map<string, [string, number | undefined]>([
      [`drbd/${spec.resource}.res`, [drbdResource(spec), undefined]],
      ['corosync/corosync.conf', [corosyncConf(spec), undefined]],
      // The CIB and both scripts hold the IPMI password when fencing is configured: owner-only.
      ['pacemaker/cib.xml', [cibXml(spec, model), 0o600]],
      ['pacemaker/crm.txt', [crmConfig(model), 0o600]],
      ['pacemaker/pcs.sh', [pcsScript(model), 0o700]],
    ]);
    for (const [path, [text, mode]] of files) {
      if (!o.dryRun) ctx.files.write(join(o.out, path), text, mode);
      ctx.io.stdout(`${o.dryRun ? 'would write' : 'wrote'} ${join(o.out, path)}\n`);
    }
    if (model.fencing.length === 0)
      ctx.io.stderr(
        'xenlab-tools ha: warning: no --fence given, so stonith-enabled=false: a split brain cannot be resolved safely. Fine for a lab, not for production.\n',
      );
    return Promise.resolve(0);
  },
});
