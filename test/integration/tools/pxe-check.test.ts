import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type ToolsLab } from './harness.js';

let lab: ToolsLab;
beforeAll(async () => {
  lab = await startLab('pxe-check');
});
afterAll(async () => {
  await lab.close();
});

describe('pxe --check', () => {
  it('reads back what the generator wrote: TFTP, the iPXE chain and the fixed host', async () => {
    const csv = join(lab.dir, 'hosts.csv');
    writeFileSync(csv, 'mac,ip,hostname,role\n52:54:00:12:34:56,10.0.2.15,xen-oak7,master\n');
    const out = join(lab.dir, 'pxe');
    const gen = await lab.run([
      'pxe',
      '--inventory',
      csv,
      '--subnet',
      '10.0.2.0/24',
      '--server',
      '10.0.2.2',
      '--gateway',
      '10.0.2.2',
      '--boot',
      'ipxe',
      '--tftp-root',
      join(lab.dir, 'tftp'),
      '--out',
      out,
    ]);
    expect(gen.code).toBe(0);
    const r = await lab.run(['pxe', '--check', join(out, 'dnsmasq.conf')], { env: { HOME: lab.dir } });
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 4)).toEqual([
      'dns: off',
      'tftp: on',
      `tftp-root: ${lab.dir}/tftp`,
      'ipxe-tags: ipxe',
    ]);
    expect(lines[4]).toMatch(/^boot ipxe: boot\.ipxe \(.*dnsmasq\.conf:\d+\)$/);
    expect(lines[5]).toMatch(/^boot pxe: undionly\.kpxe \(.*dnsmasq\.conf:\d+\)$/);
    expect(lines[6]).toMatch(/^host 52:54:00:12:34:56: ip 10\.0\.2\.15 name xen-oak7 \(/);
  });

  it('follows ~ in tftp-root and an include (relative to the home, where dnsmasq would start), and exits 1 on an include it cannot read', async () => {
    mkdirSync(join(lab.dir, 'conf'), { recursive: true });
    writeFileSync(join(lab.dir, 'conf', 'tftp.conf'), 'enable-tftp=\ntftp-root=~/tftp/\n');
    writeFileSync(join(lab.dir, 'conf', 'main.conf'), 'conf-file=conf/tftp.conf\n');
    const ok = await lab.run(['pxe', '--check', join(lab.dir, 'conf', 'main.conf')], {
      env: { HOME: lab.dir },
    });
    expect(ok.stdout).toContain(`tftp: on\ntftp-root: ${lab.dir}/tftp\n`);
    writeFileSync(join(lab.dir, 'conf', 'main.conf'), 'conf-file=gone.conf\n');
    const bad = await lab.run(['pxe', '--check', join(lab.dir, 'conf', 'main.conf')], {
      env: { HOME: lab.dir },
    });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^problem: .*main\.conf:1: cannot read .*gone\.conf/m);
  });

  it('wants an inventory or --check', async () => {
    const r = await lab.run(['pxe']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--inventory FILE is required (or --check FILE)');
  });
});
