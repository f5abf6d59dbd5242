// Faults as lesson steps (issue #14): the manifest's `environment.faults` — kinds, targets, triggers — and the
// problems an author gets told about with file, line and field.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { labJsonSchema } from './json-schema.js';
import { LabError, loadLab } from './loader.js';
import { Fault, LabManifest } from './schema.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-fault-schema-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A lab whose `environment.faults` is `faults` (YAML lines indented under it). */
function labWith(faults: string): string {
  const dir = join(root, 'faulty');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'guide.mdx'), '---\ntitle: T\n---\n');
  writeFileSync(join(dir, 'solve.sh'), 'true\n');
  writeFileSync(
    join(dir, 'lab.yaml'),
    `id: faulty
title: Faulty
summary: Faults.
environment:
  faults:
${faults}
tasks:
  - id: first-task
    title: T
    checks: [{ id: c, kind: xapi, select: host }]
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

describe('environment.faults', () => {
  it('takes every kind and trigger, with defaults', () => {
    const lab = loadLab(
      labWith(`    - { kind: vm-load, target: batch-1 }
    - { kind: vm-load, target: etl-1, resource: io, level: 0.5, trigger: { after: 90 } }
    - { id: pull-the-plug, kind: host-power-off, target: xcp-ng-02, trigger: { button: 'Pull the plug on xcp-ng-02' } }
    - { kind: host-power-on, target: xcp-ng-02, trigger: { task: first-task } }
    - { kind: nic-down, target: xcp-ng-02/eth1, trigger: setup }
    - { kind: nic-up, target: xcp-ng-02/eth1, trigger: { after: 0 } }
    - { kind: sr-lost, target: NFS }
    - { kind: sr-back, target: NFS }
    - { kind: partition, target: [[xcp-ng-01], [xcp-ng-02, xcp-ng-03]] }
    - { kind: heal, trigger: { after: 30 } }`),
    );
    const f = lab.manifest.environment.faults;
    expect(f).toHaveLength(10);
    expect(f[0]).toEqual({ kind: 'vm-load', target: 'batch-1', resource: 'cpu', level: 1, trigger: 'setup' });
    expect(f[1]?.trigger).toEqual({ after: 90 });
    expect(f[2]).toEqual({
      id: 'pull-the-plug',
      kind: 'host-power-off',
      target: 'xcp-ng-02',
      trigger: { button: 'Pull the plug on xcp-ng-02' },
    });
    expect(f[3]?.trigger).toEqual({ task: 'first-task' });
    expect(f[8]).toMatchObject({ target: [['xcp-ng-01'], ['xcp-ng-02', 'xcp-ng-03']] });
    expect(f[9]).toEqual({ kind: 'heal', trigger: { after: 30 } });
  });

  it('refuses the old { vmHog } form, naming the line and the field', () => {
    const p = problemsOf(labWith('    - { vmHog: batch-1, kind: cpu, level: 1 }'));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ line: 6, path: 'environment.faults.0.kind' });
    expect(p[0]?.message).toMatch(/kind/);
  });

  it('names an unknown task in a trigger, with the tasks there are', () => {
    const p = problemsOf(
      labWith('    - { kind: host-power-off, target: xcp-ng-02, trigger: { task: no-such-task } }'),
    );
    expect(p).toEqual([
      {
        file: 'labs/faulty/lab.yaml',
        line: 6,
        path: 'environment.faults.0.trigger.task',
        message: 'no task "no-such-task" in this lab (a task trigger names one of: first-task)',
      },
    ]);
  });

  it('refuses duplicate ids, a button without an id and two buttons with one label', () => {
    const p = problemsOf(
      labWith(`    - { id: boom, kind: host-power-off, target: xcp-ng-02 }
    - { id: boom, kind: host-power-on, target: xcp-ng-02, trigger: { button: Power on } }
    - { kind: sr-lost, target: NFS, trigger: { button: Power on } }`),
    );
    expect(p.map((x) => [x.line, x.path])).toEqual([
      [7, 'environment.faults.1.id'],
      [8, 'environment.faults.2.trigger'],
      [8, 'environment.faults.2.trigger.button'],
    ]);
    expect(p[0]?.message).toMatch(/"boom" is used twice/);
    expect(p[1]?.message).toMatch(/needs an id/);
    expect(p[2]?.message).toMatch(/two buttons are labelled "Power on"/);
  });

  it('refuses targets of the wrong shape', () => {
    const p = problemsOf(
      labWith(`    - { kind: nic-down, target: eth1 }
    - { kind: partition, target: xcp-ng-01 }
    - { kind: partition, target: [[xcp-ng-01, xcp-ng-02]] }
    - { kind: host-power-off }
    - { kind: heal, target: xcp-ng-01 }
    - { kind: vm-load, target: v, level: 2 }`),
    );
    expect(p.map((x) => [x.line, x.path])).toEqual([
      [6, 'environment.faults.0.target'],
      [7, 'environment.faults.1.target'],
      [8, 'environment.faults.2.target'],
      [9, 'environment.faults.3.target'],
      [10, 'environment.faults.4'],
      [11, 'environment.faults.5.level'],
    ]);
    expect(p[0]?.message).toMatch(/"<host>\/<device>", e\.g\. "xcp-ng-02\/eth1"/);
    expect(p[1]?.message).toMatch(/expected array/);
    expect(p[2]?.message).toMatch(/at least two groups/);
    expect(p[3]?.message).toMatch(/required/);
    expect(p[4]?.message).toMatch(/unknown field "target"/);
  });

  it('refuses a host in two partition groups, a negative delay and a bad trigger', () => {
    const p = problemsOf(
      labWith(`    - { kind: partition, target: [[xcp-ng-01, xcp-ng-02], [xcp-ng-02]] }
    - { kind: heal, trigger: { after: -1 } }
    - { kind: heal, trigger: later }`),
    );
    expect(p.map((x) => x.path)).toEqual([
      'environment.faults.1.trigger.after',
      'environment.faults.2.trigger',
    ]);
    // The partition problem shows once the schema errors are fixed (semantic checks run on a valid shape).
    const q = problemsOf(labWith('    - { kind: partition, target: [[xcp-ng-01, xcp-ng-02], [xcp-ng-02]] }'));
    expect(q).toMatchObject([
      {
        line: 6,
        path: 'environment.faults.0.target.1.0',
        message: expect.stringMatching(/in two groups/) as string,
      },
    ]);
  });

  it('is in the JSON schema editors use, the trigger defined once', () => {
    const text = JSON.stringify(labJsonSchema());
    expect(text).toContain('"host-power-off"');
    expect(text).toContain('#/$defs/FaultTrigger');
    expect(text).not.toContain('vmHog');
  });

  it('parses on its own (defineLab users, the runtime)', () => {
    expect(Fault.parse({ kind: 'nic-down', target: 'h/eth0', trigger: { task: 't' } })).toEqual({
      kind: 'nic-down',
      target: 'h/eth0',
      trigger: { task: 't' },
    });
    expect(LabManifest.safeParse({ id: 'x', title: 'x', summary: 'x', tasks: [] }).success).toBe(false);
  });
});
