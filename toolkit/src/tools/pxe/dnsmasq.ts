/**
 * A reader of dnsmasq configuration files that answers what the configuration *does* for a PXE boot, whatever
 * spelling it uses: the option lines of every file (`conf-file=` and `conf-dir=` followed), then the effective
 * settings — TFTP on and its root, which DHCP tags mark iPXE clients, the boot file a client with given tags is
 * offered, and the fixed host entries. Syntax errors are `dnsmasq --test`'s business; this reads what parses.
 *
 * dnsmasq(8) facts used: a line is `option` or `option=value` (spaces around `=` allowed; no leading `--`);
 * `#` outside double quotes starts a comment; `enable-tftp[=<interface>,…]`; `tftp-root=<dir>[,<interface>]`;
 * `dhcp-match=set:<tag>,<option number>|option:<number or name>[,<value>]` (older `net:<tag>,` and a bare
 * `<tag>,` mean set too); `dhcp-userclass=set:<tag>,<user class>` (iPXE sends user class "iPXE"); `dhcp-boot=
 * [tag:<tag>,…]<filename>[,<servername>[,<server address>|<tftp servername>]]`, where a tagged line whose tags all
 * match wins over an untagged one; the boot file may also come from `dhcp-option[-force]=…,67|option:bootfile-name,
 * <file>`; `dhcp-host=` fields in any order: MAC addresses, `id:`, `set:`/`tag:`, an IPv4 address, `[IPv6]`, a lease
 * time, `ignore`, and the host name; `conf-dir=<dir>[,<ext to skip>…|,*<ext to take>…]`.
 *
 * One liberty: `~`, `$HOME` and `${HOME}` at the start of a path are read as the home directory given (the lab's
 * driver maps them so), where dnsmasq itself would take them literally; relative paths are taken from the home (the
 * folder dnsmasq would be started in).
 */
import { posix } from 'node:path';

/** One `option[=value]` line, where it came from. */
export interface DnsmasqLine {
  readonly key: string;
  readonly value: string;
  readonly file: string;
  readonly line: number;
}

/** How the reader reaches files (the tool's file access, or the driver's guarded reads). */
export interface DnsmasqFiles {
  read(path: string): string;
  /** Names in a folder; undefined when it is not one. */
  list(path: string): string[] | undefined;
}

/** A fixed host (`dhcp-host=`). */
export interface DnsmasqHost {
  readonly macs: readonly string[];
  readonly ip?: string;
  readonly name?: string;
  readonly sets: readonly string[];
  readonly ignore: boolean;
  readonly at: string;
}

/** A boot file offer. */
export interface DnsmasqBoot {
  readonly file: string;
  readonly server?: string;
  readonly address?: string;
  readonly at: string;
}

/** What a configuration does, as read. */
export interface DnsmasqEffective {
  readonly lines: readonly DnsmasqLine[];
  /** Problems the reader met (an include it could not read, an include loop). */
  readonly problems: readonly string[];
  readonly dnsPort: number;
  readonly tftpEnabled: boolean;
  /** `tftp-root` with `~`/`$HOME` expanded and no trailing slash; undefined when not set. */
  readonly tftpRoot?: string;
  /** Tags set on clients that are iPXE (option 175 present, or user class iPXE). */
  readonly ipxeTags: readonly string[];
  readonly hosts: readonly DnsmasqHost[];
  /** The boot file offered to a client carrying `tags` (undefined: none), or the lines that tie. */
  bootFor(
    tags: ReadonlySet<string>,
  ): DnsmasqBoot | { readonly ambiguous: readonly DnsmasqBoot[] } | undefined;
}

/** Strips a comment (a `#` outside double quotes) and surrounding blanks. */
function stripComment(raw: string): string {
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '"') quoted = !quoted;
    else if (c === '\\') i++;
    else if (c === '#' && !quoted) return raw.slice(0, i).trim();
  }
  return raw.trim();
}

