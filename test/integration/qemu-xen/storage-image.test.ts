// The storage node image (node `image: storage`, sandbox/images/storage/) booted in QEMU: what the lab "Lose a
// storage array" needs from it — the name and address from the kernel command line, the HA stack's tools, the
// kernel's DRBD module, a DRBD device on the data disk, the NFS server. Lean: one node, one boot.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../../sandbox/src/drivers/qemu-xen/agent.js';
import { findStorageImage, type StorageImage } from '../../../sandbox/src/drivers/qemu-xen/image.js';
import { storageQemuArgs } from '../../../sandbox/src/drivers/qemu-xen/storage-node.js';
import { detectAccel } from '../../../sandbox/src/drivers/qemu-xen/vm.js';
import { until } from './helpers.js';

function storageImageOrReason(): { image?: StorageImage; reason?: string } {
  if (spawnSync('qemu-system-x86_64', ['--version']).error)
    return { reason: 'qemu-system-x86_64 not installed' };
  try {
    return { image: findStorageImage() };
  } catch (err) {
    if (process.env.XENLAB_REQUIRE_XEN === '1') throw err;
    return { reason: (err as Error).message };
  }
}

const { image, reason } = storageImageOrReason();
if (reason) console.warn(`storage image tests skipped: ${reason}`);

describe.skipIf(!image)('storage node image (DRBD, corosync, Pacemaker, NFS in QEMU)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xl-st-'));
  let qemu: ChildProcess | undefined;
  let agent: AgentClient | undefined;
  const sh = async (script: string, timeoutMs = 60_000) => {
    if (!agent) throw new Error('no agent');
    return agent.exec(['sh', '-c', script], { timeoutMs });
  };

  beforeAll(async () => {
    if (!image) return;
    const data = join(dir, 'data.img');
    writeFileSync(data, '');
    truncateSync(data, 64 * 1024 * 1024);
    const boot = (accel: 'kvm' | 'tcg') => {
      const child = spawn(
        'qemu-system-x86_64',
        storageQemuArgs({
          image,
          runDir: dir,
          accel,
          hostname: 'storage-t',
          address: '10.13.0.21/24',
          hosts: [{ name: 'storage-u', address: '10.13.0.22' }],
          dataDisk: data,
          // A NIC with nothing behind it: eth0 exists and takes the address.
          nicArgs: ['-netdev', 'user,id=n0,restrict=on', '-device', 'virtio-net-pci,netdev=n0'],
        }),
        { stdio: 'ignore' },
      );
      let exited = false;
      child.once('exit', () => (exited = true));
      return { child, exited: () => exited };
    };
    // /dev/kvm can open and still not run this CPU model (seen here: "failed to set MSR 0x10a", QEMU aborts once its
    // sockets exist); the driver then falls back to software emulation, and so does this test.
    let accel = detectAccel();
    let vm = boot(accel);
    qemu = vm.child;
    await until(
      async () => {
        if (vm.exited() && accel === 'kvm') {
          agent?.close();
          agent = undefined;
          accel = 'tcg';
          vm = boot(accel);
          qemu = vm.child;
        }
        agent ??= await AgentClient.connect(join(dir, 'agent.sock')).catch(() => undefined);
        const up = await agent?.ping(2000).catch(() => undefined);
        return up?.ready ? true : undefined;
      },
      210_000,
      'the node ready',
    );
  }, 240_000);

  afterAll(() => {
    agent?.close();
    qemu?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes its name, address and the other nodes from the kernel command line', async () => {
    expect((await sh('uname -n')).stdout).toBe('storage-t\n');
    expect((await sh('ip -4 -o addr show dev eth0')).stdout).toMatch(/inet 10\.13\.0\.21\/24/);
    expect((await sh('getent hosts storage-u')).stdout).toMatch(/^10\.13\.0\.22\s+storage-u/);
  });

  it('has the HA stack: drbdadm, corosync, pacemaker, crm, the resource agents, the NFS server', async () => {
    const r = await sh(
      'drbdadm --version >/dev/null && corosync -v && pacemakerd --version && crm --version && ' +
        'command -v exportfs rpc.nfsd && ls /usr/lib/ocf/resource.d/linbit/drbd ' +
        '/usr/lib/ocf/resource.d/heartbeat/Filesystem /usr/lib/ocf/resource.d/heartbeat/nfsserver ' +
        '/usr/lib/ocf/resource.d/heartbeat/exportfs /usr/lib/ocf/resource.d/heartbeat/IPaddr2',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Corosync Cluster Engine/);
    expect(r.stdout).toMatch(/Pacemaker 2\./);
  });

  it('loads the kernel’s DRBD module and brings a resource up on the data disk, primary with a filesystem', async () => {
    const mod = await sh('modprobe drbd && cat /proc/drbd');
    expect(mod.code).toBe(0);
    expect(mod.stdout).toMatch(/^version: 8\.4\./m);
    // A resource whose peer is absent: metadata, up, forced primary, a filesystem that mounts.
    const res = [
      'resource t0 {',
      '  device /dev/drbd0; disk /dev/vdb; meta-disk internal;',
      '  on storage-t { address 10.13.0.21:7789; }',
      '  on storage-u { address 10.13.0.22:7789; }',
      '}',
    ].join('\n');
    const r = await sh(
      `cat > /etc/drbd.d/t0.res <<'EOF'\n${res}\nEOF\n` +
        'drbdadm create-md --force t0 >/dev/null 2>&1 && drbdadm up t0 && drbdadm primary --force t0 && ' +
        'mkfs.ext4 -q /dev/drbd0 && mkdir -p /mnt/t && mount /dev/drbd0 /mnt/t && echo ok > /mnt/t/f && ' +
        'cat /mnt/t/f && drbdadm role t0 && cat /proc/drbd',
      120_000,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^ok\nPrimary\/Unknown\n/);
    expect(r.stdout).toMatch(/cs:(StandAlone|WFConnection) ro:Primary\/Unknown ds:UpToDate\/DUnknown/);
  }, 150_000);
});
