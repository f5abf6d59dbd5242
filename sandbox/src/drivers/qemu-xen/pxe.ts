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
import { readDnsmasq } from '@xenlab/toolkit/tools';
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

/** Most the configuration files together may hold, and how many files (includes) are read. */
const CONFIG_MAX_BYTES = 256 * 1024;
const CONFIG_MAX_FILES = 64;

/**
 * Reads what a dnsmasq PXE configuration does for the host's iPXE ROM, with the toolkit's reader of dnsmasq
 * configuration (`xenlab-tools pxe --check`, so the driver serves what the lab's checks judge): TFTP on, its root,
 * and the boot file a client carrying the iPXE tags (`dhcp-match=…,175`, `dhcp-userclass=…,iPXE`) is offered —
 * every spelling dnsmasq accepts, comments, `conf-file=`/`conf-dir=` includes. QEMU's built-in DHCP/TFTP server then
 * plays dnsmasq with those two settings. Paths are as the learner sees them (`/home/learner/…`, `~/…`, `$HOME/…`
 * inside the jail, `homeInJail`; relative ones from the home) and must stay inside their home: the gateway (root)
 * reads the configuration and its includes as plain files only, never through a link, 256 KiB and 64 files at most.
 * @throws Error `SANDBOX_ERR_PXE_CONFIG` saying what is missing or wrong, in words a learner can act on.
 */
export function readPxeConfig(home: string, homeInJail: string): PxeSettings {
  const fail = (why: string): never => {
    throw new XenlabError('SANDBOX_ERR_PXE_CONFIG', `~/${PXE_CONFIG}: ${why}`);
  };
  const file = join(home, PXE_CONFIG);
  if (!existsSync(file)) fail('not found; write your dnsmasq configuration there');
  /** A path the learner wrote (jail or real), as a path on this machine inside the home; undefined outside. */
  const onHost = (p: string): string | undefined => {
    const mapped =
      p === homeInJail || p.startsWith(`${homeInJail}/`)
        ? join(home, p.slice(homeInJail.length))
        : p === home || p.startsWith(`${home}/`) // a shell without the jail sees the real path
          ? p
          : undefined;
    if (mapped === undefined) return undefined;
    const rel = relative(resolve(home), resolve(mapped));
    return rel.startsWith('..') || isAbsolute(rel) ? undefined : mapped;
  };
  let bytes = 0;
  let files = 0;
  const eff = readDnsmasq(
    `${homeInJail}/${PXE_CONFIG}`,
    {
      read: (p) => {
        const at = onHost(p);
        if (at === undefined) throw new Error(`${p} is outside your home`);
        if (++files > CONFIG_MAX_FILES)
          throw new Error(`more than ${String(CONFIG_MAX_FILES)} files are included`);
        if (!lstatSync(at).isFile()) throw new Error(`${p} must be a plain file (not a link)`);
        const fd = openSync(at, constants.O_RDONLY | constants.O_NOFOLLOW);
        try {
          bytes += fstatSync(fd).size;
          if (bytes > CONFIG_MAX_BYTES)
            throw new Error('over 256 KiB in all: that is not a dnsmasq configuration');
          return readFileSync(fd, 'utf8');
        } finally {
          closeSync(fd);
        }
      },
      list: (p) => {
        const at = onHost(p);
        if (at === undefined || !existsSync(at) || !lstatSync(at).isDirectory()) return undefined;
        return readdirSync(at);
      },
    },
    homeInJail,
  );
  // Each problem names where it was met (file:line) and what; the top file's own path says nothing new.
  if (eff.problems.length > 0)
    fail(
      eff.problems
        .map((x) => x.replace(`${homeInJail}/${PXE_CONFIG}: `, '').replaceAll(`${homeInJail}/`, '~/'))
        .join('; '),
    );
  const tftpRoot = eff.tftpRoot;
  // QEMU's NIC ROM is iPXE: it carries whatever tags mark iPXE clients; without any it gets the untagged offer.
  const offer = eff.bootFor(new Set(eff.ipxeTags));
  if (offer !== undefined && 'ambiguous' in offer)
    return fail(
      `dhcp-boot: ${offer.ambiguous.map((b) => b.file).join(' and ')} are both offered to iPXE clients; keep one`,
    );
  const bootfile = offer?.file.replace(/^\/+/, '');
  if (!eff.tftpEnabled) fail('`enable-tftp` is missing, so nothing would serve the boot files');
  if (!tftpRoot) return fail('`tftp-root=` is missing');
  if (!bootfile) return fail('`dhcp-boot=` is missing (the file the host asks for first)');
  const shown = tftpRoot.replace(homeInJail, '~');
  const mapped = onHost(tftpRoot) ?? fail(`tftp-root ${shown} is outside your home (${homeInJail})`);
  if (!existsSync(mapped) || !statSync(mapped).isDirectory()) fail(`tftp-root ${shown} is not a folder`);
  // A link anywhere on the way (~/pxe -> /root) must not take the root out of the home.
  const real = relative(realpathSync(home), realpathSync(mapped));
  if (real.startsWith('..') || isAbsolute(real)) fail(`tftp-root ${shown} leads outside your home (a link?)`);
  if (/[,\s]/.test(mapped) || /[,\s]/.test(bootfile)) fail('paths may not contain commas or spaces');
  if (bootfile.includes('..')) fail(`dhcp-boot ${bootfile} leaves the TFTP root`);
  if (!existsSync(join(mapped, bootfile))) fail(`dhcp-boot names ${bootfile}, which is not in ${shown}`);
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
