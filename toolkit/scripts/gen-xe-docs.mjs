#!/usr/bin/env node
// Generates, from the one `xe` command table (toolkit/src/xe/commands, built by tsc into toolkit/dist/xe):
//   - toolkit/completion/xe.bash                       bash completion (commands, parameters, uuids from the pool)
//   - site/src/content/docs/reference/xe.md            the command reference page of the course site
//
//   node toolkit/scripts/gen-xe-docs.mjs
//
// Run `npx tsc -b` first. toolkit/src/xe/docs.test.ts fails when the checked-in files are out of date.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = join(repo, 'toolkit/dist/xe/index.js');
if (!existsSync(entry)) {
  console.error('gen-xe-docs: toolkit/dist/xe/index.js is missing; run `npx tsc -b` first');
  process.exit(2);
}
const { commandTable, sortedCommands, renderCompletion, renderReference } = await import(
  pathToFileURL(entry).href
);
const commands = sortedCommands(commandTable());
for (const [path, text] of [
  [join(repo, 'toolkit/completion/xe.bash'), renderCompletion(commands)],
  [join(repo, 'site/src/content/docs/reference/xe.md'), renderReference(commands)],
]) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
console.log(
  `gen-xe-docs: ${commands.length} commands → toolkit/completion/xe.bash, site/src/content/docs/reference/xe.md`,
);
