import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLab, type ToolsLab } from './harness.js';

const PLAN = `networks:
  - name: internal
    mtu: 9000
    description: backend traffic
bonds:
  - network: bond-data
    devices: [eth0, eth1]
    mode: active-backup
vlans:
  - network: storage
    tag: 20
    on: bond-data
`;

let lab: ToolsLab;
beforeAll(async () => {
  lab = await startLab('net');
});
afterAll(async () => {
  await lab.close();
});

function plan(name: string, text: string): string {
  const path = join(lab.dir, name);
  writeFileSync(path, text);
  return path;
}

async function networkNamed(name: string) {
  const all = await lab.client.call('network.get_all_records');
  return Object.values(all).find((n) => n.name_label === name);
}

describe('net', () => {
  it('shows the difference in --dry-run and changes nothing', async () => {
    const r = await lab.run(['net', '--plan', plan('plan.yaml', PLAN), '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        '+ network "internal" (MTU 9000)',
        '+ network "bond-data" (MTU 1500)',
        '+ network "storage" (MTU 1500)',
        '+ bond "bond-data" on xcp-ng-01: eth0+eth1, mode active-backup',
        '+ bond "bond-data" on xcp-ng-02: eth0+eth1, mode active-backup',
        '+ bond "bond-data" on xcp-ng-03: eth0+eth1, mode active-backup',
        '+ VLAN 20 on xcp-ng-01 bond-data → network "storage"',
        '+ VLAN 20 on xcp-ng-02 bond-data → network "storage"',
        '+ VLAN 20 on xcp-ng-03 bond-data → network "storage"',
        '9 change(s), 0 already as planned',
        '',
      ].join('\n'),
    );
    expect(await networkNamed('internal')).toBeUndefined();
  });

  it('applies the plan: networks, a bond per host in the given mode, and a VLAN on each bond', async () => {
    const r = await lab.run(['net', '--plan', plan('plan.yaml', PLAN)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('applied 9 change(s)\n');
    expect(await networkNamed('internal')).toMatchObject({ MTU: 9000, name_description: 'backend traffic' });
    const bonds = Object.values(await lab.client.call('Bond.get_all_records'));
    expect(bonds).toHaveLength(3);
    expect(bonds.every((b) => b.mode === 'active-backup' && b.slaves.length === 2)).toBe(true);
    const storage = await networkNamed('storage');
    const pifs = await lab.client.call('PIF.get_all_records');
    expect(storage?.PIFs.map((p) => pifs[p]?.VLAN)).toEqual([20, 20, 20]);
  });

  it('is idempotent: the same plan again changes nothing', async () => {
    const r = await lab.run(['net', '--plan', plan('plan.yaml', PLAN)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('0 change(s), 9 already as planned\n');
  });

  it('changes only what differs: a new bond mode and MTU', async () => {
    const changed = PLAN.replace('mode: active-backup', 'mode: lacp').replace('mtu: 9000', 'mtu: 1500');
    const r = await lab.run(['net', '--plan', plan('changed.yaml', changed)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('~ network "internal": MTU 9000 → 1500\n');
    expect(r.stdout).toContain('~ bond "bond-data" on xcp-ng-02: mode active-backup → lacp\n');
    expect(r.stdout).toContain('4 change(s), 5 already as planned\n');
    const bonds = Object.values(await lab.client.call('Bond.get_all_records'));
    expect(bonds.every((b) => b.mode === 'lacp')).toBe(true);
  });

  it('stops before any change when the plan conflicts with the pool', async () => {
    const bad = `networks:\n  - name: never-made\nbonds:\n  - network: b2\n    devices: [eth2, eth3]\nvlans:\n  - network: other\n    tag: 20\n    on: bond-data\n`;
    const r = await lab.run(['net', '--plan', plan('conflict.yaml', bad)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      'the plan conflicts with the pool (6); nothing was changed: [TOOLS_ERR_CONFLICT]',
    );
    expect(r.stderr).toContain('  host xcp-ng-01 has no NIC eth2, eth3 for bond "b2"\n');
    expect(r.stderr).toContain(
      '  host xcp-ng-03: VLAN 20 on bond-data already exists on network "storage" (VLAN_IN_USE)\n',
    );
    expect(await networkNamed('never-made')).toBeUndefined();
  });

  it('lists every malformed entry of a plan', async () => {
    const bad = `bonds:\n  - network: x\n    devices: [eth0]\n    mode: round-robin\nvlans:\n  - network: y\n    tag: 5000\n    on: eth1\nroutes: []\n`;
    const r = await lab.run(['net', '--plan', plan('bad.yaml', bad)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        `xenlab-tools net: ${join(lab.dir, 'bad.yaml')} has 4 problem(s): [TOOLS_ERR_INPUT]`,
        '  routes: unknown section (expected networks, bonds, vlans)',
        '  bonds[0].devices: a bond needs at least 2 NICs (PIF_BOND_NEEDS_MORE_MEMBERS)',
        '  bonds[0].mode: "round-robin" must be one of balance-slb, active-backup, lacp',
        '  vlans[0].tag: 5000 is not a VLAN tag (0..4094)',
        '',
      ].join('\n'),
    );
  });
});
