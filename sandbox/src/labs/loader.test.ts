import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { labJsonSchema } from './json-schema.js';
import { LABS_DIR, LabError, loadAllLabs, loadLab } from './loader.js';
import { scaffoldLab } from './scaffold.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'xenlab-labs-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Writes a lab folder with the given manifest (guide and solve script present unless told otherwise). */
function writeLab(id: string, yaml: string, files: { guide?: boolean; solve?: boolean } = {}): string {
  const dir = join(root, id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'lab.yaml'), yaml);
  if (files.guide !== false) writeFileSync(join(dir, 'guide.mdx'), '---\ntitle: T\n---\n');
  if (files.solve !== false) writeFileSync(join(dir, 'solve.sh'), '#!/bin/sh\n');
  return dir;
}

function errorOf(dir: string): LabError {
  try {
    loadLab(dir);
  } catch (e) {
    if (e instanceof LabError) return e;
    throw e;
  }
  throw new Error('expected the lab to be refused');
}

const HEAD = `id: broken
title: Broken
summary: A lab with mistakes.
`;

describe('lab manifests', () => {
  it('loads the course labs in course order', () => {
    const { labs, errors } = loadAllLabs(LABS_DIR);
    expect(errors.map((e) => e.message)).toEqual([]);
    expect(labs.slice(0, 3).map((l) => l.id)).toEqual([
      'anatomy-of-a-pool',
      'the-xenapi',
      'templates-and-guests',
    ]);
  });

  it('names the file, line, field and fix of a misspelt XenAPI field', () => {
    const e = errorOf(
      writeLab(
        'broken',
        `${HEAD}tasks:
  - id: t
    title: T
    checks:
      - id: c
        kind: xapi
        select: VM
        where: { power-state: Running }
`,
      ),
    );
    expect(e.code).toBe('LAB_ERR_INVALID_CHECK');
    expect(e.message).toBe(
      'labs/broken/lab.yaml:11: tasks.0.checks.0.where.power-state: VM has no field "power-state" — did you mean "power_state"?',
    );
  });

  it('reports every problem at once: unknown class, unknown field, duplicate ids, missing files, bad placeholders', () => {
    const e = errorOf(
      writeLab(
        'broken',
        `${HEAD}tasks:
  - id: t
    title: "Make {{vmNmae}}"
    checks:
      - { id: c, kind: xapi, select: vm }
      - { id: c, kind: xapi, select: SR, where: { VDIs: { is: { name_label: x } } } }
    hints:
      - { text: "h", when: [nope] }
`,
        { solve: false },
      ),
    );
    expect(e.message.split('\n')).toEqual([
      'labs/broken/lab.yaml:1: solve: solve.sh does not exist in the lab folder (every lab has a solve script)',
      'labs/broken/lab.yaml:5: tasks.0: {{vmNmae}} names no parameter (declare it under params)',
      'labs/broken/lab.yaml:8: tasks.0.checks.0.select: "vm" is not a XenAPI class — did you mean "VM"?',
      'labs/broken/lab.yaml:9: tasks.0.checks.1.id: check id "c" is used twice; check ids must be unique in the lab',
      'labs/broken/lab.yaml:9: tasks.0.checks.1.where.VDIs.is: this field is a set of refs: use any, all or none',
      'labs/broken/lab.yaml:11: tasks.0.hints.0.when: "nope" is neither a check id of this task nor a declared script cause',
    ]);
  });

  it('explains schema errors: unknown fields, wrong kinds, missing checks', () => {
    const e = errorOf(
      writeLab(
        'broken',
        `${HEAD}colour: blue
tasks:
  - id: t
    title: T
    checks: []
  - id: Bad_Id
    title: U
    checks:
      - { id: c, kind: magic }
`,
      ),
    );
    expect(e.code).toBe('LAB_ERR_INVALID_MANIFEST');
    expect(e.message.split('\n')).toEqual([
      'labs/broken/lab.yaml:1: unknown field "colour" — remove it or check the spelling (see labs/README.md)',
      'labs/broken/lab.yaml:8: tasks.0.checks: a task needs at least one check, or it can never turn green',
      'labs/broken/lab.yaml:9: tasks.1.id: a task id must be kebab-case (lowercase letters, digits and dashes, e.g. "count-hosts")',
      `labs/broken/lab.yaml:12: tasks.1.checks.0.kind: Invalid discriminator value. Expected 'xapi' | 'script' | 'answer' | 'temporal': set "kind" to one of the kinds in labs/README.md`,
    ]);
  });

  it('points at the line of a YAML syntax error', () => {
    const e = errorOf(writeLab('broken', `${HEAD}tasks: [\n  - id: x\n`));
    expect(e.code).toBe('LAB_ERR_BAD_YAML');
    expect(e.message).toMatch(/^labs\/broken\/lab\.yaml:\d+: not valid YAML: /);
  });

  it("refuses a solution's code block that names a terminal the lab does not have, naming lab, task and terminal", () => {
    const e = errorOf(
      writeLab(
        'broken',
        `${HEAD}environment:
  terminals: [{ name: shell }, { name: watch, title: Events }]
tasks:
  - id: fine
    title: Fine
    checks: [{ id: c1, kind: xapi, select: VM }]
    solution: |
      \`\`\`sh terminal=watch
      xe event-wait class=vm power-state=halted
      \`\`\`
  - id: events
    title: Events
    checks: [{ id: c2, kind: xapi, select: VM }]
    solution: |
      \`\`\`sh
      xe vm-list
      \`\`\`

      \`\`\`sh terminal=wacth
      xe vm-shutdown vm=x
      \`\`\`

      \`\`\`sh terminal="watch"
      true
      \`\`\`
`,
      ),
    );
    expect(e.code).toBe('LAB_ERR_INVALID_CHECK');
    expect(e.message.split('\n')).toEqual([
      'labs/broken/lab.yaml:17: tasks.1.solution: task "events": a code block names terminal "wacth", which this lab does not have (its terminals: shell, watch)',
      'labs/broken/lab.yaml:17: tasks.1.solution: task "events": the code block ````sh terminal="watch"` does not name a terminal the page can read; write ```sh terminal=<name>',
    ]);
  });

  it('reads until=stopped and file= on a solution block, and refuses them in any other form', () => {
    const solution = (fences: string[]) =>
      fences.map((f) => `      ${f}\n      true\n      \`\`\`\n`).join('\n');
    const yaml = (fences: string[]) => `${HEAD}environment:
  terminals: [{ name: shell }, { name: watch, title: Events }]
tasks:
  - id: events
    title: Events
    checks: [{ id: c, kind: xapi, select: VM }]
    solution: |
${solution(fences)}`;
    // The forms Skip and the page read: accepted.
    expect(
      loadLab(
        writeLab(
          'broken',
          yaml(['```js file=~/watch.mjs', '```sh terminal=watch until=stopped', '```sh until=stopped']),
        ),
      ).manifest.tasks[0]?.solution,
    ).toContain('until=stopped');
    const e = errorOf(
      writeLab(
        'broken',
        yaml([
          '```sh terminal=watch until=done',
          '```sh background',
          '```js until=stopped',
          '```sh file=~/x.sh',
          '```js file=../etc/passwd',
          '```js file="~/a b.mjs"',
        ]),
      ),
    );
    expect(e.code).toBe('LAB_ERR_INVALID_CHECK');
    const at = 'labs/broken/lab.yaml:10: tasks.0.solution: task "events": the code block';
    expect(e.message.split('\n')).toEqual([
      `${at} \`\`\`\`sh terminal=watch until=done\` has \`until=done\`: write until=stopped`,
      `${at} \`\`\`\`sh background\` has \`background\`, which Skip and the page do not read (a solution's block takes terminal=<name>, until=stopped, file=<path>)`,
      `${at} \`\`\`\`js until=stopped\` has \`until=stopped\` but is not a shell block (sh, bash): nothing runs`,
      `${at} \`\`\`\`sh file=~/x.sh\` has \`file=~/x.sh\` but is a shell block, which runs (file= names the file a js block is)`,
      `${at} \`\`\`\`js file=../etc/passwd\` has \`file=../etc/passwd\`: write a path in the home (~/name.mjs or dir/name; no quotes, spaces or ..)`,
      `${at} \`\`\`\`js file="~/a b.mjs"\` has \`file="~/a\`: write a path in the home (~/name.mjs or dir/name; no quotes, spaces or ..)`,
      `${at} \`\`\`\`js file="~/a b.mjs"\` has \`b.mjs"\`, which Skip and the page do not read (a solution's block takes terminal=<name>, until=stopped, file=<path>)`,
    ]);
  });

  it('requires the id to equal the folder', () => {
    const e = errorOf(
      writeLab(
        'other-name',
        `${HEAD}tasks:\n  - { id: t, title: T, checks: [{ id: c, kind: xapi, select: VM }] }\n`,
      ),
    );
    expect(e.message).toBe(
      'labs/other-name/lab.yaml:1: id: the id "broken" must equal the folder name "other-name" (rename one of them)',
    );
  });

  it('scaffolds a lab that validates, and refuses a bad or taken id', () => {
    const dir = scaffoldLab(root, 'storage-basics', 'Storage basics');
    expect(loadLab(dir).manifest.title).toBe('Storage basics');
    expect(() => scaffoldLab(root, 'storage-basics')).toThrow(/^LAB_ERR_EXISTS: /);
    expect(() => scaffoldLab(root, 'Storage Basics')).toThrow(
      'LAB_ERR_BAD_ID: "Storage Basics" is not a lab id: use kebab-case, e.g. "storage-basics"',
    );
  });

  it('keeps labs/lab.schema.json in step with the manifest schema (run `xenlab lab schema` after changing it)', () => {
    const committed = JSON.parse(readFileSync(join(LABS_DIR, 'lab.schema.json'), 'utf8')) as unknown;
    expect(committed).toEqual(labJsonSchema());
  });
});
