import { describe, expect, it } from 'vitest';
import type { XenImage } from './image.js';
import { qemuArgs, xenCommandLine } from './vm.js';

const image: XenImage = {
  dir: '/img',
  key: 'k',
  xen: '/img/xen',
  vmlinux: '/img/vmlinux',
  vmlinuz: '/img/vmlinuz',
  rootDisk: '/img/root.ext4',
  diskInit: '/img/diskinit.cpio.gz',
  rootfsGz: '/img/root.cpio.gz',
  xenVersion: '4.17.7',
  kernelRelease: '6.1.0-56-amd64',
};
const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('qemuArgs', () => {
  it('boots the image under TCG with the CPU flags and Xen options nested Xen needs', () => {
    const a = qemuArgs({
      image,
      runDir: '/r',
      accel: 'tcg',
      memoryMb: 2048,
      cpus: 2,
      boot: { kind: 'image', hostname: 'xenhost' },
    });
    expect(after(a, '-cpu')).toBe('max,-smap,-rdtscp');
    expect(after(a, '-kernel')).toBe('/img/xen');
    expect(after(a, '-append')).toMatch(/bootscrub=false/);
    expect(after(a, '-append')).toMatch(/dom0_mem=1024M,max:1024M/);
    expect(after(a, '-initrd')).toBe(
      '/img/vmlinux console=hvc0 quiet xenlab.hostname=xenhost,/img/diskinit.cpio.gz',
    );
    expect(a).toContain('-no-reboot');
    expect(a.join(' ')).toMatch(/virtserialport,bus=vser\.0,chardev=agent,name=org\.xenlab\.agent/);
    expect(a.join(' ')).toMatch(/file=\/img\/root\.ext4,.*readonly=on/);
  });

  it('PXE-boots from the TFTP folder and boot file it is given, with no kernel of its own', () => {
    const a = qemuArgs({
      image,
      runDir: '/r',
      accel: 'kvm',
      memoryMb: 2048,
      cpus: 2,
      boot: { kind: 'pxe', tftpRoot: '/h/tftp', bootfile: 'boot.ipxe' },
    });
    expect(after(a, '-netdev')).toBe('user,id=n0,tftp=/h/tftp,bootfile=boot.ipxe');
    expect(after(a, '-boot')).toBe('n');
    expect(a).not.toContain('-kernel');
    expect(after(a, '-cpu')).toBe('host');
  });

  it('refuses a hostname that would break the kernel command line', () => {
    expect(() =>
      qemuArgs({
        image,
        runDir: '/r',
        accel: 'tcg',
        memoryMb: 2048,
        cpus: 2,
        boot: { kind: 'image', hostname: 'a,b' },
      }),
    ).toThrow(/SANDBOX_ERR_BAD_HOSTNAME/);
  });

  it('gives dom0 1 GiB when there is room, less on a small VM', () => {
    expect(xenCommandLine(2048)).toMatch(/dom0_mem=1024M/);
    expect(xenCommandLine(1536)).toMatch(/dom0_mem=768M/);
  });
});
