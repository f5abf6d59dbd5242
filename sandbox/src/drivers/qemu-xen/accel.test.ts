import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { measureHost } from '../../sessions/capacity.js';
import { KVM_BROKEN_FILE, autoAccel } from './accel.js';

const dirs: string[] = [];
const stateDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'xl-accel-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  delete process.env.XENLAB_XEN_ACCEL;
});

describe('the accelerator the qemu-xen driver picks, and the room plans with', () => {
  it('is KVM when /dev/kvm is usable and nothing says KVM fails to run Xen here', () => {
    process.env.XENLAB_XEN_ACCEL = 'kvm'; // as on a machine whose /dev/kvm opens
    expect(autoAccel(stateDir(), 'QEMU emulator version 7.2.15')).toBe('kvm');
  });

  it('is TCG once a boot found KVM cannot run Xen with this QEMU, whatever /dev/kvm says', () => {
    process.env.XENLAB_XEN_ACCEL = 'kvm';
    const d = stateDir();
    writeFileSync(join(d, KVM_BROKEN_FILE), 'QEMU emulator version 7.2.15');
    expect(autoAccel(d, 'QEMU emulator version 7.2.15')).toBe('tcg');
    // Another QEMU gets its own try.
    expect(autoAccel(d, 'QEMU emulator version 8.2.2')).toBe('kvm');
  });

  it("makes the room's capacity count Xen hosts as software-emulated on such a machine", () => {
    process.env.XENLAB_XEN_ACCEL = 'tcg';
    expect(measureHost().kvm).toBe(false);
    process.env.XENLAB_XEN_ACCEL = 'kvm';
    // Unless this machine's own marker says otherwise (the default state folder, for its installed QEMU).
    expect(measureHost().kvm).toBe(autoAccel() === 'kvm');
  });
});
