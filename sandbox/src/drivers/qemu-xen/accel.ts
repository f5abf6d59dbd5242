/**
 * Which accelerator the qemu-xen driver uses on this machine in its default (`auto`) mode, for the driver itself and
 * for whoever plans around it (the room's capacity): KVM when /dev/kvm opens, unless an earlier boot found that KVM
 * here cannot run the nested Xen ("KVM internal error", or QEMU aborting on an MSR the host refuses) — a marker the
 * driver writes once per machine and QEMU version, after which every start goes straight to TCG.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { qemuVersion } from './boot.js';
import { DEFAULT_XEN_CACHE } from './image.js';
import { detectAccel, type Accel } from './vm.js';

/** The marker's name in the driver's state folder; it holds the QEMU version line it was found with. */
export const KVM_BROKEN_FILE = 'kvm-does-not-run-xen';

/**
 * The accelerator in auto mode: TCG when the marker in `stateDir` names this QEMU's version, else
 * {@link detectAccel} (which honours `XENLAB_XEN_ACCEL`). Without QEMU: what /dev/kvm says.
 * @example
 * const host = { ...measured, kvm: autoAccel() === 'kvm' };
 */
export function autoAccel(stateDir = join(DEFAULT_XEN_CACHE, 'states'), version?: string): Accel {
  let v = version;
  if (v === undefined)
    try {
      v = qemuVersion();
    } catch {
      return detectAccel();
    }
  const marker = join(stateDir, KVM_BROKEN_FILE);
  return existsSync(marker) && readFileSync(marker, 'utf8') === v ? 'tcg' : detectAccel();
}
