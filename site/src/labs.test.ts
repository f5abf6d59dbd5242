import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { labSidebarItems, labTerminals, loadLab, loadLabs } from './labs.ts';

const roots: string[] = [];
function labsFolder(labs: Record<string, { yaml?: string; guide?: boolean }>): string {
  const root = mkdtempSync(join(tmpdir(), 'xenlab-site-labs-'));
  roots.push(root);
  for (const [id, { yaml, guide = true }] of Object.entries(labs)) {
    mkdirSync(join(root, id));
    if (yaml !== undefined) writeFileSync(join(root, id, 'lab.yaml'), yaml);
    if (guide) writeFileSync(join(root, id, 'guide.mdx'), '---\ntitle: x\n---\n');
  }
  return root;
}
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

describe("the site's lab loader", () => {
  it('lists labs with a manifest and a guide in course order, then by id', () => {
    const root = labsFolder({
      late: { yaml: 'title: Late\norder: 5\n' },
      'b-default': { yaml: 'title: B\n' },
      'a-default': { yaml: 'title: A\n' },
      early: { yaml: 'title: Early\norder: 1\n' },
      'no-guide': { yaml: 'title: Hidden\n', guide: false },
      'no-manifest': {},
    });
    expect(loadLabs(root).map((l) => l.id)).toEqual(['early', 'late', 'a-default', 'b-default']);
    expect(labSidebarItems(root)[0]).toEqual({ label: 'Early', link: '/labs/early/' });
  });

  it("gives a lab the manifest schema's one shell when it names no terminals", () => {
    const root = labsFolder({
      two: {
        yaml: 'title: Two\nenvironment:\n  terminals:\n    - { name: a, title: A }\n    - { name: b }\n',
      },
      one: { yaml: 'title: One\nenvironment: { nodes: 1 }\n' },
    });
    expect(labTerminals('two', root)).toEqual([{ name: 'a', title: 'A' }, { name: 'b' }]);
    expect(labTerminals('one', root)).toEqual([{ name: 'shell', title: 'Shell' }]);
    expect(labTerminals('missing', root)).toEqual([{ name: 'shell', title: 'Shell' }]);
  });

  it('names the file when a manifest lacks what pages need', () => {
    const root = labsFolder({ broken: { yaml: 'order: 2\n' } });
    expect(() => loadLab('broken', root)).toThrow(/broken[/\\]lab\.yaml.*xenlab lab validate/s);
  });

  it("reads the repository's labs", () => {
    expect(loadLabs().length).toBeGreaterThan(0);
    for (const lab of loadLabs()) expect(lab.terminals.length).toBeGreaterThan(0);
  });
});
