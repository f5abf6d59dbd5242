import { describe, expect, it } from 'vitest';
import { FirmwareConsole } from './firmware-console.js';

// What a PXE machine's serial console printed here (QEMU q35,graphics=off, SeaBIOS 1.16.2, Debian's iPXE ROM) for a
// boot.ipxe whose kernel URL had no server behind it; the Ctrl-B countdown's backspaces shortened.
const BS = '\b \b'.repeat(8);
const FAILED_BOOT = [
  '\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n\n\n',
  'iPXE (http://ipxe.org) 00:01.0 C000 PCI2.10 PnP PMM+0EFCEF40+0EF0EF40 C000\r\n',
  'Booting from ROM...\r\n',
  '\x1b[0;1miPXE 1.0.0+git-20190125.36a4c85-5.1\x1b[0m -- Open Source Network Boot Firmware -- \x1b[0;36mhttp\r\n://ipxe.org\r\n',
  `\x1b[0mPress Ctrl-B for the iPXE command line...${BS}net0: 52:54:00:12:34:56 using virtio-net on 0000:00:01.0 (open)\r\n`,
  'Configuring (net0 52:54:00:12:34:56)...... ok\r\n',
  'tftp://10.0.2.2/boot.ipxe... ok\r\nboot.ipxe : 81 bytes [script]\r\n',
  'http://10.0.2.2/boot/xen.gz... Connection reset (http://ipxe.org/0f0a6039)\r\n\r\nNo more network devices\r\n\r\n',
  `Press Ctrl-B for the iPXE command line...${BS}Booting from Hard Disk...\r\nBoot failed: could not read the boot disk\r\n\r\n`,
  'Booting from Floppy...\r\nBoot failed: could not read the boot disk\r\n\r\nNo bootable device.\r\n',
].join('');

/** Feeds `text` to a fresh console in reads of `size` bytes; what the learner sees, and the console. */
function feed(text: string, size: number): { shown: string; fc: FirmwareConsole } {
  const fc = new FirmwareConsole();
  const bytes = Buffer.from(text, 'latin1');
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(fc.filter(bytes.subarray(i, i + size)));
  return { shown: Buffer.concat(out).toString('latin1'), fc };
}

describe("a PXE machine's firmware on the learner's console", () => {
  it('shows the firmware’s screen without the reset, no-autowrap and clear that would wipe the terminal, however the reads split it', () => {
    const expected = FAILED_BOOT.replace('\x1bc\x1b[?7l\x1b[2J', '');
    for (const size of [1, 2, 3, 5, 7, 64, 4096]) {
      const { shown } = feed(FAILED_BOOT, size);
      expect(shown).toBe(expected);
    }
    expect(feed(FAILED_BOOT, 1).shown).toContain('tftp://10.0.2.2/boot.ipxe... ok');
  });

  it('knows the firmware gave up, and why in iPXE’s words', () => {
    for (const size of [1, 13, 4096]) {
      expect(feed(FAILED_BOOT, size).fc.failure).toBe(
        'iPXE: http://10.0.2.2/boot/xen.gz... Connection reset (http://ipxe.org/0f0a6039)',
      );
    }
  });

  it('reads an error iPXE printed longer than the firmware’s 80-column screen, which cut it in two', () => {
    const cut = FAILED_BOOT.replace(
      'http://10.0.2.2/boot/xen.gz... Connection reset (http://ipxe.org/0f0a6039)\r\n',
      'http://10.0.2.2:39119/install/xen.gz... Connection reset (http://ipxe.org/0f0a60\r\n39)\r\n',
    );
    expect(feed(cut, 64).fc.failure).toBe(
      'iPXE: http://10.0.2.2:39119/install/xen.gz... Connection reset (http://ipxe.org/0f0a6039)',
    );
  });

  it('does not call a boot failed before SeaBIOS says so (iPXE tries every device first)', () => {
    const upToIpxe = FAILED_BOOT.slice(0, FAILED_BOOT.indexOf('No more network devices'));
    expect(feed(upToIpxe, 64).fc.failure).toBeUndefined();
    expect(feed(FAILED_BOOT.replace(/http:\/\/10\.0\.2\.2\/boot\/xen\.gz.*\r\n/, ''), 64).fc.failure).toBe(
      'no boot device worked',
    );
  });

  it('leaves the operating system’s output alone once it has taken over (a clear in dom0 clears)', () => {
    const fc = new FirmwareConsole();
    expect(fc.filter(Buffer.from('SeaBIOS\r\n\x1b')).toString('latin1')).toBe('SeaBIOS\r\n');
    // The held ESC was not one of the firmware's: it comes out when dom0 takes over, before dom0's own output.
    expect(fc.end().toString('latin1')).toBe('\x1b');
    const clear = '\x1b[H\x1b[2J\x1b[3Jroot@xen-1:~# ';
    expect(fc.filter(Buffer.from(clear, 'latin1')).toString('latin1')).toBe(clear);
    expect(fc.failure).toBeUndefined();
  });
});
