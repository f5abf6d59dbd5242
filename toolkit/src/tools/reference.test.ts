import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderToolsReference } from './reference.js';
import { TOOLS } from './table.js';

const page = new URL('../../../site/src/content/docs/reference/tools.md', import.meta.url);

describe('the reference page', () => {
  it('is what the command table renders (run npx tsc -b && node toolkit/scripts/gen-tools-reference.mjs)', () => {
    expect(readFileSync(page, 'utf8')).toBe(renderToolsReference(TOOLS));
  });

  it('documents every tool with its options and examples', () => {
    const text = renderToolsReference(TOOLS);
    for (const t of TOOLS) {
      expect(text).toContain(`## ${t.name}\n`);
      for (const e of t.examples) expect(text).toContain(e);
    }
    expect(text).toContain('| `--template NAME\\|UUID` | Template to clone. (required) |');
    expect(text).toContain('| `TOOLS_ERR_CONFLICT` |');
  });
});
