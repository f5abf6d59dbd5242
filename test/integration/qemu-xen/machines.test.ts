// Multi-machine qemu-xen environments (#13): three machines of one environment (a Xen host and two storage nodes)
// on their private network, booted in parallel, reach each other by name and nothing else; a second environment's
// machine cannot reach them; machine faults (link, power, disk) as a learner's lab plays them; destroy leaves no
// QEMU, tap, bridge or namespace behind. Lean: the machines boot once and serve every assertion.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQemuXenDriver, netnsExists } from '../../../sandbox/src/drivers/qemu-xen/index.js';
import type { Sandbox, SandboxDriver } from '../../../sandbox/src/drivers/types.js';
import { machineFaultApplier } from '../../../sandbox/src/lab-runtime/machine-faults.js';
import { machineImagesOrReason, until } from './helpers.js';

const { image, storage, reason: why } = machineImagesOrReason();
if (why) console.warn(`qemu-xen machine tests skipped: ${why}`);

/** The QEMU pids of an environment's run folder (its `qemu.pid` files), read from /proc by their netns. */
function qemuPidsIn(netns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8').startsWith('qemu-system');
      } catch {
        return false; // ended meanwhile
      }
    });
}

/**
 * The network namespace an environment's machines run in: the one holding `node`'s QEMU (its console terminal reports
 * QEMU's pid). Found by pid, as other environments on this machine (other tests, other labs) have namespaces too.
 */
function netnsOf(env: Sandbox, node: string): string {
  const term = env.attachTerminal({ cols: 80, rows: 24 }, node);
  const pid = term.pid;
  term.kill();
  return spawnSync('ip', ['netns', 'identify', String(pid)], { encoding: 'utf8' }).stdout.trim();
}

/** ping from a node, 2 tries; the exit code says whether an answer came. */
const ping = (env: Sandbox, node: string, to: string) =>
  env.exec(
    [
      'sh',
      '-c',
      `if command -v ping >/dev/null; then ping -c 2 -W 2 ${to}; else busybox ping -c 2 -W 2 ${to}; fi`,
    ],
    { node, timeoutMs: 20_000 },
  );

/** Environment B: one storage node alone on its own network, with a small data disk. */
const B_NODES = [{ name: 'other', image: 'storage', nics: 1, disks: [{ name: 'data', sizeMb: 16 }] }];

