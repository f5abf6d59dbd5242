import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { commandTable } from './commands/index.js';
import { renderCompletion, renderReference, sortedCommands } from './docs.js';

const read = (p: string) => readFileSync(new URL(p, import.meta.url), 'utf8');

test('the bash completion and the site reference page are generated from the current command table', () => {
  const commands = sortedCommands(commandTable());
  // If this fails: npx tsc -b && node toolkit/scripts/gen-xe-docs.mjs
  expect(read('../../completion/xe.bash')).toBe(renderCompletion(commands));
  expect(read('../../../site/src/content/docs/reference/xe.md')).toBe(renderReference(commands));
});

test('the reference page lists every command with its parameters', () => {
  const md = renderReference(sortedCommands(commandTable()));
  expect(md.startsWith('---\ntitle: xe command reference\n')).toBe(true);
  expect(md).toContain(
    '| `vm-install` | `new-name-label` | `sr-name-label`, `sr-uuid`, `template`, `copy-bios-strings-from` |',
  );
  expect(md).toContain('| `vm-start` |  | `force`, `on`, `paused`, `<vm-selectors>` |');
});
