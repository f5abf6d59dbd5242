// The examples of declarative checks, proven against the simulator the way `lab test` proves a lab:
// "at least 3 running VMs named web-* spread over at least 2 hosts" and "a VLAN <n> network on the bond".
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLabLocalDriver } from '../../../sandbox/src/lab-runtime/environment.js';
import { loadLab } from '../../../sandbox/src/labs/loader.js';
import { proveLab } from '../../../sandbox/src/lab-runtime/prove.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-query-lab-'));
  const dir = join(root, 'bond-and-spread');
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'scenario.yaml'),
    `pool: { name: netlab }
hosts:
  - { name: h1, nics: [eth0, eth1, eth2] }
  - { name: h2, nics: [eth0, eth1, eth2] }
sharedStorage:
  - { name: NFS storage, type: nfs, default: true }
`,
  );
  writeFileSync(
    join(dir, 'lab.yaml'),
    `id: bond-and-spread
title: Bonds, VLANs and spread
summary: The issue's examples.
environment: { scenario: scenario.yaml }
params:
  vlan: { kind: vlan }
tasks:
  - id: spread
    title: Three web VMs on two hosts
    checks:
      - id: web-spread
        kind: xapi
        select: VM
        where: { power_state: Running, name_label: { glob: "web-*" } }
        expect: { count: { gte: 3 }, distinct: { field: resident_on, gte: 2 } }
  - id: vlan-on-bond
    title: A VLAN on the bond
    checks:
      - id: vlan-on-bond
        kind: xapi
        select: PIF
        where:
          VLAN: "{{vlan}}"
          VLAN_master_of: { is: { tagged_PIF: { is: { bond_master_of: { size: { gte: 1 } } } } } }
`,
  );
  writeFileSync(join(dir, 'guide.mdx'), '---\ntitle: Bonds\n---\n');
  writeFileSync(
    join(dir, 'solve.sh'),
    `set -euo pipefail
for i in 1 2 3; do xe vm-install template="Alpine Linux 3.20" new-name-label=web-$i >/dev/null; done
xe vm-start vm=web-1 on=h1; xe vm-start vm=web-2 on=h2; xe vm-start vm=web-3 on=h1
h=$(xe host-list name-label=h1 --minimal)
bond=$(xe network-create name-label=bond0)
p1=$(xe pif-list host-uuid=$h device=eth1 --minimal); p2=$(xe pif-list host-uuid=$h device=eth2 --minimal)
xe bond-create network-uuid=$bond pif-uuids=$p1,$p2 >/dev/null
master=$(xe pif-list network-uuid=$bond host-uuid=$h --minimal)
net=$(xe network-create name-label=vlan$LAB_VLAN)
xe vlan-create network-uuid=$net pif-uuid=$master vlan=$LAB_VLAN >/dev/null
`,
  );
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('declarative XenAPI checks on a real (simulated) pool', () => {
  it(
    'see VMs spread over hosts and a VLAN on a bond — red before, green after',
    { timeout: 120_000 },
    async () => {
      const lab = loadLab(join(root, 'bond-and-spread'));
      const r = await proveLab(lab, createLabLocalDriver(), { rounds: 1 });
      expect(r.problems).toEqual([]);
    },
  );
});
