// PXE provisioning with the qemu-xen driver: a bare machine boots from the learner's dnsmasq configuration and
// iPXE script (QEMU's built-in DHCP/TFTP serve them), and comes up as a Xen host with the hostname that script gave
// it. A broken configuration gives the learner a reason, not a hang.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createQemuXenDriver, xenCommandLine } from '../../../sandbox/src/drivers/qemu-xen/index.js';
import type { Sandbox } from '../../../sandbox/src/drivers/types.js';
import { collect, until, xenImageOrReason } from './helpers.js';

const { image } = xenImageOrReason();

describe.skipIf(!image)('qemu-xen PXE boot', () => {
  const home = mkdtempSync(join(tmpdir(), 'xenlab-qx-pxe-'));
  let env: Sandbox | undefined;

  afterAll(async () => {
    await env?.destroy();
    rmSync(home, { recursive: true, force: true });
  }, 60_000);

  it('a host with no configuration does not power on, and says what is missing', async () => {
    if (!image) return;
    const driver = createQemuXenDriver({ image });
    env = await driver.create({ id: 'it-pxe', home, nodes: [{ name: 'host', image: 'pxe' }] });
    const r = await env.exec(['hostname'], { node: 'host' });
    expect(r.code).toBeNull();
    expect(r.stderr).toMatch(/SANDBOX_ERR_PXE_CONFIG: ~\/pxe\/dnsmasq\.conf: not found/);
  });

  it('a boot that finds nothing to boot fails as soon as the firmware gives up, in iPXE’s words, and the learner watched it', async () => {
    if (!image || !env) return;
    const tftp = join(home, 'pxe', 'tftp');
    mkdirSync(tftp, { recursive: true });
    // An installer URL on QEMU's host address. A web server listens there on this machine's loopback: the PXE host
    // must not reach it (10.0.2.2 is this machine in QEMU's user network; only its DHCP and TFTP are the lab's).
    const requests: string[] = [];
    const web = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.end('#!ipxe\necho reached this machine\n');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const port = (web.address() as AddressInfo).port;
    writeFileSync(
      join(tftp, 'boot.ipxe'),
      `#!ipxe\nkernel http://10.0.2.2:${String(port)}/install/xen.gz || exit\nboot\n`,
    );
    writeFileSync(
      join(home, 'pxe', 'dnsmasq.conf'),
      'port=0\nenable-tftp\ntftp-root=/home/learner/pxe/tftp\ndhcp-boot=boot.ipxe\n',
    );
    const term = env.attachTerminal({ cols: 100, rows: 30 }, 'host');
    const out = collect(term);
    // Before: nothing on the console until SeaBIOS rebooted a minute later into QEMU's -no-reboot exit.
    const r = await env.exec(['hostname'], { node: 'host', timeoutMs: 30_000 }).finally(() => web.close());
    expect(r.code).toBeNull();
    expect(r.stderr).toMatch(
      new RegExp(
        `^QEMU_ERR_PXE_FAILED: the PXE boot failed \\(iPXE: http://10\\.0\\.2\\.2:${String(port)}/install/xen\\.gz\\.\\.\\. Connection reset \\(http://ipxe\\.org/[0-9a-f]{8}\\)\\)$`,
        'm',
      ),
    );
    expect(requests).toEqual([]);
    // The host's console showed the firmware at work — DHCP, the TFTP fetch of the script, the failure — and the
    // driver's line above it was not wiped by SeaBIOS's terminal reset.
    const seen = out.text();
    expect(seen).toMatch(/powering on host: PXE boot/);
    expect(seen).toContain('tftp://10.0.2.2/boot.ipxe... ok');
    expect(seen).toContain('No bootable device');
    expect(seen).not.toContain('\x1bc');
    // Unchanged, it is not booted again for every check.
    const again = await env.exec(['hostname'], { node: 'host' });
    expect(again.stderr).toMatch(/unchanged configuration: not booting it again/);
    term.kill();
  }, 180_000);

  it('boots Xen over TFTP from the learner’s iPXE script, with the hostname it sets', async () => {
    if (!image || !env) return;
    const tftp = join(home, 'pxe', 'tftp');
    mkdirSync(tftp, { recursive: true });
    symlinkSync(image.xen, join(tftp, 'xen'));
    symlinkSync(image.vmlinuz, join(tftp, 'vmlinuz'));
    symlinkSync(image.rootfsGz, join(tftp, 'dom0.cpio.gz'));
    writeFileSync(
      join(tftp, 'boot.ipxe'),
      `#!ipxe\nkernel xen ${xenCommandLine(2048)}\nmodule vmlinuz console=hvc0 quiet xenlab.hostname=node07\nmodule dom0.cpio.gz\nboot\n`,
    );
    writeFileSync(
      join(home, 'pxe', 'dnsmasq.conf'),
      'port=0\nenable-tftp\ntftp-root=/home/learner/pxe/tftp\ndhcp-range=10.0.2.15,10.0.2.15\ndhcp-boot=boot.ipxe\n',
    );
    const term = env.attachTerminal({ cols: 100, rows: 30 }, 'host');
    const out = collect(term);
    // The check powers the host on and waits for dom0 (PXE is slower than a disk boot: TFTP, then unpacking).
    const r = await env.exec(['hostname'], { node: 'host', timeoutMs: 30_000 });
    expect(r.stdout).toBe('node07\n');
    const info = await env.exec(['xl', 'info'], { node: 'host' });
    expect(info.stdout).toMatch(
      new RegExp(`^xen_version\\s+: ${image.xenVersion.replace(/\./g, '\\.')}$`, 'm'),
    );
    // The learner watched it: the console showed Xen booting and dom0's prompt.
    await until(
      () => (/root@node07:.*# /.test(out.text()) ? true : undefined),
      30_000,
      'the prompt on node07',
    );
    expect(out.text()).toMatch(/\(XEN\) Xen version 4\.17/);
    term.kill();
  }, 420_000);
});
