/**
 * What the qemu-xen driver's modules share: the settings resolved once from the driver's options, the boot queue,
 * the measured boot times, the boot feeds of pages waiting, and the environments running. `createQemuXenDriver`
 * makes one {@link QemuXenContext} and hands it to each module explicitly.
 * @module
 */
import type { BootFeeds } from '../boot-progress.js';
import type { Sandbox, SandboxDriver } from '../types.js';
import type { BootQueue } from './boot.js';
import type { BootTimes } from './boot-times.js';
import type { StorageImage, XenImage } from './image.js';
import type { Accel, VmConfig } from './vm.js';

export interface QemuXenContext {
  readonly image: XenImage;
  /** Saved machine states: templates, snapshots, hibernated environments, boot times, the boot lock. */
  readonly stateDir: string;
  /** QEMU's version line (a saved state loads only into the same QEMU). */
  readonly version: string;
  /** The accelerator was left to the driver: it may fall back from KVM to TCG. */
  readonly autoAccel: boolean;
  /** Marker file: KVM did not run Xen with this QEMU version on this machine. */
  readonly kvmBroken: string;
  /** The accelerator now (auto mode switches to `tcg` for good when KVM does not run Xen). */
  accel: Accel;
  readonly memoryMb: number;
  readonly cpus: number;
  /** Longest a cold boot may take before it counts as hung. */
  readonly bootTimeoutMs: number;
  /** Start xen nodes from (and save) a template state instead of booting every time. */
  readonly warm: boolean;
  /** dom0's hostname on `xen` nodes. */
  readonly hostname: string;
  /** Environments running in this driver, by id. */
  readonly live: Map<string, Sandbox>;
  /** The local driver behind `local` nodes (the learner's workbench), made on first use. */
  local: SandboxDriver | undefined;
  readonly queue: BootQueue;
  readonly bootTimes: BootTimes;
  /** Creations in progress, for the page of the learner waiting for them (console from the first line, ETA). */
  readonly feeds: BootFeeds;
  /** Where detached environments' machines are saved until they are opened again. */
  readonly hibernateDir: string;
  /**
   * The storage node image (node `image: storage`), found when an environment first needs one.
   * @throws XenlabError `SANDBOX_ERR_NO_XEN_IMAGE` when it is not built.
   */
  readonly storageImage: () => StorageImage;
}

/** A name made safe for a file name. */
export const safe = (s: string): string => s.replace(/[^A-Za-z0-9_.-]/g, '_');

/** The configuration of a VM of this driver in `runDir`. */
export const vmConfig = (ctx: QemuXenContext, runDir: string, boot: VmConfig['boot']): VmConfig => ({
  image: ctx.image,
  runDir,
  accel: ctx.accel,
  memoryMb: ctx.memoryMb,
  cpus: ctx.cpus,
  boot,
});
