import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readPxeConfig } from './pxe.js';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'xenlab-pxe-unit-'));
  mkdirSync(join(home, 'pxe', 'tftp'), { recursive: true });
  writeFileSync(join(home, 'pxe', 'tftp', 'boot.ipxe'), '#!ipxe\n');
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});
const conf = (text: string) => {
  writeFileSync(join(home, 'pxe', 'dnsmasq.conf'), text);
};

describe('readPxeConfig (the learner’s dnsmasq.conf drives QEMU’s DHCP/TFTP)', () => {
  it('maps tftp-root inside the jail to the home on this machine and takes the file of a tagged dhcp-boot', () => {
    conf(
      '# comment\nenable-tftp\ntftp-root=/home/learner/pxe/tftp\ndhcp-match=set:ipxe,175\ndhcp-boot=tag:ipxe,boot.ipxe\n',
    );
    expect(readPxeConfig(home, '/home/learner')).toEqual({
      tftpRoot: join(home, 'pxe', 'tftp'),
      bootfile: 'boot.ipxe',
    });
  });

  it('picks the iPXE line of a chainloading configuration (what xenlab-tools pxe --boot ipxe writes)', () => {
    conf(
      'enable-tftp\ntftp-root=~/pxe/tftp\ndhcp-match=set:ipxe,175\ndhcp-boot=tag:!ipxe,undionly.kpxe\ndhcp-boot=tag:ipxe,boot.ipxe\n',
    );
    expect(readPxeConfig(home, '/home/learner').bootfile).toBe('boot.ipxe');
  });

  it('accepts ~/ and relative roots', () => {
    conf('enable-tftp\ntftp-root=~/pxe/tftp\ndhcp-boot=boot.ipxe,pxeserver,10.0.2.2\n');
    expect(readPxeConfig(home, '/home/learner').bootfile).toBe('boot.ipxe');
    conf('enable-tftp\ntftp-root=pxe/tftp\ndhcp-boot=boot.ipxe\n');
    expect(readPxeConfig(home, '/home/learner').tftpRoot).toBe(join(home, 'pxe', 'tftp'));
  });

  it('serves what the checks judge: any iPXE tag, $HOME, includes, the boot file of option 67', () => {
    writeFileSync(join(home, 'pxe', 'tftp', 'undionly.kpxe'), 'rom');
    conf(
      'enable-tftp=\ntftp-root=$HOME/pxe/tftp/\ndhcp-userclass=set:chain,iPXE\ndhcp-boot=undionly.kpxe\ndhcp-boot=tag:chain,/boot.ipxe,,10.0.2.2\n',
    );
    expect(readPxeConfig(home, '/home/learner')).toEqual({
      tftpRoot: join(home, 'pxe', 'tftp'),
      bootfile: 'boot.ipxe',
    });
    mkdirSync(join(home, 'pxe', 'conf.d'));
    writeFileSync(
      join(home, 'pxe', 'conf.d', 'boot.conf'),
      'dhcp-match=set:ipxe,175\ndhcp-option=tag:ipxe,67,boot.ipxe\n',
    );
    conf('enable-tftp\ntftp-root=~/pxe/tftp\ndhcp-boot=tag:!ipxe,undionly.kpxe\nconf-dir=~/pxe/conf.d\n');
    expect(readPxeConfig(home, '/home/learner').bootfile).toBe('boot.ipxe');
  });

  it('reads includes only inside the home and never through a link', () => {
    const err = (text: string) => {
      conf(text);
      try {
        readPxeConfig(home, '/home/learner');
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err('conf-file=/etc/passwd\n')).toMatch(/\/etc\/passwd is outside your home/);
    symlinkSync('/etc/passwd', join(home, 'pxe', 'more.conf'));
    expect(err('conf-file=~/pxe/more.conf\n')).toMatch(/must be a plain file \(not a link\)/);
    expect(err('conf-file=~/pxe/dnsmasq.conf\n')).toMatch(/again \(a loop\)/);
    writeFileSync(join(home, 'pxe', 'tftp', 'other.ipxe'), '#!ipxe\n');
    expect(err('enable-tftp\ntftp-root=~/pxe/tftp\ndhcp-boot=boot.ipxe\ndhcp-boot=other.ipxe\n')).toMatch(
      /boot\.ipxe and other\.ipxe are both offered/,
    );
  });

  it('says what is wrong, in words a learner can act on', () => {
    const err = (text: string | undefined) => {
      if (text === undefined) rmSync(join(home, 'pxe', 'dnsmasq.conf'), { force: true });
      else conf(text);
      try {
        readPxeConfig(home, '/home/learner');
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err(undefined)).toMatch(/^SANDBOX_ERR_PXE_CONFIG: .*not found/);
    expect(err('tftp-root=~/pxe/tftp\ndhcp-boot=boot.ipxe\n')).toMatch(/enable-tftp/);
    expect(err('enable-tftp\ndhcp-boot=boot.ipxe\n')).toMatch(/`tftp-root=` is missing/);
    expect(err('enable-tftp\ntftp-root=~/pxe/tftp\n')).toMatch(/`dhcp-boot=` is missing/);
    expect(err('enable-tftp\ntftp-root=/etc\ndhcp-boot=boot.ipxe\n')).toMatch(/outside your home/);
    expect(err('enable-tftp\ntftp-root=~/../..\ndhcp-boot=boot.ipxe\n')).toMatch(/outside your home/);
    expect(err('enable-tftp\ntftp-root=~/pxe/tftp\ndhcp-boot=pxelinux.0\n')).toMatch(
      /pxelinux\.0, which is not in/,
    );
    expect(err('enable-tftp\ntftp-root=~/nowhere\ndhcp-boot=boot.ipxe\n')).toMatch(/not a folder/);
  });
});
