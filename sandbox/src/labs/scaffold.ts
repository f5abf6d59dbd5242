/**
 * `xenlab lab new <id>`: a lab folder that already validates and passes `xenlab lab test`, for authors to grow.
 * @module
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_ID } from './schema.js';
import { XenlabError } from '../errors/index.js';

/** Writes `labs/<id>/` (lab.yaml, guide.mdx, solve.sh); refuses bad ids and existing folders. */
export function scaffoldLab(root: string, id: string, title = 'A new lab'): string {
  if (!LAB_ID.test(id))
    throw new XenlabError('LAB_ERR_BAD_ID', `"${id}" is not a lab id: use kebab-case, e.g. "storage-basics"`);
  const dir = join(root, id);
  if (existsSync(dir)) throw new XenlabError('LAB_ERR_EXISTS', `${dir} already exists; pick another id`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'lab.yaml'),
    `# yaml-language-server: $schema=../lab.schema.json
id: ${id}
title: ${JSON.stringify(title)}
summary: One sentence about what the learner does.
order: 100
minutes: 20
environment:
  scenario: default
  terminals:
    - { name: shell, title: Shell }
params:
  vmName: { kind: name, prefix: "vm-" }
tasks:
  - id: install-a-vm
    title: Install a VM
    text: |
      Install a VM named **{{vmName}}** from the template "Debian Bookworm 12".
    points: 10
    checks:
      - id: vm-installed
        kind: xapi
        select: VM
        where: { name_label: "{{vmName}}", is_a_template: false }
        fail: "There is no VM named {{vmName}} yet."
    hints:
      - "\`xe help vm-install\` lists its parameters."
    solution: |
      \`\`\`sh
      xe vm-install template="Debian Bookworm 12" new-name-label={{vmName}}
      \`\`\`
`,
  );
  writeFileSync(
    join(dir, 'guide.mdx'),
    `---
title: ${JSON.stringify(title)}
description: One sentence about what the learner does.
---

Explain the idea first, then let the learner try it. Shell blocks get a Run button:

\`\`\`sh
xe vm-install template="Debian Bookworm 12" new-name-label=$LAB_VM_NAME
\`\`\`
`,
  );
  writeFileSync(
    join(dir, 'solve.sh'),
    `#!/usr/bin/env bash
# Solves "${title}" from a fresh environment (run by \`xenlab lab test\`).
set -euo pipefail
xe vm-install template="Debian Bookworm 12" new-name-label="$LAB_VM_NAME" >/dev/null
`,
    { mode: 0o755 },
  );
  return dir;
}
