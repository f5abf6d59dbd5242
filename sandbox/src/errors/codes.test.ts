import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../protocol/index.js';
import { LabChannelError } from '../protocol/lab.js';
import { ERROR_CODES, isErrorCode, renderErrorCodesPage } from './index.js';

const src = fileURLToPath(new URL('..', import.meta.url));
const page = new URL('../../../site/src/content/docs/reference/error-codes.md', import.meta.url);
/** Codes this table does not own: the take-home tools' and the XenAPI client's (toolkit), documented there. */
const NOT_OURS = /^(TOOLS|XENAPI)_ERR_/;

/** Every `*_ERR_*` code written in sandbox/src (tests and this room excluded), with the files using it. */
function codesInSource(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (p !== join(src, 'errors')) walk(p);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/\b[A-Z][A-Z0-9]*_ERR_[A-Z0-9_]+\b/g)) {
          if (NOT_OURS.test(m[0])) continue;
          found.set(m[0], [...(found.get(m[0]) ?? []), p.slice(src.length)]);
        }
      }
    }
  };
  walk(src);
  return found;
}

describe('the error-code table', () => {
  it('has every code used in sandbox/src (add the missing ones to sandbox/src/errors/codes.ts)', () => {
    const missing = [...codesInSource()]
      .filter(([c]) => !isErrorCode(c))
      .map(([c, f]) => `${c} (${f.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('has no code that nothing uses any more', () => {
    const used = codesInSource();
    expect(Object.keys(ERROR_CODES).filter((c) => !used.has(c))).toEqual([]);
  });

  it("has the gateway's and the lab channel's wire codes (sandbox/src/protocol)", () => {
    const wire = [...Object.values(GatewayError), ...Object.values(LabChannelError)];
    expect(wire.filter((c) => !isErrorCode(c))).toEqual([]);
  });

  it('says for each code what it means and what to do', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^[A-Z]+_ERR_[A-Z0-9_]+$/);
      expect(info.meaning.length, code).toBeGreaterThan(5);
      expect(info.fix.length, code).toBeGreaterThan(3);
    }
  });
});

describe('the error-code reference page', () => {
  it('is what the table renders (run npx tsc -b && node scripts/gen-error-codes.mjs)', () => {
    expect(readFileSync(page, 'utf8')).toBe(renderErrorCodesPage());
  });

  it('lists every code once, grouped by area', () => {
    const text = renderErrorCodesPage();
    for (const code of Object.keys(ERROR_CODES)) expect(text.split(`| \`${code}\` |`)).toHaveLength(2);
    expect(text).toContain('## Sandbox drivers (local, docker, qemu-xen)');
    expect(text).toMatch(/^---\ntitle: Error codes\n/);
  });
});