/** `~`, `$HOME`, `${HOME}` at the start of a path, then no trailing slash (except `/` itself). */
export function expandPath(path: string, home: string, base = home): string {
  let p = path.trim().replace(/^"(.*)"$/, '$1');
  const m = /^(~|\$HOME|\$\{HOME\})(?=\/|$)/.exec(p);
  if (m) p = home + p.slice(m[0].length);
  if (!p.startsWith('/')) p = posix.join(base, p);
  p = posix.normalize(p);
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/** Reads every option line of a configuration, following `conf-file=` and `conf-dir=` (at most 16 files deep). */
export function readDnsmasqLines(
  path: string,
  files: DnsmasqFiles,
  home: string,
): { lines: DnsmasqLine[]; problems: string[] } {
  const lines: DnsmasqLine[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string, depth: number, from?: string) => {
    if (seen.has(file)) {
      problems.push(`${from ?? file}: includes ${file} again (a loop)`);
      return;
    }
    if (depth > 16) {
      problems.push(`${from ?? file}: includes nest deeper than 16 files`);
      return;
    }
    seen.add(file);
    let text: string;
    try {
      text = files.read(file);
    } catch (e) {
      const msg = (e as Error).message;
      problems.push(`${from ?? file}: ${msg.includes(file) ? msg : `cannot read ${file}: ${msg}`}`);
      return;
    }
    text.split('\n').forEach((raw, i) => {
      const at = `${file}:${String(i + 1)}`;
      const l = stripComment(raw);
      if (l === '') return;
      const eq = l.indexOf('=');
      const key = (eq < 0 ? l : l.slice(0, eq)).trim();
      const value = eq < 0 ? '' : l.slice(eq + 1).trim();
      if (key === 'conf-file') {
        visit(expandPath(value, home), depth + 1, at);
        return;
      }
      if (key === 'conf-dir') {
        const [d = '', ...filters] = value.split(',').map((f) => f.trim());
        const folder = expandPath(d, home);
        const take = filters.filter((f) => f.startsWith('*')).map((f) => f.slice(1));
        const skip = filters.filter((f) => !f.startsWith('*'));
        const names = files.list(folder);
        if (names === undefined) {
          problems.push(`${at}: conf-dir ${d} is not a folder`);
          return;
        }
        for (const n of [...names].sort()) {
          if (n.startsWith('.') || n.endsWith('~') || (n.startsWith('#') && n.endsWith('#'))) continue;
          if (take.length > 0 ? !take.some((t) => n.endsWith(t)) : skip.some((s) => n.endsWith(s))) continue;
          visit(posix.join(folder, n), depth + 1, at);
        }
        return;
      }
      lines.push({ key, value, file, line: i + 1 });
    });
  };
  visit(path, 0);
  return { lines, problems };
}

const MAC_RE = /^(\d+-)?([0-9a-f*]{1,2}[:-]){5}[0-9a-f*]{1,2}$/i;
const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const LEASE_RE = /^(infinite|\d+[smhdw]?|deprecated)$/i;

/** A MAC as dnsmasq compares them: lower case, colons. */
export function normaliseMac(mac: string): string {
  return mac
    .replace(/^\d+-(?=([0-9a-f*]{1,2}[:-]){5})/i, '')
    .replace(/-/g, ':')
    .toLowerCase();
}

function parseHost(value: string, at: string): DnsmasqHost {
  const macs: string[] = [];
  const sets: string[] = [];
  let ip: string | undefined;
  let name: string | undefined;
  let ignore = false;
  for (const raw of value.split(',')) {
    const f = raw.trim();
    if (f === '') continue;
    if (MAC_RE.test(f)) macs.push(normaliseMac(f));
    else if (f.startsWith('set:') || f.startsWith('net:')) sets.push(f.slice(4));
    else if (f.startsWith('tag:') || f.startsWith('id:')) continue;
    else if (IPV4_RE.test(f)) ip = f;
    else if (f.startsWith('[')) continue;
    else if (f.toLowerCase() === 'ignore') ignore = true;
    else if (LEASE_RE.test(f)) continue;
    else name = f;
  }
  return {
    macs,
    sets,
    ignore,
    at,
    ...(ip !== undefined ? { ip } : {}),
    ...(name !== undefined ? { name } : {}),
  };
}

/** Splits `tag:`/`net:` conditions off the front of an option value. */
function tagsAndRest(value: string): { need: string[]; not: string[]; rest: string[] } {
  const fields = value.split(',').map((f) => f.trim());
  const need: string[] = [];
  const not: string[] = [];
  while (fields.length > 0 && /^(tag|net):/.test(fields[0] ?? '')) {
    const t = (fields.shift() ?? '').slice(4);
    if (t.startsWith('!') || t.startsWith('#')) not.push(t.slice(1));
    else need.push(t);
  }
  return { need, not, rest: fields };
}

/** The effective PXE/DHCP settings of a configuration file and its includes. */
export function readDnsmasq(path: string, files: DnsmasqFiles, home: string): DnsmasqEffective {
  const { lines, problems } = readDnsmasqLines(path, files, home);
  const at = (l: DnsmasqLine) => `${l.file}:${String(l.line)}`;
  let dnsPort = 53;
  let tftpEnabled = false;
  let tftpRoot: string | undefined;
  const ipxeTags = new Set<string>();
  const hosts: DnsmasqHost[] = [];
  const boots: { need: string[]; not: string[]; boot: DnsmasqBoot }[] = [];
  for (const l of lines) {
    switch (l.key) {
      case 'port':
        dnsPort = Number(l.value);
        break;
      case 'enable-tftp':
        tftpEnabled = true;
        break;
      case 'tftp-root': {
        const dir = l.value.split(',')[0] ?? '';
        if (dir !== '') tftpRoot = expandPath(dir, home);
        break;
      }
      case 'dhcp-match': {
        // set:<tag>,<option>[,<value>] — iPXE sends option 175 (its encapsulated options)
        const f = l.value.split(',').map((x) => x.trim());
        const tag = (f[0] ?? '').replace(/^(set|net):/, '');
        const opt = (f[1] ?? '').replace(/^option:/, '');
        if (tag !== '' && opt === '175' && f.length === 2) ipxeTags.add(tag);
        break;
      }
      case 'dhcp-userclass': {
        const f = l.value.split(',').map((x) => x.trim());
        const tag = (f[0] ?? '').replace(/^(set|net):/, '');
        if (tag !== '' && f[1] === 'iPXE') ipxeTags.add(tag);
        break;
      }
      case 'dhcp-boot': {
        const { need, not, rest } = tagsAndRest(l.value);
        const [file = '', server, address] = rest;
        if (file !== '')
          boots.push({
            need,
            not,
            boot: {
              file,
              at: at(l),
              ...(server ? { server } : {}),
              ...(address ? { address } : {}),
            },
          });
        break;
      }
      case 'dhcp-option':
      case 'dhcp-option-force': {
        const { need, not, rest } = tagsAndRest(l.value);
        const [opt, file] = rest;
        if ((opt === '67' || opt === 'option:bootfile-name') && file)
          boots.push({ need, not, boot: { file: file.replace(/^"(.*)"$/, '$1'), at: at(l) } });
        break;
      }
      case 'dhcp-host':
        hosts.push(parseHost(l.value, at(l)));
        break;
      default:
        break;
    }
  }
  const bootFor: DnsmasqEffective['bootFor'] = (tags) => {
    const matches = (b: (typeof boots)[number]) =>
      b.need.every((t) => tags.has(t)) && b.not.every((t) => !tags.has(t));
    // A line with tags that all match wins over an untagged one (dnsmasq's find_boot: tagged first).
    for (const tagged of [true, false]) {
      const found = boots.filter((b) => b.need.length + b.not.length > 0 === tagged && matches(b));
      const files = new Set(found.map((b) => b.boot.file));
      if (files.size === 1) return found[found.length - 1]?.boot;
      if (files.size > 1) return { ambiguous: found.map((b) => b.boot) };
    }
    return undefined;
  };
  return {
    lines,
    problems,
    dnsPort,
    tftpEnabled,
    ...(tftpRoot !== undefined ? { tftpRoot } : {}),
    ipxeTags: [...ipxeTags],
    hosts,
    bootFor,
  };
}

/** Describes a boot offer for the `--check` report. */
function describeBoot(b: ReturnType<DnsmasqEffective['bootFor']>): string {
  if (b === undefined) return '(none)';
  if ('ambiguous' in b)
    return `ambiguous: ${b.ambiguous.map((x) => `${x.file} (${x.at})`).join(', ')} all match`;
  return `${b.file}${b.address ? ` from ${b.address}` : ''} (${b.at})`;
}

/**
 * The `pxe --check` report: one `key: value` line per effective setting, stable enough for a lab's script check to
 * compare whole lines (`grep -qx 'tftp: on'`), whichever spelling the file used.
 */
export function renderDnsmasqCheck(e: DnsmasqEffective): string {
  const out: string[] = [];
  out.push(`dns: ${e.dnsPort === 0 ? 'off' : `port ${String(e.dnsPort)}`}`);
  out.push(`tftp: ${e.tftpEnabled ? 'on' : 'off'}`);
  out.push(`tftp-root: ${e.tftpRoot ?? '(not set)'}`);
  out.push(`ipxe-tags: ${e.ipxeTags.length ? e.ipxeTags.join(',') : '(none)'}`);
  out.push(
    `boot ipxe: ${e.ipxeTags.length ? describeBoot(e.bootFor(new Set(e.ipxeTags))) : '(iPXE clients are not recognised)'}`,
  );
  out.push(`boot pxe: ${describeBoot(e.bootFor(new Set()))}`);
  for (const h of e.hosts)
    for (const mac of h.macs.length ? h.macs : ['(no mac)'])
      out.push(
        `host ${mac}: ${h.ignore ? 'ignored' : `ip ${h.ip ?? '(none)'} name ${h.name ?? '(none)'}`} (${h.at})`,
      );
  for (const p of e.problems) out.push(`problem: ${p}`);
  return `${out.join('\n')}\n`;
}
