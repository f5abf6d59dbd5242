/**
 * The `qemu-xen` sandbox driver: each environment is a real Xen host (Xen 4.17 and a Debian dom0) inside QEMU, with
 * KVM when this machine offers it and software emulation (TCG) otherwise. The learner's terminal is dom0's console;
 * `exec` runs in dom0 through a small agent on a virtio-serial port. A new environment starts from a saved machine
 * state (a template saved after the first cold boot), so the learner waits seconds instead of a boot.
 *
 * Node kinds (the `image` of a {@link NodeSpec}): `xen` (default) boots the prepared image; `pxe` is a bare machine
 * that PXE-boots from the learner's `~/pxe/dnsmasq.conf` when its console is opened or a check runs on it; `local`
 * is a shell on this machine (the local driver's jail) where the learner writes that configuration.
 *
 * The files beside this one hold each concern: context (what they share), boot and boot-times (starting machines,
 * the ETA), node (a node's machine), warm (templates), pxe-boot and firmware-console (PXE machines), console
 * (terminals), environment (bringing one up), sandbox, saved-states (snapshots, hibernation) and cleanup (run
 * folders, orphans).
 * @module
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BootFeeds, type BootWatchable } from '../boot-progress.js';
import type { Sandbox, SandboxDriver } from '../types.js';
import { BootQueue, qemuVersion } from './boot.js';
import { BootTimes } from './boot-times.js';
import { reapOrphans } from './cleanup.js';
import type { QemuXenContext } from './context.js';
import { createSandbox } from './environment.js';
import {
  DEFAULT_XEN_CACHE,
  findStorageImage,
  findXenImage,
  type StorageImage,
  type XenImage,
} from './image.js';
import { hibernatedIds } from './saved-states.js';
import { HOSTNAME_RE, type Accel } from './vm.js';
import { KVM_BROKEN_FILE, autoAccel as autoAccelHere } from './accel.js';
import { bootEstimate } from './warm.js';
import { XenlabError } from '../../errors/index.js';

export { buildXenImage, findXenImage, DEFAULT_XEN_CACHE, type XenImage } from './image.js';
export { autoAccel } from './accel.js';
export { findStorageImage, DEFAULT_STORAGE_CACHE, type StorageImage } from './image.js';
export { PRIVATE_PREFIX, netnsExists } from './network.js';
export { readPxeConfig, PXE_CONFIG } from './pxe.js';
export { detectAccel, qemuArgs, xenCommandLine, XenVm, type Accel, type VmConfig } from './vm.js';
export { reapOrphans } from './cleanup.js';

export interface QemuXenDriverOptions {
  /** Image cache folder ({@link DEFAULT_XEN_CACHE}); its `current` image is used unless `image` is given. */
  readonly cacheDir?: string;
  readonly image?: XenImage;
  /** Saved machine states (templates, snapshots); `<cacheDir>/states` by default. */
  readonly stateDir?: string;
  /** `auto` (default): KVM when /dev/kvm is usable, else TCG. */
  readonly accel?: 'auto' | Accel;
  /** Guest RAM in MiB (default 2048: dom0 gets 1024, the rest is for domUs). */
  readonly memoryMb?: number;
  /** Virtual CPUs (default 2). */
  readonly cpus?: number;
  /** Longest a cold boot may take before it counts as hung (default 240 s; measured 30–75 s under TCG). */
  readonly bootTimeoutMs?: number;
  /** Start from (and save) a template state instead of booting every time (default true). */
  readonly warm?: boolean;
  /** dom0's hostname on `xen` nodes (default `xenhost`; on a private network, the node's name). */
  readonly hostname?: string;
  /** The storage node image (node `image: storage`); the current one of `storageCacheDir` by default. */
  readonly storageImage?: StorageImage;
  /** Storage image cache folder ({@link DEFAULT_STORAGE_CACHE}). */
  readonly storageCacheDir?: string;
}

/**
 * Creates the qemu-xen driver.
 * @throws Error `SANDBOX_ERR_NO_XEN_IMAGE` when no image is built, `SANDBOX_ERR_NO_QEMU` without QEMU.
 * @example
 * const driver = createQemuXenDriver();
 * const env = await driver.create({ id: 'alice/xen-under-the-hood', home: '/srv/homes/alice' });
 * const r = await env.exec(['xl', 'list']);   // runs in dom0
 */
export function createQemuXenDriver(options: QemuXenDriverOptions = {}): SandboxDriver & BootWatchable {
  const ctx = resolveContext(options);
  reapOrphans();

  const creating = new Map<string, Promise<Sandbox>>();
  return {
    name: 'qemu-xen',
    jailed: true,
    notice: undefined,
    create(spec) {
      const existing = ctx.live.get(spec.id);
      if (existing) return Promise.resolve(existing);
      let p = creating.get(spec.id);
      if (!p) {
        p = createSandbox(ctx, spec)
          .then((s) => {
            ctx.live.set(spec.id, s);
            return s;
          })
          .finally(() => creating.delete(spec.id));
        creating.set(spec.id, p);
      }
      return p;
    },
    watchBoot: (id, listener) => ctx.feeds.watch(id, listener),
    bootEstimateMs: () => bootEstimate(ctx),
    list() {
      // Running here, and saved by an earlier gateway (opened again, they resume).
      const ids = new Set(ctx.live.keys());
      for (const id of hibernatedIds(ctx)) ids.add(id);
      return Promise.resolve([...ids]);
    },
  };
}

/** The driver's settings from its options and this machine, and its state folders made. */
function resolveContext(options: QemuXenDriverOptions): QemuXenContext {
  const cacheDir = options.cacheDir ?? DEFAULT_XEN_CACHE;
  const image = options.image ?? findXenImage(cacheDir);
  const stateDir = options.stateDir ?? join(cacheDir, 'states');
  const autoAccel = options.accel === undefined || options.accel === 'auto';
  const version = qemuVersion();
  // Remembered per machine and QEMU version, so every driver after the first skips the failing KVM attempt.
  const kvmBroken = join(stateDir, KVM_BROKEN_FILE);
  const accel: Accel = autoAccel ? autoAccelHere(stateDir, version) : options.accel;
  const hostname = options.hostname ?? 'xenhost';
  if (!HOSTNAME_RE.test(hostname))
    throw new XenlabError('SANDBOX_ERR_BAD_HOSTNAME', `'${hostname}' is not a hostname`);
  mkdirSync(join(stateDir, 'templates'), { recursive: true });
  mkdirSync(join(stateDir, 'snapshots'), { recursive: true });
  const hibernateDir = join(stateDir, 'hibernated');
  let storage: StorageImage | undefined;
  const ctx: QemuXenContext = {
    image,
    stateDir,
    version,
    autoAccel,
    kvmBroken,
    accel,
    memoryMb: options.memoryMb ?? 2048,
    cpus: options.cpus ?? 2,
    bootTimeoutMs: options.bootTimeoutMs ?? 240_000,
    warm: options.warm ?? true,
    hostname,
    live: new Map(),
    local: undefined,
    queue: new BootQueue(join(stateDir, 'boot.lock')),
    bootTimes: new BootTimes(join(stateDir, 'boot-times.json')),
    feeds: new BootFeeds(),
    hibernateDir,
    storageImage: () => (storage ??= options.storageImage ?? findStorageImage(options.storageCacheDir)),
  };
  mkdirSync(hibernateDir, { recursive: true });
  return ctx;
}
