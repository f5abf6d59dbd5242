/**
 * The PXE host inventory: YAML (`network`, `installer`, `hosts`) or CSV (`mac,ip,hostname,role` with a header),
 * checked as a whole so every problem is reported at once, each naming where it is (`hosts[2]`, `line 4`).
 */
import { parse as parseYaml } from 'yaml';
import { ToolError, ToolErrorCode } from '../errors.js';
import { formatIp, inSubnet, parseCidr, parseIp, parseMac, type Subnet } from '../ipv4.js';

/** Host roles: the pool coordinator and the hosts that join it. */
export const ROLES = ['master', 'member'] as const;
/** One of {@link ROLES}. */
export type Role = (typeof ROLES)[number];

/** One host to install. */
export interface InventoryHost {
  readonly mac: string;
  readonly ip: string;
  readonly hostname: string;
  readonly role: Role;
  /** Where it came from, for messages. */
  readonly where: string;
}

/** The network the PXE server serves. */
export interface PxeNetwork {
  readonly interface: string;
  readonly server: string;
  readonly subnet: Subnet;
  readonly gateway: string;
  readonly dns: readonly string[];
  readonly domain?: string;
  /** Dynamic DHCP pool, when unknown machines should get addresses too. */
  readonly range?: { readonly start: string; readonly end: string };
}

/** Installer settings written into the answer files. */
export interface PxeInstaller {
  /** Installation repository (the ISO contents served over HTTP). */
  readonly url: string;
  /** Base URL the answer files are served from. */
  readonly answersUrl: string;
  readonly disk: string;
  readonly keymap: string;
  readonly timezone: string;
  /** crypt(3) hash; '!!' defers the password to first boot (host-installer doc/answerfile.txt). */
  readonly rootPasswordHash: string;
  /** Interface the installed host manages through. */
  readonly adminInterface: string;
}

/** A checked inventory. */
export interface Inventory {
  readonly network: PxeNetwork;
  readonly installer: PxeInstaller;
  readonly hosts: readonly InventoryHost[];
}

/** Values given on the command line (they win over the file). */
export type InventoryOverrides = Readonly<Record<string, string | undefined>>;

function asRecord(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number') return String(v);
  return undefined;
}

interface RawHost {
  mac: string | undefined;
  ip: string | undefined;
  hostname: string | undefined;
  role: string | undefined;
  where: string;
}

function parseCsv(source: string, name: string): RawHost[] {
  const lines = source.split(/\r?\n/);
  const rows: RawHost[] = [];
  let header: string[] | undefined;
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const cells = trimmed.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    if (!header) {
      header = cells.map((c) => c.toLowerCase());
      const missing = ['mac', 'ip', 'hostname'].filter((c) => !header?.includes(c));
      if (missing.length)
        throw new ToolError(
          ToolErrorCode.input,
          `${name}: the first line must be a header naming the columns mac,ip,hostname[,role]; missing ${missing.join(', ')}`,
        );
      return;
    }
    const get = (col: string): string | undefined => {
      const idx = header?.indexOf(col) ?? -1;
      return idx === -1 ? undefined : cells[idx];
    };
    rows.push({
      mac: get('mac'),
      ip: get('ip'),
      hostname: get('hostname'),
      role: get('role'),
      where: `line ${i + 1}`,
    });
  });
  return rows;
}

/**
 * Parses and checks an inventory. Throws `TOOLS_ERR_INPUT` for malformed entries and `TOOLS_ERR_CONFLICT` for
 * entries that clash (duplicate MAC, IP or hostname; an IP outside the subnet or inside the dynamic range…), with
 * every problem listed.
 * @example
 * const inv = parseInventory(readFileSync('hosts.yaml', 'utf8'), 'hosts.yaml', {});
 */
