#!/usr/bin/env node
// Writes site/src/content/docs/reference/tools.md from the xenlab-tools command table (toolkit/src/tools, built by
// tsc into toolkit/dist/tools). Run `npx tsc -b` first; toolkit/src/tools/reference.test.ts fails when the
// checked-in page is out of date.
//
//   node toolkit/scripts/gen-tools-reference.mjs
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = join(repo, 'toolkit/dist/tools/index.js');
if (!existsSync(entry)) {
  console.error('gen-tools-reference: toolkit/dist/tools/index.js is missing; run `npx tsc -b` first');
  process.exit(2);
}
const { TOOLS, renderToolsReference } = await import(pathToFileURL(entry).href);
const page = join(repo, 'site/src/content/docs/reference/tools.md');
mkdirSync(dirname(page), { recursive: true });
writeFileSync(page, renderToolsReference(TOOLS));
console.log(`gen-tools-reference: ${TOOLS.length} tools → site/src/content/docs/reference/tools.md`);
