import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readDnsmasq, renderDnsmasqCheck, type DnsmasqFiles } from './dnsmasq.js';

const HOME = mkdtempSync(join(tmpdir(), 'dnsmasq-home-'));
mkdirSync(join(HOME, 'pxe/tftp'), { recursive: true });
afterAll(() => {
  rmSync(HOME, { recursive: true, force: true });
});

const disk: DnsmasqFiles = {
  read: (p) => readFileSync(p, 'utf8'),
  list: (p) => {
    try {
      return statSync(p).isDirectory() ? readdirSync(p) : undefined;
    } catch {
      return undefined;
    }
  },
};

let n = 0;
/** Writes a configuration (and extra files beside it) and reads its report. */
function check(text: string, extra: Record<string, string> = {}): string {
  const dir = join(HOME, `c${String(n++)}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(extra)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  writeFileSync(join(dir, 'dnsmasq.conf'), text.replaceAll('@DIR@', dir));
  return renderDnsmasqCheck(readDnsmasq(join(dir, 'dnsmasq.conf'), disk, HOME)).replaceAll(dir, '<dir>');
}

/** The lines a lab's check demands of the PXE lab's configuration. */
function labOk(report: string): boolean {
  const lines = report.split('\n');
  const has = (re: RegExp) => lines.some((l) => re.test(l));
  return (
    has(/^tftp: on$/) &&
    has(new RegExp(`^tftp-root: ${HOME}/pxe/tftp$`)) &&
    has(/^boot ipxe: \/?boot\.ipxe( from \S+)? \(/) &&
    has(/^boot pxe: \/?undionly\.kpxe( from \S+)? \(/) &&
    has(/^host 52:54:00:12:34:56: ip 10\.0\.2\.15 name xen-oak7 \(/) &&
    !has(/^problem: /)
  );
}

const BASE = `port=0
dhcp-range=10.0.2.0,static,255.255.255.0,12h
enable-tftp
tftp-root=${HOME}/pxe/tftp
dhcp-match=set:ipxe,175
dhcp-boot=tag:!ipxe,undionly.kpxe
dhcp-boot=tag:ipxe,boot.ipxe
dhcp-host=52:54:00:12:34:56,10.0.2.15,xen-oak7,infinite
`;

/** BASE with one line replaced. */
const swap = (from: string, to: string) => {
  if (!BASE.includes(from)) throw new Error(`no ${from}`);
  return BASE.replace(from, to);
};

describe('dnsmasq configuration, as it takes effect', () => {
  it('reports the generator-style configuration line by line', () => {
    expect(check(BASE)).toBe(
      [
        'dns: off',
        'tftp: on',
        `tftp-root: ${HOME}/pxe/tftp`,
        'ipxe-tags: ipxe',
        'boot ipxe: boot.ipxe (<dir>/dnsmasq.conf:7)',
        'boot pxe: undionly.kpxe (<dir>/dnsmasq.conf:6)',
        'host 52:54:00:12:34:56: ip 10.0.2.15 name xen-oak7 (<dir>/dnsmasq.conf:8)',
        '',
      ].join('\n'),
    );
  });

  const accepted: [string, string][] = [
    ['enable-tftp=', swap('enable-tftp\n', 'enable-tftp=\n')],
    ['enable-tftp=eth0', swap('enable-tftp\n', 'enable-tftp=eth0\n')],
    ['dhcp-userclass', swap('dhcp-match=set:ipxe,175', 'dhcp-userclass=set:ipxe,iPXE')],
    [
      'another tag name',
      swap('dhcp-match=set:ipxe,175', 'dhcp-match=set:chain,175')
        .replaceAll('ipxe,', 'chain,')
        .replace('tag:!ipxe', 'tag:!chain'),
    ],
    ['old net: spelling', swap('dhcp-match=set:ipxe,175', 'dhcp-match=net:ipxe,175')],
    ['tftp-root with ~', swap(`tftp-root=${HOME}/pxe/tftp`, 'tftp-root=~/pxe/tftp')],
    ['tftp-root with $HOME/', swap(`tftp-root=${HOME}/pxe/tftp`, 'tftp-root=$HOME/pxe/tftp/')],
    ['tftp-root with ${HOME}', swap(`tftp-root=${HOME}/pxe/tftp`, 'tftp-root=${HOME}/pxe//tftp')],
    ['tftp-root with an interface', swap(`tftp-root=${HOME}/pxe/tftp`, `tftp-root=${HOME}/pxe/tftp,eth0`)],
    ['dhcp-boot with server', swap('tag:ipxe,boot.ipxe', 'tag:ipxe,boot.ipxe,,10.0.2.2')],
    ['dhcp-boot with name and server', swap('tag:ipxe,boot.ipxe', 'tag:ipxe,boot.ipxe,pxeserver,10.0.2.2')],
    ['untagged fallback', swap('dhcp-boot=tag:!ipxe,undionly.kpxe', 'dhcp-boot=undionly.kpxe')],
    [
      'untagged fallback after',
      swap('dhcp-boot=tag:!ipxe,undionly.kpxe\n', '') + 'dhcp-boot=undionly.kpxe\n',
    ],
    ['boot file by option 67', swap('dhcp-boot=tag:ipxe,boot.ipxe', 'dhcp-option=tag:ipxe,67,boot.ipxe')],
    [
      'bootfile-name',
      swap('dhcp-boot=tag:ipxe,boot.ipxe', 'dhcp-option-force=tag:ipxe,option:bootfile-name,"boot.ipxe"'),
    ],
    [
      'dhcp-host fields reordered',
      swap('52:54:00:12:34:56,10.0.2.15,xen-oak7,infinite', 'xen-oak7,10.0.2.15,infinite,52:54:00:12:34:56'),
    ],
    ['dhcp-host with upper-case MAC and dashes', swap('52:54:00:12:34:56,', '52-54-00-12-34-56,')],
    [
      'dhcp-host with a tag and a lease',
      swap(
        '52:54:00:12:34:56,10.0.2.15,xen-oak7,infinite',
        'set:xen,52:54:00:12:34:56,xen-oak7,10.0.2.15,12h',
      ),
    ],
    ['dhcp-host with two MACs', swap('52:54:00:12:34:56,', '52:54:00:aa:bb:cc,52:54:00:12:34:56,')],
    [
      'spaces around =',
      swap('enable-tftp\n', 'enable-tftp\n').replace('dhcp-boot=tag:ipxe', 'dhcp-boot = tag:ipxe'),
    ],
    [
      'comments',
      `# the PXE server\n${swap('enable-tftp\n', 'enable-tftp   # TFTP on\n')}#dhcp-boot=tag:ipxe,other.ipxe\n`,
    ],
  ];
  it.each(accepted)('accepts %s', (_name, text) => {
    expect(labOk(check(text)), check(text)).toBe(true);
  });

  it('follows conf-file= and conf-dir= (with its extension filters, skipping backups)', () => {
    const top = 'port=0\nconf-file=@DIR@/parts/tftp.conf\nconf-dir=@DIR@/more/,*.conf\n';
    const report = check(top, {
      'parts/tftp.conf': `enable-tftp\ntftp-root=~/pxe/tftp\n`,
      'more/10-boot.conf':
        'dhcp-match=set:ipxe,175\ndhcp-boot=tag:!ipxe,undionly.kpxe\ndhcp-boot=tag:ipxe,boot.ipxe\n',
      'more/20-hosts.conf': 'dhcp-host=52:54:00:12:34:56,10.0.2.15,xen-oak7\n',
      'more/20-hosts.conf~': 'dhcp-host=52:54:00:12:34:56,10.0.2.99,wrong\n',
      'more/30-old.bak': 'dhcp-boot=tag:ipxe,old.ipxe\n',
    });
    expect(labOk(report), report).toBe(true);
    expect(report).not.toContain('wrong');
    expect(report).not.toContain('old.ipxe');
    expect(report).toContain('boot ipxe: boot.ipxe (<dir>/more/10-boot.conf:3)');
  });

  const refused: [string, string, RegExp][] = [
    ['no enable-tftp', swap('enable-tftp\n', ''), /^tftp: off$/m],
    [
      'a command-line spelling (dnsmasq --test refuses it too)',
      swap('enable-tftp\n', '--enable-tftp\n'),
      /^tftp: off$/m,
    ],
    ['enable-tftp commented out', swap('enable-tftp\n', '#enable-tftp\n'), /^tftp: off$/m],
    ['another tftp-root', swap(`${HOME}/pxe/tftp`, '/srv/tftp'), /^tftp-root: \/srv\/tftp$/m],
    ['no iPXE recognition', swap('dhcp-match=set:ipxe,175\n', ''), /^boot ipxe: \(iPXE clients/m],
    ['option 175 with a value', swap('set:ipxe,175', 'set:ipxe,175,1'), /^ipxe-tags: \(none\)$/m],
    [
      'userclass of another client',
      swap('dhcp-match=set:ipxe,175', 'dhcp-userclass=set:ipxe,gPXE'),
      /^ipxe-tags: \(none\)$/m,
    ],
    [
      'iPXE clients sent undionly again',
      swap('tag:ipxe,boot.ipxe', 'tag:ipxe,undionly.kpxe'),
      /^boot ipxe: undionly/m,
    ],
    [
      'only untagged boot',
      swap('dhcp-boot=tag:ipxe,boot.ipxe\n', '').replace('tag:!ipxe,', ''),
      /^boot ipxe: undionly/m,
    ],
    [
      'two untagged boot files',
      swap('dhcp-boot=tag:!ipxe,undionly.kpxe', 'dhcp-boot=undionly.kpxe\ndhcp-boot=pxelinux.0'),
      /^boot pxe: ambiguous/m,
    ],
    ['another address', swap('10.0.2.15', '10.0.2.16'), /ip 10\.0\.2\.16/],
    ['another MAC', swap('52:54:00:12:34:56', '52:54:00:12:34:57'), /host 52:54:00:12:34:57/],
    ['host ignored', swap(',infinite', ',ignore'), /ignored/],
    ['an include that is missing', `${BASE}conf-file=nothing.conf\n`, /^problem: .*ENOENT.*nothing\.conf/m],
  ];
  it.each(refused)('refuses %s', (_name, text, shows) => {
    const report = check(text);
    expect(report).toMatch(shows);
    expect(labOk(report), report).toBe(false);
  });

  it('refuses an include loop without hanging', () => {
    const report = check('conf-file=@DIR@/dnsmasq.conf\n');
    expect(report).toMatch(/^problem: .*again \(a loop\)/m);
  });

  it('agrees with dnsmasq --test: every accepted spelling is valid dnsmasq syntax', () => {
    let dnsmasq = '';
    try {
      dnsmasq = execFileSync('sh', ['-c', 'command -v dnsmasq || ls /usr/sbin/dnsmasq'], {
        encoding: 'utf8',
      }).trim();
    } catch {
      return; // dnsmasq-base is not installed here: the syntax half is the lab's `dnsmasq --test` check
    }
    for (const [name, text] of accepted) {
      const file = join(HOME, `syntax-${String(n++)}.conf`);
      writeFileSync(
        file,
        text.replaceAll('~/', `${HOME}/`).replaceAll('${HOME}', HOME).replaceAll('$HOME', HOME),
      );
      expect(() => execFileSync(dnsmasq, ['--test', '-C', file], { stdio: 'pipe' }), name).not.toThrow();
    }
    // `option:` wants a name (option:user-class), not a number: dnsmasq 2.90 says "bad dhcp-option".
    const bad = join(HOME, 'syntax-bad.conf');
    writeFileSync(bad, swap('set:ipxe,175', 'set:ipxe,option:175'));
    expect(() => execFileSync(dnsmasq, ['--test', '-C', bad], { stdio: 'pipe' })).toThrow(/bad dhcp-option/);
  });
});
