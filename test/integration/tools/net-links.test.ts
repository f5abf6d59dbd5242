import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type ToolsLab } from './harness.js';

let lab: ToolsLab;
beforeAll(async () => {
  lab = await startLab('net-links');
});
afterAll(async () => {
  await lab.close();
});

async function pifUuid(host: string, device: string): Promise<string> {
  const hosts = await lab.client.call('host.get_all_records');
  const pifs = await lab.client.call('PIF.get_all_records');
  const h = Object.entries(hosts).find(([, r]) => r.name_label === host)?.[0];
  const p = Object.values(pifs).find((r) => r.host === h && r.device === device && r.VLAN === -1);
  if (!p) throw new Error(`no ${host}/${device}`);
  return p.uuid;
}

describe('net links-up', () => {
  it('says when the pool has no bonds', async () => {
    const r = await lab.run(['net', 'links-up']);
    expect(r).toMatchObject({ code: 0, stdout: 'no bonds in the pool\n' });
  });

  it('shows a bond that lost a member as degraded (exit 3), down when both go, and up again', async () => {
    const plan = `${lab.dir}/plan.yaml`;
    (await import('node:fs')).writeFileSync(
      plan,
      'bonds:\n  - network: bond-data\n    devices: [eth0, eth1]\n    mode: active-backup\n    hosts: [xcp-ng-01, xcp-ng-02]\n',
    );
    expect((await lab.run(['net', '--plan', plan])).code).toBe(0);
    const up = await lab.run(['net', 'links-up']);
    expect(up.code).toBe(0);
    expect(up.stdout).toBe(
      [
        'HOST       BOND   NETWORK    MODE           LINKS  MEMBERS          STATE',
        'xcp-ng-01  bond0  bond-data  active-backup    2/2  eth0:up eth1:up  up',
        'xcp-ng-02  bond0  bond-data  active-backup    2/2  eth0:up eth1:up  up',
        '',
      ].join('\n'),
    );
    await lab.control('fault/pif-down', { uuid: await pifUuid('xcp-ng-02', 'eth1') });
    const degraded = await lab.run(['net', 'links-up']);
    expect(degraded.code).toBe(3);
    expect(degraded.stdout).toContain(
      'xcp-ng-02  bond0  bond-data  active-backup    1/2  eth0:up eth1:DOWN  degraded',
    );
    expect(degraded.stdout).toContain(
      'xcp-ng-02 bond0: eth1 lost link; active-backup carries on over eth0 (no redundancy left)\n',
    );
    await lab.control('fault/pif-down', { uuid: await pifUuid('xcp-ng-02', 'eth0') });
    const down = await lab.run(['net', 'links-up']);
    expect(down.stdout).toContain('0/2  eth0:DOWN eth1:DOWN  down');
    expect(down.stdout).toContain('xcp-ng-02 bond0: every member lost link; the bond is down\n');
    await lab.control('fault/pif-up', { uuid: await pifUuid('xcp-ng-02', 'eth0') });
    await lab.control('fault/pif-up', { uuid: await pifUuid('xcp-ng-02', 'eth1') });
    expect((await lab.run(['net', 'links-up'])).code).toBe(0);
  });

  it('still wants a plan to apply', async () => {
    const r = await lab.run(['net']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--plan FILE is required');
  });
});