export function parseInventory(source: string, name: string, overrides: InventoryOverrides): Inventory {
  const isCsv = /\.csv$/i.test(name);
  let doc: Record<string, unknown> = {};
  let rawHosts: RawHost[];
  if (isCsv) rawHosts = parseCsv(source, name);
  else {
    let parsed: unknown;
    try {
      parsed = parseYaml(source);
    } catch (e) {
      throw new ToolError(
        ToolErrorCode.input,
        `${name} is not valid YAML: ${(e as Error).message.split('\n')[0] ?? ''}`,
      );
    }
    doc = asRecord(parsed);
    if (!Array.isArray(doc.hosts))
      throw new ToolError(ToolErrorCode.input, `${name}: expected a "hosts:" list (and a "network:" map)`);
    rawHosts = doc.hosts.map((h, i) => {
      const r = asRecord(h);
      return {
        mac: text(r.mac),
        ip: text(r.ip),
        hostname: text(r.hostname),
        role: text(r.role),
        where: `hosts[${i}]`,
      };
    });
  }
  const net = asRecord(doc.network);
  const inst = asRecord(doc.installer);
  const pick = (key: string, from: Record<string, unknown>, fileKey = key): string | undefined =>
    overrides[key] ?? text(from[fileKey]);
  const input: string[] = [];
  const conflicts: string[] = [];

  const subnetText = pick('subnet', net);
  const subnet = subnetText === undefined ? undefined : parseCidr(subnetText);
  if (subnetText === undefined) input.push('network.subnet is missing (e.g. 10.0.0.0/24; or --subnet)');
  else if (!subnet) input.push(`network.subnet "${subnetText}" is not a CIDR subnet like 10.0.0.0/24`);
  const addr = (label: string, value: string | undefined, required: boolean): number | undefined => {
    if (value === undefined) {
      if (required) input.push(`network.${label} is missing (or --${label})`);
      return undefined;
    }
    const n = parseIp(value);
    if (n === undefined) input.push(`network.${label} "${value}" is not an IPv4 address`);
    else if (subnet && !inSubnet(n, subnet))
      conflicts.push(`network.${label} ${value} is outside ${subnet.text}`);
    return n;
  };
  const server = addr('server', pick('server', net), true);
  const gateway = addr('gateway', pick('gateway', net), true);
  const dnsRaw = overrides.dns ?? (Array.isArray(net.dns) ? net.dns.map(text).join(',') : text(net.dns));
  const dns = (dnsRaw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const d of dns) if (parseIp(d) === undefined) input.push(`network.dns "${d}" is not an IPv4 address`);
  let range: { start: string; end: string } | undefined;
  let rangeNums: [number, number] | undefined;
  const rangeText = pick('range', net);
  if (rangeText !== undefined) {
    const [a, b] = rangeText.split('-').map((s) => s.trim());
    const s = parseIp(a ?? '');
    const e = parseIp(b ?? '');
    if (s === undefined || e === undefined || s > e)
      input.push(`network.range "${rangeText}" is not START-END (e.g. 10.0.0.100-10.0.0.199)`);
    else if (subnet && (!inSubnet(s, subnet) || !inSubnet(e, subnet)))
      conflicts.push(`network.range ${rangeText} is not inside ${subnet.text}`);
    else {
      range = { start: formatIp(s), end: formatIp(e) };
      rangeNums = [s, e];
    }
  }
  const iface = pick('interface', net) ?? 'eth0';
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(iface))
    input.push(`network.interface "${iface}" is not an interface name`);
  const domain = pick('domain', net);
  if (
    domain !== undefined &&
    !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(domain)
  )
    input.push(`network.domain "${domain}" is not a domain name`);

  const byMac = new Map<string, string>();
  const byIp = new Map<string, string>();
  const byName = new Map<string, string>();
  const hosts: InventoryHost[] = [];
  if (rawHosts.length === 0) input.push(`${name} lists no hosts`);
  for (const h of rawHosts) {
    const at = h.where;
    const mac = h.mac === undefined ? undefined : parseMac(h.mac);
    const ipNum = h.ip === undefined ? undefined : parseIp(h.ip);
    const role = (h.role === undefined || h.role === '' ? 'member' : h.role.toLowerCase()) as Role;
    let ok = true;
    if (mac === undefined) {
      input.push(`${at}: mac "${h.mac ?? ''}" is not a MAC address like 52:54:00:12:34:56`);
      ok = false;
    }
    if (ipNum === undefined) {
      input.push(`${at}: ip "${h.ip ?? ''}" is not an IPv4 address`);
      ok = false;
    }
    if (h.hostname === undefined || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(h.hostname)) {
      input.push(
        `${at}: hostname "${h.hostname ?? ''}" must be letters, digits and inner hyphens (RFC 1123)`,
      );
      ok = false;
    }
    if (!ROLES.includes(role)) {
      input.push(`${at}: role "${h.role ?? ''}" must be one of ${ROLES.join(', ')}`);
      ok = false;
    }
    if (!ok || mac === undefined || ipNum === undefined || h.hostname === undefined) continue;
    const ip = formatIp(ipNum);
    const dup = (map: Map<string, string>, key: string, what: string): void => {
      const first = map.get(key);
      if (first !== undefined) conflicts.push(`${at}: duplicate ${what} ${key} (also at ${first})`);
      else map.set(key, at);
    };
    dup(byMac, mac, 'MAC');
    dup(byIp, ip, 'IP');
    dup(byName, h.hostname.toLowerCase(), 'hostname');
    if (subnet && !inSubnet(ipNum, subnet))
      conflicts.push(`${at}: ip ${ip} is outside the subnet ${subnet.text}`);
    if (ipNum === server) conflicts.push(`${at}: ip ${ip} is the PXE server's own address`);
    if (ipNum === gateway) conflicts.push(`${at}: ip ${ip} is the gateway's address`);
    if (rangeNums && ipNum >= rangeNums[0] && ipNum <= rangeNums[1])
      conflicts.push(
        `${at}: ip ${ip} is inside the dynamic range ${range?.start ?? ''}-${range?.end ?? ''}, where dnsmasq may lease it to another machine`,
      );
    hosts.push({ mac, ip, hostname: h.hostname, role, where: at });
  }
  const masters = hosts.filter((h) => h.role === 'master');
  if (masters.length > 1)
    conflicts.push(`more than one master: ${masters.map((m) => `${m.hostname} (${m.where})`).join(', ')}`);
  if (input.length)
    throw new ToolError(ToolErrorCode.input, `${name} has ${input.length} problem(s):`, input);
  if (conflicts.length)
    throw new ToolError(ToolErrorCode.conflict, `${name} has ${conflicts.length} conflict(s):`, conflicts);
  if (!subnet || server === undefined || gateway === undefined) throw new Error('unreachable: checked above');
  const serverIp = formatIp(server);
  const installer: PxeInstaller = {
    url: pick('installerUrl', inst, 'url') ?? `http://${serverIp}/xcp-ng/`,
    answersUrl: pick('answersUrl', inst, 'answers_url') ?? `http://${serverIp}/answers/`,
    disk: pick('disk', inst) ?? 'sda',
    keymap: pick('keymap', inst) ?? 'us',
    timezone: pick('timezone', inst) ?? 'UTC',
    rootPasswordHash: pick('rootPasswordHash', inst, 'root_password_hash') ?? '!!',
    adminInterface: pick('adminInterface', inst, 'admin_interface') ?? 'eth0',
  };
  for (const u of [installer.url, installer.answersUrl])
    if (!/^(https?|ftp|nfs):\/\/\S+\/$/.test(u))
      throw new ToolError(ToolErrorCode.input, `installer URL "${u}" must be http(s)/ftp/nfs and end with /`);
  return {
    network: {
      interface: iface,
      server: serverIp,
      subnet,
      gateway: formatIp(gateway),
      dns: dns.length ? dns : [formatIp(gateway)],
      ...(domain === undefined ? {} : { domain }),
      ...(range ? { range } : {}),
    },
    installer,
    hosts,
  };
}
