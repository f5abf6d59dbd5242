/**
 * Where the course's labs live (the repository's `labs/`), and the sidebar group listing them in course order.
 * Read at build time only.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** The repository's labs folder. */
export const LABS_ROOT = fileURLToPath(new URL('../../labs/', import.meta.url));

/** Labs in course order, for the sidebar: `{ label, link }`. */
export function labSidebarItems(root: string = LABS_ROOT): { label: string; link: string }[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((id) => existsSync(join(root, id, 'lab.yaml')) && existsSync(join(root, id, 'guide.mdx')))
    .map((id) => {
      const m = parse(readFileSync(join(root, id, 'lab.yaml'), 'utf8')) as { title?: string; order?: number };
      return { id, title: m.title ?? id, order: m.order ?? 100 };
    })
    .sort((a, b) => a.order - b.order || a.id.localeCompare(b.id))
    .map((l) => ({ label: l.title, link: `/labs/${l.id}/` }));
}
