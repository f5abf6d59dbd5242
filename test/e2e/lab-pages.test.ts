/**
 * Every built lab page offers the terminals its manifest names: a page asking for a terminal the lab does not
 * have is refused by the gateway and reconnects forever (the nested-Xen console once did exactly that).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadAllLabs } from '../../sandbox/src/labs/index.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('the built lab pages', () => {
  for (const lab of loadAllLabs(join(repo, 'labs')).labs) {
    it(`${lab.id} shows the terminals its manifest names`, () => {
      const html = readFileSync(join(repo, 'site', 'dist', 'labs', lab.id, 'index.html'), 'utf8');
      const onPage = new Set(
        [...html.matchAll(/<xenlab-terminal[^>]*\sdata-name="([a-z0-9-]+)"/g)].map((m) => m[1]),
      );
      expect([...onPage].sort()).toEqual(lab.manifest.environment.terminals.map((t) => t.name).sort());
    });
  }
});
