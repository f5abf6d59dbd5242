/**
 * Issue #11: the PXE workbench's configuration lives in the learner's home, and the gateway (root) reads it and
 * has QEMU (root) serve its TFTP root. A link the learner made must never make either read or serve a host file.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readPxeConfig, stageTftpRoot } from '../../sandbox/src/drivers/qemu-xen/pxe.js';

let base: string;
let home: string;
let secret: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'xenlab-pxe-links-'));
  home = join(base, 'home');
  secret = join(base, 'host-secret');
  mkdirSync(join(secret), { recursive: true });
  writeFileSync(join(secret, 'shadow'), 'root:$6$not-for-learners\n');
  mkdirSync(join(home, 'pxe', 'tftp'), { recursive: true });
  writeFileSync(join(home, 'pxe', 'tftp', 'boot.ipxe'), '#!ipxe\n');
});
afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});
const good = 'enable-tftp\ntftp-root=~/pxe/tftp\ndhcp-boot=boot.ipxe\n';

describe('the PXE workbench never follows a learner’s link out of their home', () => {
  it('refuses a dnsmasq.conf that is a link (to any host file)', () => {
    writeFileSync(join(secret, 'dnsmasq.conf'), good);
    symlinkSync(join(secret, 'dnsmasq.conf'), join(home, 'pxe', 'dnsmasq.conf'));
    expect(() => readPxeConfig(home, '/home/learner')).toThrow(/SANDBOX_ERR_PXE_CONFIG.*plain file/);
  });

  it('refuses a TFTP root reached through a link to a host folder', () => {
    symlinkSync(secret, join(home, 'pxe', 'host'));
    writeFileSync(join(secret, 'boot.ipxe'), '#!ipxe\n');
    writeFileSync(
      join(home, 'pxe', 'dnsmasq.conf'),
      'enable-tftp\ntftp-root=~/pxe/host\ndhcp-boot=boot.ipxe\n',
    );
    expect(() => readPxeConfig(home, '/home/learner')).toThrow(/leads outside your home/);
  });

  it('serves a copy of the TFTP root: links only to the Xen image, none to a host file', () => {
    symlinkSync(join(secret, 'shadow'), join(home, 'pxe', 'tftp', 'shadow'));
    mkdirSync(join(home, 'pxe', 'tftp', 'menus'));
    writeFileSync(join(home, 'pxe', 'tftp', 'menus', 'default'), 'menu\n');
    symlinkSync(secret, join(home, 'pxe', 'tftp', 'menus', 'etc'));
    // The lab links its boot files from the Xen image, a folder every learner may read: those links are served.
    const image = join(base, 'xen-image');
    mkdirSync(image);
    writeFileSync(join(image, 'xen'), 'XEN');
    symlinkSync(join(image, 'xen'), join(home, 'pxe', 'tftp', 'xen'));
    symlinkSync(join(image, '..', 'host-secret', 'shadow'), join(home, 'pxe', 'tftp', 'sneaky'));
    writeFileSync(join(home, 'pxe', 'dnsmasq.conf'), good);
    const pxe = readPxeConfig(home, '/home/learner');
    const served = join(base, 'run', 'tftp');
    const skipped = stageTftpRoot(pxe.tftpRoot, served, [image]);
    expect(skipped.sort()).toEqual(['menus/etc', 'shadow', 'sneaky']);
    expect(readFileSync(join(served, 'xen'), 'utf8')).toBe('XEN');
    expect(readFileSync(join(served, 'boot.ipxe'), 'utf8')).toBe('#!ipxe\n');
    expect(readFileSync(join(served, 'menus', 'default'), 'utf8')).toBe('menu\n');
    expect(existsSync(join(served, 'shadow'))).toBe(false);
    expect(existsSync(join(served, 'menus', 'etc'))).toBe(false);
  });
});
