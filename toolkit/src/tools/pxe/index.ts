/**
 * `pxe`: from a host inventory to a PXE install server — dnsmasq configuration, TFTP tree (pxelinux and iPXE) and
 * XCP-ng answer files — after rejecting conflicts.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineTool } from '../command.js';
import { ToolError, ToolErrorCode } from '../errors.js';
import { readDnsmasq, renderDnsmasqCheck } from './dnsmasq.js';
import { generatePxe } from './generate.js';
import { parseInventory } from './inventory.js';

export {
  parseInventory,
  ROLES,
  type Inventory,
  type InventoryHost,
  type PxeNetwork,
  type Role,
} from './inventory.js';
export { generatePxe, pxelinuxName, type PxeOptions, type BootLoader } from './generate.js';
export {
  readDnsmasq,
  readDnsmasqLines,
  renderDnsmasqCheck,
  expandPath,
  normaliseMac,
  type DnsmasqEffective,
  type DnsmasqFiles,
  type DnsmasqHost,
  type DnsmasqBoot,
  type DnsmasqLine,
} from './dnsmasq.js';

/** The `pxe` tool. */
export const pxeTool = defineTool({
  name: 'pxe',
  summary: 'generate dnsmasq, TFTP (pxelinux + iPXE) and answer files from a host inventory',
  description:
    'Reads a host inventory (YAML with network, installer and hosts; or CSV with a mac,ip,hostname,role header plus --subnet/--server/--gateway) and writes a dnsmasq configuration (DHCP + TFTP, DNS off), the TFTP tree for pxelinux and iPXE, one XCP-ng installer answer file per host and a pool-join script. Duplicate MACs, IPs or hostnames, addresses outside the subnet or inside the dynamic range, and a second master are rejected, all listed at once. The configuration passes `dnsmasq --test`.',
  examples: [
    'xenlab-tools pxe --inventory hosts.yaml --out /srv/pxe --dry-run',
    'xenlab-tools pxe --inventory hosts.csv --subnet 10.0.0.0/24 --server 10.0.0.2 --gateway 10.0.0.1 --out ./pxe',
    'xenlab-tools pxe --check ~/pxe/dnsmasq.conf',
  ],
  usesPool: false,
  details: `### Inventory

YAML (\`network\` and \`installer\` may also come from options; \`role\` is \`master\` or \`member\`, default member):

\`\`\`yaml
network:
  interface: eth1          # dnsmasq serves this interface
  server: 10.0.0.2         # this PXE/TFTP/HTTP server
  subnet: 10.0.0.0/24
  gateway: 10.0.0.1
  dns: [10.0.0.1]
  range: 10.0.0.100-10.0.0.199   # optional dynamic pool; without it only listed hosts get addresses
  domain: lab.example
installer:
  url: http://10.0.0.2/xcp-ng/   # the ISO contents over HTTP
  root_password_hash: '!!'       # crypt(3) hash; '!!' asks at first boot
hosts:
  - { mac: 52:54:00:00:00:01, ip: 10.0.0.11, hostname: xcp1, role: master }
  - { mac: 52:54:00:00:00:02, ip: 10.0.0.12, hostname: xcp2 }
\`\`\`

CSV: a header naming \`mac,ip,hostname[,role]\` in any order, one host per line, plus \`--subnet --server --gateway\`.

### Output

\`dnsmasq.conf\`, \`tftp/pxelinux.cfg/01-<mac>\` and \`default\`, \`tftp/boot.ipxe\` and \`tftp/ipxe/<mac>.ipxe\`, \`answers/<hostname>.xml\`
(host-installer answer file), \`pool-join.sh\` (members join the master), \`tftp/README.txt\` (the boot files to copy:
pxelinux/mboot from syslinux, undionly.kpxe from iPXE, xen.gz/vmlinuz/install.img from the ISO). BIOS boot only.
The tests run \`dnsmasq --test -C dnsmasq.conf\` (Debian \`dnsmasq-base\`) on every generated configuration.

### --check

\`xenlab-tools pxe --check dnsmasq.conf\` reads a dnsmasq configuration — any spelling, comments, \`conf-file=\` and
\`conf-dir=\` includes — and prints what it does for a PXE boot, one \`key: value\` line each: \`dns\` (off with
\`port=0\`), \`tftp\` on/off, \`tftp-root\` (absolute; \`~\` and \`$HOME\` read as your home), \`ipxe-tags\` (tags set
by \`dhcp-match=…,175\` or \`dhcp-userclass=…,iPXE\`), \`boot ipxe\` and \`boot pxe\` (the file each kind of client is
offered: a tagged \`dhcp-boot\` whose tags match wins over an untagged one; two that tie are reported as ambiguous),
and one \`host <mac>: ip … name …\` line per \`dhcp-host\` (fields in any order). It does not check syntax: that is
\`dnsmasq --test\`. Exit 1 when an include cannot be read.`,
  options: {
    inventory: {
      type: 'string',
      placeholder: 'FILE',
      description: 'Inventory, .yaml/.yml or .csv (required unless --check).',
    },
    check: {
      type: 'string',
      placeholder: 'FILE',
      description: 'Read a dnsmasq configuration and print what it does for a PXE boot (no files written).',
    },
    out: { type: 'string', default: 'pxe', placeholder: 'DIR', description: 'Output folder.' },
    tftpRoot: {
      type: 'string',
      default: '/srv/tftp',
      placeholder: 'PATH',
      description: 'Where the tftp/ folder will be served from (dnsmasq tftp-root).',
    },
    boot: {
      type: 'string',
      default: 'pxelinux',
      choices: ['pxelinux', 'ipxe'],
      description: 'First loader for PXE ROMs.',
    },
    subnet: { type: 'string', placeholder: 'CIDR', description: 'Subnet of the hosts (overrides the file).' },
    server: {
      type: 'string',
      placeholder: 'IP',
      description: "This PXE server's address (overrides the file).",
    },
    gateway: { type: 'string', placeholder: 'IP', description: 'Default gateway (overrides the file).' },
    dns: { type: 'string', placeholder: 'IP,IP', description: 'DNS servers (default: the gateway).' },
    range: {
      type: 'string',
      placeholder: 'START-END',
      description: 'Dynamic DHCP pool for unknown machines.',
    },
    interface: {
      type: 'string',
      placeholder: 'IFACE',
      description: 'Interface dnsmasq serves (default eth0).',
    },
    installerUrl: {
      type: 'string',
      placeholder: 'URL',
      description: 'Installation repository (ISO contents) URL.',
    },
    dryRun: { type: 'boolean', description: 'Check the inventory and list the files; write nothing.' },
  },
  exitCodes: {
    1: 'the inventory is malformed or has conflicts (all listed); --check: an include cannot be read',
  },
  run(ctx, o) {
    if (o.check !== undefined) {
      const home = ctx.env.HOME ?? '/';
      const eff = readDnsmasq(
        resolve(o.check),
        {
          read: (p) => ctx.files.read(p),
          list: (p) => {
            try {
              return statSync(p).isDirectory() ? readdirSync(p) : undefined;
            } catch {
              return undefined;
            }
          },
        },
        home,
      );
      ctx.io.stdout(renderDnsmasqCheck(eff));
      return Promise.resolve(eff.problems.length > 0 ? 1 : 0);
    }
    if (o.inventory === undefined)
      throw new ToolError(ToolErrorCode.usage, 'pxe: --inventory FILE is required (or --check FILE)');
    const inv = parseInventory(ctx.files.read(o.inventory), o.inventory, {
      subnet: o.subnet,
      server: o.server,
      gateway: o.gateway,
      dns: o.dns,
      range: o.range,
      interface: o.interface,
      installerUrl: o.installerUrl,
    });
    const files = generatePxe(inv, { tftpRoot: o.tftpRoot, boot: o.boot });
    for (const [path, text] of files) {
      if (!o.dryRun) ctx.files.write(join(o.out, path), text, path.endsWith('.sh') ? 0o755 : undefined);
      ctx.io.stdout(`${o.dryRun ? 'would write' : 'wrote'} ${join(o.out, path)}\n`);
    }
    ctx.io.stdout(
      `${inv.hosts.length} host(s) on ${inv.network.subnet.text} via ${inv.network.interface}; server ${inv.network.server}\n`,
    );
    return Promise.resolve(0);
  },
});
