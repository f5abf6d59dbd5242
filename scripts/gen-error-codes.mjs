#!/usr/bin/env node
// Writes site/src/content/docs/reference/error-codes.md from the error-code table (sandbox/src/errors/codes.ts,
// built by tsc into sandbox/dist/errors). Run `npx tsc -b` first; sandbox/src/errors/codes.test.ts fails when the
// checked-in page is out of date or a code used in sandbox/src is missing from the table.
//
//   node scripts/gen-error-codes.mjs
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(repo, 'sandbox/dist/errors/index.js');
if (!existsSync(entry)) {
  console.error('gen-error-codes: sandbox/dist/errors/index.js is missing; run `npx tsc -b` first');
  process.exit(2);
}
const { ERROR_CODES, renderErrorCodesPage } = await import(pathToFileURL(entry).href);
const page = join(repo, 'site/src/content/docs/reference/error-codes.md');
mkdirSync(dirname(page), { recursive: true });
writeFileSync(page, renderErrorCodesPage());
console.log(
  `gen-error-codes: ${Object.keys(ERROR_CODES).length} codes → site/src/content/docs/reference/error-codes.md`,
);
