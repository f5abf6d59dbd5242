import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoolReport } from '../../../toolkit/src/tools/index.js';
import { startLab, type ToolsLab } from './harness.js';

let lab: ToolsLab;
beforeAll(async () => {
  lab = await startLab('report');
  const r = await lab.run([
    'provision',
    '--template',
    'Debian Bookworm 12',
    '--count',
    '2',
    '--name',
    'web-<{n}>',
    '--start',
  ]);
  expect(r.code).toBe(0);
});
afterAll(async () => {
  await lab.close();
});

describe('report', () => {
  it('prints the inventory as JSON: every host, the guest VMs where they run, storage and networks', async () => {
    const r = await lab.run(['report', '--format', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as PoolReport;
    expect(report.pool.name).toBe('xenlab');
    expect(report.hosts.map((h) => h.name)).toEqual(['xcp-ng-01', 'xcp-ng-02', 'xcp-ng-03']);
    expect(report.hosts.every((h) => h.live && h.cpus === 8 && h.memoryFree < h.memoryTotal)).toBe(true);
    expect(report.totals).toMatchObject({ hosts: 3, vms: 2, running: 2 });
    const vm = report.vms.find((v) => v.name === 'web-<1>');
    expect(vm).toMatchObject({ powerState: 'Running', disks: 1 });
    expect(report.hosts.map((h) => h.name)).toContain(vm?.host);
    expect(report.srs.find((s) => s.name === 'NFS storage')).toMatchObject({ type: 'nfs', shared: true });
    expect(report.networks.find((n) => n.bridge === 'xenbr0')?.pifs).toEqual([
      'xcp-ng-01/eth0',
      'xcp-ng-02/eth0',
      'xcp-ng-03/eth0',
    ]);
  });

  it('prints Markdown tables by default', async () => {
    const r = await lab.run(['report']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^# Pool xenlab\n\n3 hosts, 2 VMs \(2 running\), \d+ templates; coordinator xcp-ng-01; default SR NFS storage; HA off\n/,
    );
    expect(r.stdout).toContain(
      '| host | address | state | CPUs | memory free / total | running VMs | version |',
    );
    expect(r.stdout).toMatch(/\| web-<2> \| Running \| xcp-ng-0\d \| \d+ \| 2\.0 GiB \|/);
  });

  it('writes a standalone HTML page with every value escaped', async () => {
    const out = join(lab.dir, 'pool.html');
    const r = await lab.run(['report', '--format', 'html', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*pool\.html: 3 hosts, 2 VMs/);
    const html = readFileSync(out, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<td>web-&#60;1&#62;</td>');
    expect(html).not.toContain('web-<1>');
  });

  it('rejects an unknown format and explains a pool it cannot reach', async () => {
    const bad = await lab.run(['report', '--format', 'pdf']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'xenlab-tools report: --format must be one of markdown, json, html, got "pdf" (see `xenlab-tools report --help`) [TOOLS_ERR_USAGE]\n',
    );
    const wrong = await lab.run(['report'], { env: { XENLAB_PASSWORD: 'wrong' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^xenlab-tools report: the pool refused: SESSION_AUTHENTICATION_FAILED/);
    const down = await lab.run(['report'], { env: { XENLAB_URL: 'http://127.0.0.1:1' } });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('[XENAPI_ERR_CONNECTION]');
  });
});
