import {
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { XenlabError } from '../../errors/index.js';

/** Where the learner's PXE server configuration lives, relative to their home. */
export const PXE_CONFIG = 'pxe/dnsmasq.conf';

/** What a PXE boot needs from the learner's dnsmasq configuration. */
export interface PxeSettings {
  /** Host folder served over TFTP. */
  readonly tftpRoot: string;
  /** File the DHCP answer names (option 67), relative to the TFTP root. */
  readonly bootfile: string;
}

/**
 * Reads the two settings of a dnsmasq PXE configuration that QEMU's built-in DHCP/TFTP server honours:
 * `tftp-root=DIR` and `dhcp-boot=[tag:…,]FILE[,server…]` (dnsmasq(8) syntax), plus `enable-tftp`. Paths are as the
 * learner sees them (`/home/learner/…` or `~/…` inside the jail, `homeInJail`) and must stay inside their home.
 * @throws Error `SANDBOX_ERR_PXE_CONFIG` saying what is missing or wrong, in words a learner can act on.
 */
export function readPxeConfig(home: string, homeInJail: string): PxeSettings {
  const file = join(home, PXE_CONFIG);
  const fail = (why: string): never => {
    throw new XenlabError('SANDBOX_ERR_PXE_CONFIG', `~/${PXE_CONFIG}: ${why}`);
  };
  if (!existsSync(file)) fail('not found; write your dnsmasq configuration there');
  // The home is the learner's: the gateway (root) reads nothing through a link they made.
  if (!lstatSync(file).isFile()) fail('must be a plain file (not a link)');
  let text: string;
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    if (fstatSync(fd).size > 256 * 1024) fail('is over 256 KiB: that is not a dnsmasq configuration');
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  let tftpRoot: string | undefined;
  const boots: string[][] = [];
  let tftpEnabled = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    const value = eq < 0 ? '' : line.slice(eq + 1).trim();
    if (key === 'enable-tftp') tftpEnabled = true;
    else if (key === 'tftp-root') tftpRoot = value.split(',')[0]?.trim();
    else if (key === 'dhcp-boot') boots.push(value.split(',').map((f) => f.trim()));
  }
  // dhcp-boot=[tag:<tag>,]<filename>[,<servername>[,<server address>]]. QEMU's NIC ROM is iPXE, which a
  // chainloading configuration recognises by option 175 (`dhcp-match=set:ipxe,175`): take the line for tag ipxe,
  // else the first untagged one.
  const isTag = (f: string) => f.startsWith('tag:') || f.startsWith('net:');
  const chosen =
    boots.find((b) => b.some((f) => f === 'tag:ipxe' || f === 'net:ipxe')) ??
    boots.find((b) => !b.some(isTag) || b.every((f) => !isTag(f) || f.startsWith('tag:!')));
  const bootfile = chosen?.find((f) => f && !isTag(f));
  if (!tftpEnabled) fail('`enable-tftp` is missing, so nothing would serve the boot files');
  if (!tftpRoot) return fail('`tftp-root=` is missing');
  if (!bootfile) return fail('`dhcp-boot=` is missing (the file the host asks for first)');
  const mapped = tftpRoot.startsWith('~/')
    ? join(home, tftpRoot.slice(2))
    : tftpRoot === homeInJail || tftpRoot.startsWith(`${homeInJail}/`)
      ? join(home, tftpRoot.slice(homeInJail.length))
      : tftpRoot === home || tftpRoot.startsWith(`${home}/`) // a shell without the jail sees the real path
        ? tftpRoot
        : isAbsolute(tftpRoot)
          ? fail(`tftp-root ${tftpRoot} is outside your home (${homeInJail})`)
          : join(home, tftpRoot);
  const rel = relative(resolve(home), resolve(mapped));
  if (rel.startsWith('..')) fail(`tftp-root ${tftpRoot} is outside your home`);
  if (!existsSync(mapped) || !statSync(mapped).isDirectory()) fail(`tftp-root ${tftpRoot} is not a folder`);
  // A link anywhere on the way (~/pxe -> /root) must not take the root out of the home.
  const real = relative(realpathSync(home), realpathSync(mapped));
  if (real.startsWith('..') || isAbsolute(real))
    fail(`tftp-root ${tftpRoot} leads outside your home (a link?)`);
  if (/[,\s]/.test(mapped) || /[,\s]/.test(bootfile)) fail('paths may not contain commas or spaces');
  if (bootfile.includes('..')) fail(`dhcp-boot ${bootfile} leaves the TFTP root`);
  if (!existsSync(join(mapped, bootfile))) fail(`dhcp-boot names ${bootfile}, which is not in ${tftpRoot}`);
  return { tftpRoot: resolve(mapped), bootfile };
}

