/**
 * `xenlab image build --xen`: builds the qemu-xen driver's image (sandbox/images/xen/build.sh). The `image` command
 * (sandbox/src/cli/image.ts) hands over to {@link runXenImageBuild} when it sees `--xen`.
 * @module
 */
import { parseArgs } from 'node:util';
import { buildXenImage, DEFAULT_XEN_CACHE, findXenImage } from './image.js';

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

/** Runs `xenlab image build --xen` with the arguments after `--xen` removed; resolves with the exit code. */
export async function runXenImageBuild(argv: readonly string[], io: XenCliIo): Promise<number> {
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
    io.err(`xenlab image build --xen: ${(err as Error).message}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(XEN_IMAGE_HELP);
    return 0;
  }
  if (positionals[0] !== 'build' || positionals.length !== 1) {
    io.err(XEN_IMAGE_HELP);
    return 2;
  }
  if (process.getuid?.() !== 0) {
    io.err('xenlab image build --xen: must run as root (debootstrap and chroot need it)');
    return 2;
  }
  if (values.mirror !== undefined) process.env.MIRROR = values.mirror;
  const out = values.out ?? DEFAULT_XEN_CACHE;
  const t0 = Date.now();
  const code = await buildXenImage({
    out,
    force: values.force === true,
    onLine: (l) => {
      io.out(l);
    },
  });
  if (code !== 0) {
    io.err(`xenlab image build --xen: the build failed (exit ${String(code)})`);
    return 1;
  }
  const image = findXenImage(out);
  io.out(
    `Xen ${image.xenVersion}, kernel ${image.kernelRelease}: ${image.dir} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
  return 0;
}
