import { describe, expect, it } from 'vitest';
import type { XenImage } from './image.js';
import { XenVm, machineShape, qemuArgs, topologyArgs, xenCommandLine } from './vm.js';

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

  it('PXE-boots from the TFTP folder and boot file it is given, with no kernel of its own, on a network of DHCP and TFTP only, its firmware on the console', () => {
    const a = qemuArgs({
      image,
      runDir: '/r',
      accel: 'kvm',
      memoryMb: 2048,
      cpus: 2,
      boot: { kind: 'pxe', tftpRoot: '/h/tftp', bootfile: 'boot.ipxe' },
    });
    // restrict=on: no route to this machine's loopback (10.0.2.2) or beyond, from a dom0 where the learner is root.
    expect(after(a, '-netdev')).toBe('user,id=n0,restrict=on,tftp=/h/tftp,bootfile=boot.ipxe');
    expect(after(a, '-machine')).toBe('q35,graphics=off');
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

  it('keeps the one-node command line of every earlier machine when no NUMA nodes or scheduler are asked for', () => {
    const base = { image, runDir: '/r', accel: 'tcg' as const, memoryMb: 2048, cpus: 2 };
    const a = qemuArgs({ ...base, boot: { kind: 'image', hostname: 'xenhost' } });
    expect(after(a, '-smp')).toBe('2');
    expect(a).not.toContain('-numa');
    expect(after(a, '-append')).not.toMatch(/sched=/);
    // One node asked for is the same machine (its saved template keeps loading).
    expect(qemuArgs({ ...base, numaNodes: 1, boot: { kind: 'image', hostname: 'xenhost' } })).toEqual(a);
  });

  it('presents two NUMA nodes, one socket, one CPU and half the RAM each, and tells Xen its scheduler', () => {
    const a = qemuArgs({
      image,
      runDir: '/r',
      accel: 'tcg',
      memoryMb: 2048,
      cpus: 2,
      numaNodes: 2,
      xenScheduler: 'credit',
      boot: { kind: 'image', hostname: 'xenhost' },
    });
    expect(after(a, '-smp')).toBe('2,sockets=2,cores=1,threads=1');
    expect(after(a, '-m')).toBe('2048');
    const objects = a.flatMap((x, i) => (x === '-object' ? [a[i + 1]] : []));
    const numa = a.flatMap((x, i) => (x === '-numa' ? [a[i + 1]] : []));
    expect(objects).toEqual([
      'memory-backend-ram,id=numa0,size=1024M',
      'memory-backend-ram,id=numa1,size=1024M',
    ]);
    expect(numa).toEqual(['node,nodeid=0,cpus=0,memdev=numa0', 'node,nodeid=1,cpus=1,memdev=numa1']);
    expect(after(a, '-append')).toMatch(/^sched=credit /);
    // dom0 keeps its single vCPU (see xenCommandLine).
    expect(after(a, '-append')).toMatch(/dom0_max_vcpus=1/);
  });

  it('splits odd RAM and several CPUs per node so the nodes add up to the machine', () => {
    const a = topologyArgs(4, 2049, 2);
    expect(a.slice(0, 2)).toEqual(['-smp', '4,sockets=2,cores=2,threads=1']);
    expect(a).toContain('memory-backend-ram,id=numa0,size=1024M');
    expect(a).toContain('memory-backend-ram,id=numa1,size=1025M');
    expect(a).toContain('node,nodeid=1,cpus=2-3,memdev=numa1');
  });

  it('refuses NUMA nodes the CPUs or RAM cannot be split into', () => {
    expect(() => topologyArgs(3, 2048, 2)).toThrow(/SANDBOX_ERR_BAD_NODE/);
    expect(() => topologyArgs(2, 400, 2)).toThrow(/SANDBOX_ERR_BAD_NODE/);
  });

  it('tells a hibernated machine without NUMA or a scheduler from one with them, and old records from neither', () => {
    const plain = machineShape({});
    expect(machineShape({ numaNodes: 1 })).toBe(plain);
    expect(machineShape({ numaNodes: 2 })).not.toBe(plain);
    expect(machineShape({ xenScheduler: 'credit' })).not.toBe(plain);
    expect(machineShape({ numaNodes: 2, xenScheduler: 'credit' })).not.toBe(machineShape({ numaNodes: 2 }));
  });
});

describe('XenVm.waitReady', () => {
  it('lets the event loop run while the VM is gone, so a QEMU that died during the boot is seen at once (not a frozen gateway until the boot timeout)', async () => {
    // QEMU just died: its agent and monitor sockets answer every request at once, with failures; the exit event of
    // the process is still a macrotask away.
    let exitCode: number | null | undefined;
    const vm = Object.assign(Object.create(XenVm.prototype) as object, {
      config: { runDir: '/nonexistent' },
      consoleChunks: [],
      stderr: '',
      agentClient: { isClosed: false, ping: () => Promise.resolve(undefined) },
      qmp: { execute: () => Promise.reject(new Error('closed')) },
    }) as unknown as XenVm;
    Object.defineProperty(vm, 'exitCode', {
      get: () => exitCode,
    });
    let ticks = 0;
    const tick = setInterval(() => ticks++, 10);
    setTimeout(() => (exitCode = null), 100);
    const t = Date.now();
    const err = await vm.waitReady(3000).then(
      () => new Error('ready'),
      (e: unknown) => e as Error,
    );
    clearInterval(tick);
    expect(err.message).toMatch(/stopped while booting/);
    expect(Date.now() - t).toBeLessThan(1500);
    expect(ticks).toBeGreaterThan(3);
  });
});
