/**
 * The generated XenAPI tables (toolkit/src/xenapi/generated/) must match what the generator makes from the
 * datamodel in ../shared/xenapi: a hand edit or a datamodel update without `npm run gen:xenapi` fails here.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const datamodel = resolve(repo, '..', 'shared', 'xenapi');
const hasDatamodel = existsSync(join(datamodel, 'xenapi.json'));
if (!hasDatamodel) {
  console.warn(
    `generated.test.ts: skipped — no datamodel at ${datamodel}/xenapi.json (it lives in shared/, not in git)`,
  );
}

function check(root: string): { status: number | null; stderr: string } {
  const run = spawnSync(
    process.execPath,
    [join(root, 'toolkit', 'scripts', 'gen-xenapi.mjs'), '--from', datamodel, '--check'],
    { encoding: 'utf8' },
  );
  return { status: run.status, stderr: run.stderr };
}

describe.skipIf(!hasDatamodel)('generated XenAPI tables', () => {
  it('are what gen-xenapi.mjs makes from the datamodel (run `npm run gen:xenapi` if this fails)', () => {
    const { status, stderr } = check(repo);
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });

  it('are reported stale when one was edited by hand', () => {
    const copy = mkdtempSync(join(tmpdir(), 'gen-xenapi-'));
    try {
      cpSync(join(repo, 'toolkit', 'scripts'), join(copy, 'toolkit', 'scripts'), { recursive: true });
      const generated = join('toolkit', 'src', 'xenapi', 'generated');
      cpSync(join(repo, generated), join(copy, generated), { recursive: true });
      appendFileSync(join(copy, generated, 'errors.ts'), '// hand edit\n');
      const { status, stderr } = check(copy);
      expect(status).toBe(1);
      expect(stderr).toContain('generated files are out of date: errors.ts');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
