/**
 * The XenAPI tables in toolkit/src/xenapi/generated/ must be what toolkit/scripts/gen-xenapi.mjs makes from the
 * compact model in toolkit/src/xenapi/model/ (stage B, always checked: both live in git), and the compact model must
 * be what the generator extracts from the source datamodel in ../shared/xenapi (stage A, checked where that folder
 * exists: it is not in git). A hand edit of either, or a model update without `npm run gen:xenapi`, fails here.
 */
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const source = resolve(repo, '..', 'shared', 'xenapi');
const hasSource = existsSync(join(source, 'xenapi.json')) && existsSync(join(source, 'errors.json'));
const xenapi = join('toolkit', 'src', 'xenapi');

function gen(root: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [join(root, 'toolkit', 'scripts', 'gen-xenapi.mjs'), ...args], {
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const copies: string[] = [];
afterEach(() => {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * The generator, the compact model and the generated files copied to <tmp>/repo, so the copy's default source
 * (<tmp>/shared/xenapi) does not exist: only what is in the copy is read.
 */
function copyOfRepo(): string {
  const base = mkdtempSync(join(tmpdir(), 'gen-xenapi-'));
  copies.push(base);
  const root = join(base, 'repo');
  for (const dir of [join('toolkit', 'scripts'), join(xenapi, 'model'), join(xenapi, 'generated')]) {
    cpSync(join(repo, dir), join(root, dir), { recursive: true });
  }
  return root;
}

/** Changes VM.power_state's type in a copy's compact model: a hand edit the generated TypeScript does not reflect. */
function editModel(root: string): void {
  const path = join(root, xenapi, 'model', 'datamodel.json');
  const text = readFileSync(path, 'utf8');
  const field = '{"name":"power_state","type":"enum vm_power_state"';
  expect(text).toContain(field);
  writeFileSync(path, text.replace(field, '{"name":"power_state","type":"string"'));
}

describe('generated XenAPI tables (stage B: compact model -> TypeScript, always checked)', () => {
  it('are what gen-xenapi.mjs makes from the compact model (run `npm run gen:xenapi` if this fails)', () => {
    const { status, stdout, stderr } = gen(copyOfRepo(), '--check');
    expect(stderr).toBe('');
    expect(stdout).toContain('stage A not checked: no source datamodel');
    expect(stdout).toContain('stage B checked');
    expect(status).toBe(0);
  });

  it('are reported stale when one was edited by hand', () => {
    const root = copyOfRepo();
    appendFileSync(join(root, xenapi, 'generated', 'errors.ts'), '// hand edit\n');
    const { status, stderr } = gen(root, '--check');
    expect(stderr).toContain('generated files are out of date: errors.ts');
    expect(status).toBe(1);
  });

  it('are reported stale when the compact model says something they do not', () => {
    const root = copyOfRepo();
    editModel(root);
    const { status, stderr } = gen(root, '--check');
    expect(stderr).toContain('generated files are out of date: datamodel.ts, types.ts');
    expect(status).toBe(1);
  });
});

describe.skipIf(!hasSource)(
  'compact model (stage A: ../shared/xenapi -> model/, checked where that folder exists)',
  () => {
    it('is what gen-xenapi.mjs --extract makes from the source (run `npm run gen:xenapi:extract` if this fails)', () => {
      const { status, stdout, stderr } = gen(repo, '--check');
      expect(stderr).toBe('');
      expect(stdout).toContain('stage A checked');
      expect(stdout).toContain('stage B checked');
      expect(status).toBe(0);
    });

    it('is reported stale when it was edited by hand', () => {
      const root = copyOfRepo();
      editModel(root);
      const { status, stderr } = gen(root, '--check', '--from', source);
      expect(stderr).toContain('the compact model differs from what --extract makes');
      expect(stderr).toContain('model/datamodel.json');
      expect(status).toBe(1);
    });
  },
);
