/**
 * `xenlab image build --xen` / `--storage`: builds the qemu-xen driver's images (sandbox/images/xen/build.sh, the
 * storage node's sandbox/images/storage/build.sh). The `image` command (sandbox/src/cli/image.ts) hands over to
 * {@link runXenImageBuild} / {@link runStorageImageBuild} when it sees `--xen` / `--storage`.
 * @module
 */
import { parseArgs } from 'node:util';
import {
  buildStorageImage,
  buildXenImage,
  DEFAULT_STORAGE_CACHE,
  DEFAULT_XEN_CACHE,
  findStorageImage,
  findXenImage,
  type BuildXenImageOptions,
} from './image.js';

/** Where the CLI writes (the same shape as the `xenlab` command table's CliIo). */
export interface XenCliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** Help text of `xenlab image build --xen`. */
export const XEN_IMAGE_HELP = `usage: xenlab image build --xen [--out DIR] [--mirror URL] [--force]

Builds the nested-Xen lab image for the qemu-xen sandbox driver from Debian's packages: Xen 4.17, a Debian
kernel (uncompressed for dom0), a dom0 initramfs with the xl toolstack and the exec agent, a busybox domU.
The slow part (downloads, debootstrap, ~2-4 min) is cached; a run with nothing changed does nothing. Needs root.

  --out DIR      image cache (default ${DEFAULT_XEN_CACHE}, or $XENLAB_XEN_CACHE)
  --mirror URL   Debian mirror for debootstrap (default: the host's apt source)
  --force        rebuild everything`;

/** Help text of `xenlab image build --storage`. */
export const STORAGE_IMAGE_HELP = `usage: xenlab image build --storage [--out DIR] [--mirror URL] [--force]

Builds the storage node image (node \`image: storage\` of qemu-xen labs) from Debian's packages: Debian's kernel
(DRBD is one of its modules), a root disk with drbd-utils, corosync, pacemaker, crmsh, resource-agents and
nfs-kernel-server, a small init and the exec agent. The slow part (downloads, debootstrap, apt: ~3-5 min) is
cached; a run with nothing changed does nothing. Needs root.

  --out DIR      image cache (default ${DEFAULT_STORAGE_CACHE}, or $XENLAB_STORAGE_CACHE)
  --mirror URL   Debian mirror for debootstrap (default: the host's apt source)
  --force        rebuild everything`;

/** What differs between the two image builds. */
interface ImageKind {
  readonly flag: string;
  readonly help: string;
  readonly defaultOut: string;
  readonly build: (o: BuildXenImageOptions) => Promise<number>;
  readonly describe: (out: string) => string;
}

const XEN_KIND: ImageKind = {
  flag: '--xen',
  help: XEN_IMAGE_HELP,
  defaultOut: DEFAULT_XEN_CACHE,
  build: buildXenImage,
  describe: (out) => {
    const image = findXenImage(out);
    return `Xen ${image.xenVersion}, kernel ${image.kernelRelease}: ${image.dir}`;
  },
};

const STORAGE_KIND: ImageKind = {
  flag: '--storage',
  help: STORAGE_IMAGE_HELP,
  defaultOut: DEFAULT_STORAGE_CACHE,
  build: buildStorageImage,
  describe: (out) => {
    const image = findStorageImage(out);
    return `storage node, kernel ${image.kernelRelease}: ${image.dir}`;
  },
};

/** Runs `xenlab image build --xen` with the arguments after `--xen` removed; resolves with the exit code. */
export function runXenImageBuild(argv: readonly string[], io: XenCliIo): Promise<number> {
  return runImageBuild(XEN_KIND, argv, io);
}

/** Runs `xenlab image build --storage` with `--storage` removed; resolves with the exit code. */
export function runStorageImageBuild(argv: readonly string[], io: XenCliIo): Promise<number> {
  return runImageBuild(STORAGE_KIND, argv, io);
}

async function runImageBuild(kind: ImageKind, argv: readonly string[], io: XenCliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        mirror: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`xenlab image build ${kind.flag}: ${(err as Error).message}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(kind.help);
    return 0;
  }
  if (positionals[0] !== 'build' || positionals.length !== 1) {
    io.err(kind.help);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    io.err(`xenlab image build ${kind.flag}: must run as root (debootstrap and chroot need it)`);
    return 2;
  }
  if (values.mirror !== undefined) process.env.MIRROR = values.mirror;
  const out = values.out ?? kind.defaultOut;
  const t0 = Date.now();
  const code = await kind.build({
    out,
    force: values.force === true,
    onLine: (l) => {
      io.out(l);
    },
  });
  if (code !== 0) {
    io.err(`xenlab image build ${kind.flag}: the build failed (exit ${String(code)})`);
    return 1;
  }
  io.out(`${kind.describe(out)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return 0;
}
