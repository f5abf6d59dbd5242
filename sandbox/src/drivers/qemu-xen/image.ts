import { spawn } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XenlabError } from '../../errors/index.js';

/** Where `xenlab image build --xen` puts images unless told otherwise (survives between CI runs on one machine). */
export const DEFAULT_XEN_CACHE = process.env.XENLAB_XEN_CACHE ?? '/var/cache/xenlab/xen';

/** A built Xen lab image: absolute paths of its boot files, and what is in it. */
export interface XenImage {
  /** Folder of this image (`<cache>/<key>`). */
  readonly dir: string;
  /** Hash of the build inputs; saved VM states are only valid for the image with the same key. */
  readonly key: string;
  /** The hypervisor, a multiboot ELF. */
  readonly xen: string;
  /** dom0 kernel, uncompressed ELF (fast to load under TCG). */
  readonly vmlinux: string;
  /** dom0 kernel as Debian ships it (bzImage; smaller to send over TFTP). */
  readonly vmlinuz: string;
  /** dom0's root filesystem as an ext4 disk image (attached read-only; dom0 writes to a tmpfs overlay). */
  readonly rootDisk: string;
  /** The small initramfs that mounts {@link rootDisk} and starts dom0's /init from it. */
  readonly diskInit: string;
  /** dom0's root filesystem as a gzipped initramfs (for PXE, where there is no disk). */
  readonly rootfsGz: string;
  /** Xen version, e.g. `4.17.7`. */
  readonly xenVersion: string;
  /** Kernel release, e.g. `6.1.0-56-amd64`. */
  readonly kernelRelease: string;
}

interface Manifest {
  key: string;
  xenVersion: string;
  kernelRelease: string;
  files: Record<'xen' | 'vmlinux' | 'vmlinuz' | 'rootDisk' | 'diskInit' | 'rootfsGz', string>;
}

/** The build script, found relative to this module (same depth under src/ and dist/). */
export function xenImageBuildScript(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../images/xen/build.sh');
}

/**
 * Loads the current image of a cache folder (`<cache>/current/manifest.json`).
 * @throws Error `SANDBOX_ERR_NO_XEN_IMAGE` when none is built, with the command that builds one.
 */
export function findXenImage(cacheDir: string = DEFAULT_XEN_CACHE): XenImage {
  const current = join(cacheDir, 'current');
  const manifestPath = join(current, 'manifest.json');
  if (!existsSync(manifestPath)) {
    throw new XenlabError(
      'SANDBOX_ERR_NO_XEN_IMAGE',
      `no Xen lab image in ${cacheDir}; build one with \`sudo npx xenlab image build --xen\``,
    );
  }
  const dir = realpathSync(current);
  const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  const file = (name: keyof Manifest['files']) => {
    const p = join(dir, m.files[name]);
    if (!existsSync(p))
      throw new XenlabError('SANDBOX_ERR_NO_XEN_IMAGE', `${p} is missing; rebuild with --force`);
    return p;
  };
  return {
    dir,
    key: m.key,
    xen: file('xen'),
    vmlinux: file('vmlinux'),
    vmlinuz: file('vmlinuz'),
    rootDisk: file('rootDisk'),
    diskInit: file('diskInit'),
    rootfsGz: file('rootfsGz'),
    xenVersion: m.xenVersion,
    kernelRelease: m.kernelRelease,
  };
}

export interface BuildXenImageOptions {
  /** Cache folder; {@link DEFAULT_XEN_CACHE} when absent. */
  readonly out?: string;
  /** Rebuild even when an image with the same inputs exists. */
  readonly force?: boolean;
  /** Each line the build prints. */
  readonly onLine?: (line: string) => void;
}

/** Runs sandbox/images/xen/build.sh (needs root); resolves with its exit code. */
export function buildXenImage(options: BuildXenImageOptions = {}): Promise<number> {
  return runBuildScript(xenImageBuildScript(), options.out ?? DEFAULT_XEN_CACHE, options);
}

/** Where `xenlab image build --storage` puts the storage node image unless told otherwise. */
export const DEFAULT_STORAGE_CACHE = process.env.XENLAB_STORAGE_CACHE ?? '/var/cache/xenlab/storage';

/**
 * A built storage node image (node `image: storage`, sandbox/images/storage/): a small Debian machine with DRBD,
 * corosync, Pacemaker, resource-agents and the NFS server, booted by QEMU directly (no Xen).
 */
export interface StorageImage {
  /** Folder of this image (`<cache>/<key>`). */
  readonly dir: string;
  /** Hash of the build inputs. */
  readonly key: string;
  /** Debian's kernel (bzImage), QEMU's -kernel. */
  readonly vmlinuz: string;
  /** The root filesystem as an ext4 disk image: attach it read-only as the first virtio disk (/dev/vda). */
  readonly rootDisk: string;
  /** The initramfs that mounts {@link rootDisk} under a tmpfs overlay and starts the node's /init. */
  readonly diskInit: string;
  /** Kernel release, e.g. `6.1.0-57-amd64`. */
  readonly kernelRelease: string;
}

/** The storage image's build script (same depth under src/ and dist/). */
export function storageImageBuildScript(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../images/storage/build.sh');
}

/**
 * Loads the current storage node image of a cache folder (`<cache>/current/manifest.json`).
 * @throws Error `SANDBOX_ERR_NO_XEN_IMAGE` (the qemu-xen driver's images) when none is built, with the command that builds one.
 */
export function findStorageImage(cacheDir: string = DEFAULT_STORAGE_CACHE): StorageImage {
  const current = join(cacheDir, 'current');
  const manifestPath = join(current, 'manifest.json');
  if (!existsSync(manifestPath)) {
    throw new XenlabError(
      'SANDBOX_ERR_NO_XEN_IMAGE',
      `no storage node image in ${cacheDir}; build one with \`sudo npx xenlab image build --storage\``,
    );
  }
  const dir = realpathSync(current);
  const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    key: string;
    kernelRelease: string;
    files: Record<'vmlinuz' | 'rootDisk' | 'diskInit', string>;
  };
  const file = (name: 'vmlinuz' | 'rootDisk' | 'diskInit') => {
    const p = join(dir, m.files[name]);
    if (!existsSync(p))
      throw new XenlabError('SANDBOX_ERR_NO_XEN_IMAGE', `${p} is missing; rebuild with --force`);
    return p;
  };
  return {
    dir,
    key: m.key,
    vmlinuz: file('vmlinuz'),
    rootDisk: file('rootDisk'),
    diskInit: file('diskInit'),
    kernelRelease: m.kernelRelease,
  };
}

/** Runs sandbox/images/storage/build.sh (needs root); resolves with its exit code. */
export function buildStorageImage(options: BuildXenImageOptions = {}): Promise<number> {
  return runBuildScript(storageImageBuildScript(), options.out ?? DEFAULT_STORAGE_CACHE, options);
}

function runBuildScript(script: string, out: string, options: BuildXenImageOptions): Promise<number> {
  const args = [script, '--out', out];
  if (options.force) args.push('--force');
  return new Promise((resolvePromise) => {
    const child = spawn('bash', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    const onData = (d: Buffer) => {
      const lines = (rest + d.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) options.onLine?.(l);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => {
      options.onLine?.(`xenlab: cannot run bash: ${err.message}`);
      resolvePromise(1);
    });
    child.on('close', (code) => {
      if (rest) options.onLine?.(rest);
      resolvePromise(code ?? 1);
    });
  });
}