/** Most a TFTP root may hold when staged for a boot (a kernel, an initrd and menus fit many times over). */
export const TFTP_STAGE_MAX_BYTES = 1024 * 1024 * 1024;

/**
 * Copies the learner's TFTP root into `dest` (a folder of the driver's, emptied first) for QEMU to serve: plain
 * files and folders, at most {@link TFTP_STAGE_MAX_BYTES}. QEMU (root) serves the copy, so a link in the learner's
 * folder can not make it hand out a host file: a link is followed only to a plain file inside one of `trusted`
 * (folders every learner may read anyway, such as the Xen image the lab links its boot files from); other links
 * are skipped and named.
 * @returns the links skipped (paths relative to the root), for the learner's message.
 * @throws XenlabError `SANDBOX_ERR_PXE_CONFIG` when the folder is larger than the cap.
 */
export function stageTftpRoot(src: string, dest: string, trusted: readonly string[] = []): string[] {
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true, mode: 0o755 });
  const skipped: string[] = [];
  const roots = trusted.flatMap((t) => {
    try {
      return [realpathSync(t)];
    } catch {
      return []; // a trusted folder that is not there trusts nothing
    }
  });
  /** Where a link leads, when that is a plain file in a trusted folder; undefined otherwise. */
  const trustedTarget = (link: string): string | undefined => {
    try {
      const target = realpathSync(link);
      const inside = roots.some((r) => {
        const rel = relative(r, target);
        return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
      });
      return inside && lstatSync(target).isFile() ? target : undefined;
    } catch {
      return undefined; // a dangling link serves nothing
    }
  };
  let bytes = 0;
  const walk = (from: string, to: string, rel: string) => {
    for (const name of readdirSync(from)) {
      const at = join(from, name);
      const st = lstatSync(at);
      const r = rel ? `${rel}/${name}` : name;
      const target = st.isSymbolicLink() ? trustedTarget(at) : st.isFile() ? at : undefined;
      if (st.isDirectory()) {
        mkdirSync(join(to, name), { mode: 0o755 });
        walk(at, join(to, name), r);
      } else if (target !== undefined) {
        bytes += lstatSync(target).size;
        if (bytes > TFTP_STAGE_MAX_BYTES)
          throw new XenlabError(
            'SANDBOX_ERR_PXE_CONFIG',
            `your TFTP root holds more than ${String(TFTP_STAGE_MAX_BYTES >> 20)} MiB: keep only the boot files there`,
          );
        const fd = openSync(target, constants.O_RDONLY | constants.O_NOFOLLOW);
        try {
          copyFileSync(`/proc/self/fd/${String(fd)}`, join(to, name));
        } finally {
          closeSync(fd);
        }
      } else {
        skipped.push(r);
      }
    }
  };
  walk(src, dest, '');
  return skipped;
}

/** What identifies a PXE configuration: the dnsmasq file and every file served, by size and change time. */
export function pxeStamp(home: string, tftpRoot: string): string {
  const stat = (p: string) => {
    try {
      const st = lstatSync(p); // the learner's files: never through a link
      return `${String(st.size)}@${String(st.mtimeMs)}`;
    } catch {
      return 'missing'; // deliberate: a missing file is part of the stamp
    }
  };
  const files = readdirSync(tftpRoot).sort();
  return [stat(join(home, PXE_CONFIG)), ...files.map((f) => `${f}:${stat(join(tftpRoot, f))}`)].join('|');
}