describe.skipIf(why !== undefined)('qemu-xen: machines of an environment on a private network', () => {
  let driver: SandboxDriver;
  let a: Sandbox;
  let b: Sandbox;
  let netnsA = '';
  let netnsB = '';
  const home = mkdtempSync(join(tmpdir(), 'xenlab-qm-test-'));

  beforeAll(async () => {
    driver = createQemuXenDriver({
      ...(image ? { image } : {}),
      ...(storage ? { storageImage: storage } : {}),
    });
    // Three machines in well under 2 GiB; they boot in parallel (the Xen host from its template once one exists).
    a = await driver.create({
      id: 'it-machines-a',
      home,
      nodes: [
        { name: 'xen-1', image: 'xen', memoryMb: 1200 },
        { name: 'storage-a', image: 'storage', memoryMb: 350, disks: [{ name: 'drbd', sizeMb: 64 }] },
        { name: 'storage-b', image: 'storage', memoryMb: 350 },
      ],
    });
    b = await driver.create({
      id: 'it-machines-b',
      home,
      nodes: B_NODES,
    });
    netnsA = netnsOf(a, 'xen-1');
    netnsB = netnsOf(b, 'other');
  }, 600_000);

  afterAll(async () => {
    await (a as Sandbox | undefined)?.destroy();
    await (b as Sandbox | undefined)?.destroy();
    rmSync(home, { recursive: true, force: true });
  }, 120_000);

  it('the machines resolve and ping each other by name, Xen host included', async () => {
    expect(netnsA).toMatch(/^xlq-/);
    const names = await a.exec(['sh', '-c', 'hostname; getent hosts storage-a storage-b xen-1'], {
      node: 'xen-1',
    });
    expect(names.stdout).toMatch(/^xen-1\n/);
    expect(names.stdout).toMatch(/^10\.77\.0\.12\s+storage-a$/m);
    expect(names.stdout).toMatch(/^10\.77\.0\.13\s+storage-b$/m);
    const fromXen = await ping(a, 'xen-1', 'storage-a');
    expect(fromXen.stdout).toMatch(/2 packets transmitted, 2 (packets )?received/);
    const fromStorage = await ping(a, 'storage-b', 'xen-1');
    expect(fromStorage.code).toBe(0);
    expect((await ping(a, 'storage-a', 'storage-b')).code).toBe(0);
  }, 120_000);

  it(
    "each machine's console prompt shows its own name, a Xen host loaded from the template included",
    { timeout: 90_000 },
    async () => {
      // The template's shell started as the driver's default host (xenhost); bash reads its name once, at start.
      for (const node of ['xen-1', 'storage-a']) {
        const term = a.attachTerminal({ cols: 120, rows: 40 }, node);
        let out = '';
        term.onData((d) => (out += d.toString('utf8')));
        const mine = new RegExp(`root@${node}\\b`);
        try {
          for (let i = 0; i < 10 && !mine.test(out.slice(-2000)); i++) {
            term.write('\r');
            await new Promise((r) => setTimeout(r, 2_000));
          }
          expect(out.slice(-2000)).toMatch(mine);
        } finally {
          term.kill();
        }
      }
    },
  );

  it('nothing else is reachable: no route out, and another environment’s machine cannot reach these', async () => {
    const route = await a.exec(['ip', 'route'], { node: 'storage-a' });
    expect(route.stdout).not.toMatch(/default/);
    expect((await ping(a, 'storage-a', '10.0.2.2')).code).not.toBe(0);
    // Environment B's only machine has A's first address range: A's machines are not on its segment.
    expect((await b.exec(['hostname'], { node: 'other' })).stdout.trim()).toBe('other');
    expect((await ping(b, 'other', '10.77.0.12')).code).not.toBe(0);
    expect((await ping(b, 'other', '10.77.0.13')).code).not.toBe(0);
    expect(netnsB).not.toBe(netnsA);
  }, 120_000);

  it('link-down cuts a machine off its segment, link-up brings it back', async () => {
    await a.machineFault?.({ kind: 'link-down', target: 'storage-b/eth0' });
    const carrier = await a.exec(['cat', '/sys/class/net/eth0/carrier'], { node: 'storage-b' });
    expect(carrier.stdout.trim()).toBe('0');
    expect((await ping(a, 'storage-a', 'storage-b')).code).not.toBe(0);
    await a.machineFault?.({ kind: 'link-up', target: 'storage-b/eth0' });
    await until(
      async () => ((await ping(a, 'storage-a', 'storage-b')).code === 0 ? true : undefined),
      30_000,
      'storage-b answering again',
    );
    // A NIC the machine does not have is refused with a code.
    await expect(a.machineFault?.({ kind: 'link-down', target: 'storage-b/eth3' })).rejects.toMatchObject({
      code: 'SANDBOX_ERR_BAD_FAULT',
    });
  }, 120_000);

  it('disk-errors: the guest kernel gets EIO from the data disk; disk-ok: it works again', async () => {
    const io = 'dd if=/dev/vdb of=/dev/null bs=4k count=1 iflag=direct 2>&1; cat /sys/block/vdb/serial';
    // Through the lab runtime's applier, as a lab's button would.
    const apply = machineFaultApplier(
      () => Promise.reject(new Error('not a machine fault')),
      () => a,
    );
    await apply({ kind: 'disk-errors', target: 'storage-a/drbd', trigger: 'setup' });
    const bad = await a.exec(['sh', '-c', io], { node: 'storage-a' });
    expect(bad.stdout).toMatch(/Input\/output error/);
    expect(bad.stdout).toMatch(/drbd$/m);
    const dmesg = await a.exec(['sh', '-c', 'dmesg | grep -c "I/O error, dev vdb"'], { node: 'storage-a' });
    expect(Number(dmesg.stdout.trim())).toBeGreaterThan(0);
    await apply({ kind: 'disk-ok', target: 'storage-a/drbd', trigger: 'setup' });
    const good = await a.exec(['sh', '-c', io], { node: 'storage-a' });
    expect(good.stdout).not.toMatch(/error/);
    await expect(
      apply({ kind: 'disk-errors', target: 'storage-a/nope', trigger: 'setup' }),
    ).rejects.toMatchObject({ code: 'LAB_ERR_FAULT' });
  }, 120_000);

  it('power off pulls the plug (QEMU gone), power on brings the machine back with its data disk as it was', async () => {
    const mark = 'printf XENLAB-DISK-MARK | dd of=/dev/vdb bs=512 count=1 conv=sync oflag=direct 2>/dev/null';
    expect((await a.exec(['sh', '-c', mark], { node: 'storage-a' })).code).toBe(0);
    expect(qemuPidsIn(netnsA)).toHaveLength(3);
    await a.machineFault?.({ kind: 'machine-power-off', target: 'storage-a' });
    expect(qemuPidsIn(netnsA)).toHaveLength(2);
    expect((await ping(a, 'xen-1', 'storage-a')).code).not.toBe(0);
    // A check on it finds it off; it does not power it on.
    const off = await a.exec(['true'], { node: 'storage-a' });
    expect(off.stderr).toMatch(/^SANDBOX_ERR_POWERED_OFF: storage-a is powered off/);
    expect(qemuPidsIn(netnsA)).toHaveLength(2);
    await a.machineFault?.({ kind: 'machine-power-on', target: 'storage-a' });
    expect(qemuPidsIn(netnsA)).toHaveLength(3);
    const back = await a.exec(
      ['sh', '-c', 'dd if=/dev/vdb bs=512 count=1 iflag=direct 2>/dev/null | head -c 16'],
      {
        node: 'storage-a',
      },
    );
    expect(back.stdout).toBe('XENLAB-DISK-MARK');
    await until(
      async () => ((await ping(a, 'xen-1', 'storage-a')).code === 0 ? true : undefined),
      30_000,
      'storage-a answering after power-on',
    );
  }, 300_000);

  it('a gateway restart: detach saves the machine and its data disk, the next driver brings both back', async () => {
    const mark = 'printf XENLAB-KEPT | dd of=/dev/vdb bs=512 count=1 conv=sync oflag=direct 2>/dev/null';
    expect((await b.exec(['sh', '-c', mark], { node: 'other' })).code).toBe(0);
    await b.exec(['sh', '-c', 'echo in-ram > /root/ram-marker'], { node: 'other' });
    await b.detach();
    expect(netnsExists(netnsB)).toBe(false);
    const next = createQemuXenDriver({
      ...(image ? { image } : {}),
      ...(storage ? { storageImage: storage } : {}),
    });
    b = await next.create({ id: 'it-machines-b', home, nodes: B_NODES });
    netnsB = netnsOf(b, 'other');
    expect(netnsB).toMatch(/^xlq-/);
    const r = await b.exec(
      [
        'sh',
        '-c',
        'cat /root/ram-marker; dd if=/dev/vdb bs=512 count=1 iflag=direct 2>/dev/null | head -c 11',
      ],
      { node: 'other' },
    );
    expect(r.stdout).toBe('in-ram\nXENLAB-KEPT');
    // Back on its private network with its address.
    expect((await b.exec(['ip', '-br', 'addr', 'show', 'eth0'], { node: 'other' })).stdout).toMatch(
      /UP\s+10\.77\.0\.11\/24/,
    );
  }, 240_000);

  it('destroy leaves no QEMU, tap, bridge or namespace behind', async () => {
    const pids = qemuPidsIn(netnsA);
    expect(pids).toHaveLength(3);
    await a.destroy();
    await b.destroy();
    expect(netnsExists(netnsA)).toBe(false);
    expect(netnsExists(netnsB)).toBe(false);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    // Taps and bridges lived only in the namespaces: none leaked into this host's.
    const links = spawnSync('ip', ['-o', 'link'], { encoding: 'utf8' }).stdout;
    expect(links).not.toMatch(/: t\dn\d[@:]/);
  }, 120_000);
});
