// Shared by the qemu-xen tests: whether they can run here, and small polling helpers (no sleeps).
import { spawnSync } from 'node:child_process';
import {
  findStorageImage,
  findXenImage,
  type StorageImage,
  type XenImage,
} from '../../../sandbox/src/drivers/qemu-xen/index.js';
import type { TerminalProcess } from '../../../sandbox/src/drivers/types.js';
import { stripAnsi } from '../../helpers/terminal-client.js';

/**
 * The built image, or why these tests can not run here (no QEMU, no image). CI builds the image first
 * (.ci/run); set XENLAB_REQUIRE_XEN=1 to turn a missing image into a failure instead of a skip.
 */
export function xenImageOrReason(): { image?: XenImage; reason?: string } {
  if (spawnSync('qemu-system-x86_64', ['--version']).error)
    return { reason: 'qemu-system-x86_64 not installed' };
  try {
    return { image: findXenImage() };
  } catch (err) {
    if (process.env.XENLAB_REQUIRE_XEN === '1') throw err;
    return { reason: (err as Error).message };
  }
}

/**
 * For environments of several machines on a private network: both images (the Xen host's and the storage node's),
 * or why these tests can not run here (as {@link xenImageOrReason}, plus no storage image, or not root).
 */
export function machineImagesOrReason(): { image?: XenImage; storage?: StorageImage; reason?: string } {
  const { image, reason } = xenImageOrReason();
  let storage: StorageImage | undefined;
  let why = reason;
  if (image) {
    try {
      storage = findStorageImage();
    } catch (err) {
      if (process.env.XENLAB_REQUIRE_XEN === '1') throw err;
      why = (err as Error).message;
    }
  }
  if (process.getuid?.() !== 0) why ??= 'a private network needs root';
  return {
    ...(image ? { image } : {}),
    ...(storage ? { storage } : {}),
    ...(why === undefined ? {} : { reason: why }),
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `ms` saying what it waited for. */
export async function until<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${String(ms)} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Everything a terminal prints, as text without colour codes. */
export function collect(term: TerminalProcess): { text: () => string } {
  let out = '';
  term.onData((d) => {
    out += d.toString('utf8');
  });
  return { text: () => stripAnsi(out) };
}
