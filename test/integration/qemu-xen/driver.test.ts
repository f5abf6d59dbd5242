// The qemu-xen driver against a real Xen 4.17 host in QEMU (TCG here: one VM at a time, generous deadlines; a hang
// fails at its timeout). What a learner and a check see: dom0's console as the terminal, `exec` in dom0 without
// touching that console, a PV guest started with `xl create`, warm starts from the saved template, snapshots,
// resets.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQemuXenDriver, reapOrphans } from '../../../sandbox/src/drivers/qemu-xen/index.js';
import type { Sandbox, SandboxDriver } from '../../../sandbox/src/drivers/types.js';
import { collect, until, xenImageOrReason } from './helpers.js';

const { image, reason } = xenImageOrReason();
if (reason) console.warn(`qemu-xen tests skipped: ${reason}`);

describe.skipIf(!image)('qemu-xen driver (a real Xen host in QEMU)', () => {
  let driver: SandboxDriver;
  let env: Sandbox;
  const home = mkdtempSync(join(tmpdir(), 'xenlab-qx-test-'));

  beforeAll(async () => {
    if (!image) return;
    driver = createQemuXenDriver({ image });
    // Warm when a template exists; otherwise a cold boot (up to minutes under load) that saves one.
    env = await driver.create({ id: 'it-main', home });
  }, 360_000);

  afterAll(async () => {
    await env.destroy();
    rmSync(home, { recursive: true, force: true });
  }, 60_000);

  it('exec runs in dom0: xl sees Domain-0 and the image’s Xen version, the hostname is the host’s', async () => {
    const list = await env.exec(['xl', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^Domain-0\s+0\s+\d+\s+1\s/m);
    const info = await env.exec(['xl', 'info']);
    expect(info.stdout).toMatch(
      new RegExp(`^xen_version\\s+: ${image?.xenVersion.replace(/\./g, '\\.') ?? ''}$`, 'm'),
    );
    expect(info.stdout).toMatch(/^xen_scheduler\s+: credit2$/m);
    const host = await env.exec(['hostname']);
    expect(host.stdout).toBe('xenhost\n');
    // xenstore answers (xenstored runs): dom0's name is in it.
    const xs = await env.exec(['xenstore-read', '/local/domain/0/name']);
    expect(xs.stdout.trim()).toBe('Domain-0');
  });

  it('exec reports exit codes, stderr, stdin, a missing command, and kills a command at its timeout', async () => {
    const r = await env.exec(['sh', '-c', 'cat; echo oops >&2; exit 3'], { input: 'from stdin\n' });
    expect(r).toEqual({ code: 3, stdout: 'from stdin\n', stderr: 'oops\n', timedOut: false });
    const missing = await env.exec(['no-such-command']);
    expect(missing.code).toBe(127);
    expect(missing.stderr).toMatch(/no-such-command/);
    const t0 = Date.now();
    const slow = await env.exec(['sh', '-c', 'sleep 120 & sleep 120'], { timeoutMs: 2000 });
    expect(slow.timedOut).toBe(true);
    expect(slow.code).toBeNull();
    expect(Date.now() - t0).toBeLessThan(20_000);
    // The whole session went, background job included.
    const left = await env.exec(['sh', '-c', 'pgrep -x sleep || true']);
    expect(left.stdout.trim()).toBe('');
  }, 60_000);

  it('the terminal is a root shell on dom0’s console, and checks never type into it', async () => {
    const term = env.attachTerminal({ cols: 100, rows: 30 });
    const out = collect(term);
    await until(() => (/root@xenhost:.*# /.test(out.text()) ? true : undefined), 30_000, 'the dom0 prompt');
    term.write('echo TERM-$((40+2)); tty\r');
    await until(() => (/TERM-42\r?\n\/dev\/hvc0/.test(out.text()) ? true : undefined), 30_000, 'the echo');
    const before = out.text().length;
    await env.exec(['xl', 'list']);
    // The check ran through the agent: nothing new on the learner's console.
    expect(out.text().slice(before)).not.toMatch(/Domain-0/);
    // The terminal's size reaches dom0's tty (full-screen programs fit the browser).
    term.resize(132, 43);
    await until(
      async () =>
        (await env.exec(['stty', '-F', '/dev/hvc0', 'size'])).stdout.trim() === '43 132' ? true : undefined,
      20_000,
      'stty size 43 132',
    );
    term.kill();
  }, 90_000);

  it('xl create starts a PV guest that reaches its shell and answers on xenbr0, an Open vSwitch bridge as on XCP', async () => {
    const cfg = [
      'name = "guest1"',
      'type = "pv"',
      'memory = 128',
      'vcpus = 1',
      'kernel = "/root/vmlinux-domU.gz"',
      'ramdisk = "/root/domU-initrd.cpio.gz"',
      'extra = "console=hvc0 quiet"',
      "vif = [ 'bridge=xenbr0' ]",
      '',
    ].join('\n');
    await env.exec(['sh', '-c', 'cat > /root/guest1.cfg'], { input: cfg });
    const created = await env.exec(['xl', 'create', '/root/guest1.cfg'], { timeoutMs: 120_000 });
    expect(created.code, created.stderr).toBe(0);
    await until(
      async () =>
        (await env.exec(['cat', '/var/log/xen/console/guest-guest1.log'])).stdout.includes('DOMU-READY')
          ? true
          : undefined,
      120_000,
      'the guest’s DOMU-READY line',
    );
    const list = await env.exec(['xl', 'list']);
    expect(list.stdout).toMatch(/^guest1\s+1\s+128\s+1\s/m);
    const ping = await env.exec(['busybox', 'ping', '-c', '1', '-W', '5', '192.168.100.2'], {
      timeoutMs: 30_000,
    });
    expect(ping.code, ping.stdout + ping.stderr).toBe(0);
    // The vif went in through vif-openvswitch (xl.conf's default script): a port of the OVS bridge xenbr0.
    const domid = (await env.exec(['xl', 'domid', 'guest1'])).stdout.trim();
    expect((await env.exec(['ovs-vsctl', 'port-to-br', `vif${domid}.0`])).stdout.trim()).toBe('xenbr0');
    expect((await env.exec(['xl', 'destroy', 'guest1'])).code).toBe(0);
  }, 300_000);

  it('snapshot and restore bring back dom0 as it was; reset gives a fresh host', async () => {
    await env.exec(['sh', '-c', 'echo kept > /root/marker']);
    const snap = await env.snapshot();
    await env.exec(['rm', '/root/marker']);
    await env.restore(snap);
    expect((await env.exec(['cat', '/root/marker'])).stdout).toBe('kept\n');
    // dom0's clock is set on restore, not left at the time the state was saved.
    const now = Number((await env.exec(['date', '+%s'])).stdout);
    expect(Math.abs(now - Date.now() / 1000)).toBeLessThan(30);
    await env.reset();
    const gone = await env.exec(['test', '-e', '/root/marker']);
    expect(gone.code).toBe(1);
    rmSync(snap.ref, { recursive: true, force: true });
  }, 240_000);

  it('a second environment starts from the saved state in seconds, not a boot', async () => {
    const t0 = Date.now();
    const other = await driver.create({ id: 'it-second', home });
    const took = Date.now() - t0;
    try {
      expect((await other.exec(['xl', 'list'])).stdout).toMatch(/Domain-0/);
      // Measured 2–4 s; a cold boot is 40–90 s here, so 20 s tells the two apart even on a loaded machine.
      expect(took).toBeLessThan(20_000);
      expect(await driver.list()).toEqual(expect.arrayContaining(['it-main', 'it-second']));
    } finally {
      await other.destroy();
    }
    expect(await driver.list()).not.toContain('it-second');
  }, 120_000);

  /** Whether a process runs. */
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  /** The QEMU pid of an environment's node: what its console terminal reports. */
  const qemuPid = (sandbox: Sandbox) => {
    const t = sandbox.attachTerminal({ cols: 80, rows: 24 });
    t.kill();
    return t.pid;
  };

  it('a gateway restart: detach saves the host and ends QEMU; the next gateway brings it back as it was', async () => {
    const h = await driver.create({ id: 'it-restart', home });
    await h.exec(['sh', '-c', 'echo before-restart > /root/marker']);
    const pid = qemuPid(h);
    expect(alive(pid)).toBe(true);
    await h.detach();
    // No 2 GB machine is left running meanwhile.
    await until(() => (alive(pid) ? undefined : true), 10_000, 'QEMU to end');
    const next = createQemuXenDriver(image ? { image } : {});
    expect(await next.list()).toContain('it-restart');
    const back = await next.create({ id: 'it-restart', home });
    try {
      expect((await back.exec(['cat', '/root/marker'])).stdout).toBe('before-restart\n');
    } finally {
      await back.destroy();
    }
    expect(await next.list()).not.toContain('it-restart');
  }, 240_000);

  it('a gateway killed outright: the next gateway ends the QEMU it left behind', async () => {
    const h = await driver.create({ id: 'it-orphan', home });
    const pid = qemuPid(h);
    // The gateway "dies": its run folder now names an owner that no longer runs (a finished process).
    const dead = spawnSync('true').pid;
    const runBase = readdirSync(tmpdir())
      .filter((e) => e.startsWith('xlq-'))
      .map((e) => join(tmpdir(), e))
      .find((d) =>
        readdirSync(d).some((v) => {
          try {
            return readFileSync(join(d, v, 'qemu.pid'), 'utf8') === String(pid);
          } catch {
            return false; // owner.pid, or a folder without a machine
          }
        }),
      );
    expect(runBase).toBeDefined();
    writeFileSync(join(runBase ?? '', 'owner.pid'), String(dead));
    expect(reapOrphans()).toBe(1);
    await until(() => (alive(pid) ? undefined : true), 10_000, 'the orphaned QEMU to end');
    await h.destroy();
  }, 120_000);
});
