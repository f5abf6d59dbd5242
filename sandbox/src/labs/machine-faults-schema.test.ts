// qemu-xen machines in the manifest (#13): nodes with memoryMb, disks and nics, and the machine faults (power, link,
// disk) — what an author gets told, with file, line and field, when a fault names a machine, NIC or disk that is not
// there or the lab is not on qemu-xen.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabError, loadLab } from './loader.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-machine-schema-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A lab on `driver` with the `nodes` and `faults` YAML lines given (indented under their keys). */
function lab(faults: string, driver = 'qemu-xen', nodes?: string): string {
  const dir = join(root, 'machines');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'guide.mdx'), '---\ntitle: T\n---\n');
  writeFileSync(join(dir, 'solve.sh'), 'true\n');
  writeFileSync(
    join(dir, 'lab.yaml'),
    `id: machines
title: Machines
summary: Machines.
environment:
  driver: ${driver}
  nodes:
${
  nodes ??
  `    - { name: xen-1, image: xen, memoryMb: 1200 }
    - { name: storage-a, image: storage, memoryMb: 350, disks: [{ name: drbd, sizeMb: 512 }], nics: 2 }`
}
  faults:
${faults}
tasks:
  - id: first-task
    title: T
    checks: [{ id: c, kind: script, run: 'true' }]
`,
  );
  return dir;
}

function problemsOf(dir: string): { line?: number; path: string; message: string }[] {
  try {
    loadLab(dir);
  } catch (e) {
    if (e instanceof LabError) return [...e.problems];
    throw e;
  }
  throw new Error('expected the lab to be refused');
}

describe('qemu-xen machines in lab.yaml', () => {
  it('takes node options and every machine fault kind', () => {
    const l = loadLab(
      lab(`    - { id: cut, kind: machine-power-off, target: storage-a, trigger: { button: 'Pull the plug' } }
    - { kind: machine-power-on, target: storage-a, trigger: { task: first-task } }
    - { kind: link-down, target: storage-a/eth1, trigger: { after: 60 } }
    - { kind: link-up, target: storage-a/eth1 }
    - { kind: disk-errors, target: storage-a/drbd }
    - { kind: disk-ok, target: storage-a/drbd }`),
    );
    expect(l.manifest.environment.nodes?.[1]).toEqual({
      name: 'storage-a',
      image: 'storage',
      memoryMb: 350,
      disks: [{ name: 'drbd', sizeMb: 512 }],
      nics: 2,
    });
    expect(l.manifest.environment.faults.map((f) => f.kind)).toEqual([
      'machine-power-off',
      'machine-power-on',
      'link-down',
      'link-up',
      'disk-errors',
      'disk-ok',
    ]);
  });

  it('refuses a machine, disk or NIC that is not there, with the field to fix', () => {
    const q = problemsOf(
      lab(`    - { kind: machine-power-off, target: storage-z }
    - { kind: disk-errors, target: storage-a/sdb }
    - { kind: link-down, target: storage-a/wlan0 }
    - { kind: link-down, target: storage-a }`),
    );
    expect(q.map((x) => x.path)).toEqual([
      'environment.faults.0.target',
      'environment.faults.1.target',
      'environment.faults.2.target',
      'environment.faults.3.target',
    ]);
    expect(q[0]?.message).toMatch(
      /no machine "storage-z" in environment\.nodes \(machines: xen-1, storage-a\)/,
    );
    expect(q[1]?.message).toMatch(/machine "storage-a" has no data disk "sdb"/);
    expect(q[2]?.message).toMatch(/eth0, eth1…, not "wlan0"/);
    expect(q[3]?.message).toMatch(/a NIC is named "<node>\/<NIC>", e\.g\. "storage-a\/eth0"/);
    expect(q[0]?.line).toBeGreaterThan(0);
  });

  it('refuses machine faults outside qemu-xen, and node options out of range', () => {
    const p = problemsOf(lab(`    - { kind: machine-power-off, target: xen-1 }`, 'local'));
    expect(p.map((x) => x.message)).toEqual([expect.stringMatching(/needs driver qemu-xen/)]);
    const q = problemsOf(
      lab(
        `    - { kind: heal }`,
        'qemu-xen',
        `    - { name: Storage_A, memoryMb: 64, nics: 9, disks: [{ name: d, sizeMb: 0 }] }`,
      ),
    );
    expect(q.map((x) => x.path).sort()).toEqual([
      'environment.nodes.0.disks.0.sizeMb',
      'environment.nodes.0.memoryMb',
      'environment.nodes.0.name',
      'environment.nodes.0.nics',
    ]);
  });
});
