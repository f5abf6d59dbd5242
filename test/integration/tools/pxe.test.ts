import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type ToolsLab } from './harness.js';
import { validate } from './validators.js';

const INVENTORY = `network:
  interface: eth1
  server: 10.0.0.2
  subnet: 10.0.0.0/24
  gateway: 10.0.0.1
  dns: [10.0.0.1, 9.9.9.9]
  range: 10.0.0.100-10.0.0.199
  domain: lab.example
installer:
  url: http://10.0.0.2/xcp-ng/
hosts:
  - { mac: "52:54:00:00:00:01", ip: 10.0.0.11, hostname: xcp1, role: master }
  - { mac: "52:54:00:00:00:02", ip: 10.0.0.12, hostname: xcp2, role: member }
  - { mac: "52-54-00-00-00-03", ip: 10.0.0.13, hostname: xcp3 }
`;

let lab: ToolsLab;
beforeAll(async () => {
  lab = await startLab('pxe');
});
afterAll(async () => {
  await lab.close();
});

function write(name: string, text: string): string {
  const path = join(lab.dir, name);
  writeFileSync(path, text);
  return path;
}

describe('pxe', () => {
  it('writes a dnsmasq configuration that dnsmasq --test accepts, with one reservation per host', async () => {
    const out = join(lab.dir, 'yaml-out');
    const r = await lab.run(['pxe', '--inventory', write('hosts.yaml', INVENTORY), '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const conf = join(out, 'dnsmasq.conf');
    const v = validate('dnsmasq', ['--test', '-C', conf]);
    expect(v.output).toContain('syntax check OK');
    expect(v.code).toBe(0);
    const text = readFileSync(conf, 'utf8');
    expect(text).toContain('dhcp-range=10.0.0.100,10.0.0.199,255.255.255.0,12h');
    expect(text).toContain('dhcp-host=52:54:00:00:00:03,10.0.0.13,xcp3,infinite');
    expect(text).toContain('dhcp-boot=tag:ipxe,boot.ipxe');
  });

  it('writes the pxelinux and iPXE trees and an answer file per host pointing at each other', async () => {
    const out = join(lab.dir, 'tree');
    await lab.run(['pxe', '--inventory', write('hosts.yaml', INVENTORY), '--out', out]);
    const pxelinux = readFileSync(join(out, 'tftp/pxelinux.cfg/01-52-54-00-00-00-02'), 'utf8');
    expect(pxelinux).toContain('KERNEL mboot.c32');
    expect(pxelinux).toContain('answerfile=http://10.0.0.2/answers/xcp2.xml install --- xcp-ng/install.img');
    const ipxe = readFileSync(join(out, 'tftp/ipxe/52-54-00-00-00-02.ipxe'), 'utf8');
    expect(ipxe).toMatch(/^#!ipxe\n/);
    expect(ipxe).toContain('kernel http://10.0.0.2/xcp-ng/boot/xen.gz');
    expect(readFileSync(join(out, 'tftp/boot.ipxe'), 'utf8')).toContain('chain ipxe/${net0/mac:hexhyp}.ipxe');
    const answer = readFileSync(join(out, 'answers/xcp2.xml'), 'utf8');
    expect(answer).toContain('<ipaddr>10.0.0.12</ipaddr>');
    expect(answer).toContain('<subnet>255.255.255.0</subnet>');
    expect(answer).toContain('<name-server>9.9.9.9</name-server>');
    expect(answer).toContain('<source type="url">http://10.0.0.2/xcp-ng/</source>');
    expect(readFileSync(join(out, 'pool-join.sh'), 'utf8')).toContain(
      'ssh root@10.0.0.13 xe pool-join master-address=10.0.0.11',
    );
  });

  it('reads a CSV inventory with the network on the command line, and serves only known hosts without --range', async () => {
    const csv = write(
      'hosts.csv',
      'hostname,mac,ip,role\nxcp1,52:54:00:aa:00:01,192.168.5.10,master\nxcp2,52:54:00:aa:00:02,192.168.5.11,member\n',
    );
    const out = join(lab.dir, 'csv-out');
    const r = await lab.run([
      'pxe',
      '--inventory',
      csv,
      '--subnet',
      '192.168.5.0/24',
      '--server',
      '192.168.5.2',
      '--gateway',
      '192.168.5.1',
      '--boot',
      'ipxe',
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    const conf = join(out, 'dnsmasq.conf');
    expect(validate('dnsmasq', ['--test', '-C', conf]).code).toBe(0);
    const text = readFileSync(conf, 'utf8');
    expect(text).toContain('dhcp-range=192.168.5.0,static,255.255.255.0,12h');
    expect(text).toContain('dhcp-boot=tag:!ipxe,undionly.kpxe');
  });

  it('rejects duplicate MACs and IPs, addresses outside the subnet or inside the dynamic range, listing them all', async () => {
    const bad =
      INVENTORY.replace('ip: 10.0.0.12', 'ip: 10.0.0.11').replace(
        '"52-54-00-00-00-03", ip: 10.0.0.13',
        '"52:54:00:00:00:01", ip: 10.0.1.13',
      ) + '  - { mac: "52:54:00:00:00:04", ip: 10.0.0.150, hostname: xcp4 }\n';
    const out = join(lab.dir, 'bad-out');
    const r = await lab.run(['pxe', '--inventory', write('bad.yaml', bad), '--out', out]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        `xenlab-tools pxe: ${join(lab.dir, 'bad.yaml')} has 4 conflict(s): [TOOLS_ERR_CONFLICT]`,
        '  hosts[1]: duplicate IP 10.0.0.11 (also at hosts[0])',
        '  hosts[2]: duplicate MAC 52:54:00:00:00:01 (also at hosts[0])',
        '  hosts[2]: ip 10.0.1.13 is outside the subnet 10.0.0.0/24',
        '  hosts[3]: ip 10.0.0.150 is inside the dynamic range 10.0.0.100-10.0.0.199, where dnsmasq may lease it to another machine',
        '',
      ].join('\n'),
    );
  });

  it('names malformed entries and files clearly, and writes nothing in --dry-run', async () => {
    const bad = INVENTORY.replace('"52:54:00:00:00:02"', '"52:54:00:00:02"').replace(
      'role: member',
      'role: boss',
    );
    const r = await lab.run(['pxe', '--inventory', write('malformed.yaml', bad)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[TOOLS_ERR_INPUT]');
    expect(r.stderr).toContain('hosts[1]: mac "52:54:00:00:02" is not a MAC address like 52:54:00:12:34:56');
    expect(r.stderr).toContain('hosts[1]: role "boss" must be one of master, member');
    const missing = await lab.run(['pxe', '--inventory', join(lab.dir, 'nope.yaml')]);
    expect(missing.stderr).toBe(
      `xenlab-tools pxe: cannot read ${join(lab.dir, 'nope.yaml')}: ENOENT [TOOLS_ERR_FILE]\n`,
    );
    const yaml = await lab.run(['pxe', '--inventory', write('broken.yaml', 'hosts: [\n')]);
    expect(yaml.stderr).toContain('is not valid YAML');
    const dry = await lab.run([
      'pxe',
      '--inventory',
      write('hosts.yaml', INVENTORY),
      '--out',
      join(lab.dir, 'dry'),
      '--dry-run',
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`would write ${join(lab.dir, 'dry', 'dnsmasq.conf')}`);
  });
});
