/**
 * The course's labs as the site sees them: the one reader of `labs/<id>/lab.yaml` in the site (the sidebar and the
 * lab pages). It takes only what pages need; the full manifest is validated by `xenlab lab validate`
 * (sandbox/src/labs/schema.ts), whose defaults these follow. Read at build time only.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'astro/zod';
import { parse } from 'yaml';

/**
 * The repository's labs folder. Found by its `lab.schema.json`, not only beside this file: when Astro renders pages
 * this module runs from a bundled chunk under site/dist, where `../../labs/` is somewhere else (every lab then got
 * the default "shell" terminal, and a lab naming its own, like the nested-Xen console, never opened).
 */
export const LABS_ROOT = findLabsRoot();

function findLabsRoot(): string {
  const candidates = [
    fileURLToPath(new URL('../../labs/', import.meta.url)),
    resolve(process.cwd(), '..', 'labs'),
    resolve(process.cwd(), 'labs'),
  ];
  const found = candidates.find((dir) => existsSync(join(dir, 'lab.schema.json')));
  if (found === undefined)
    throw new Error(`no labs folder (with lab.schema.json) at ${candidates.join(' or ')}`);
  return found;
}

/** A lab's terminal tab: its name (`terminal=` on the socket) and the tab's title. */
export interface LabTerminal {
  readonly name: string;
  readonly title?: string | undefined;
}

/** A lab's task as course tracks and the progress page name it. */
export interface SiteLabTask {
  readonly id: string;
  readonly title: string;
  /** Points for passing it; the manifest's default is 10. */
  readonly points: number;
}

/** What the site needs of one lab. */
export interface SiteLab {
  /** The folder name, which is the lab id and the page's slug (`/labs/<id>/`). */
  readonly id: string;
  readonly title: string;
  /** Place in the course (sidebar order); the manifest's default is 100. */
  readonly order: number;
  /** Expected minutes for the whole lab; the manifest's default is 30. */
  readonly minutes: number;
  /** `environment.driver`: `local` (default), `docker` or `qemu-xen` (a nested Xen, needs KVM to be quick). */
  readonly driver: string;
  readonly terminals: readonly LabTerminal[];
  /** Its tasks, in the manifest's order. */
  readonly tasks: readonly SiteLabTask[];
}

/** A lab without `environment.terminals` has one shell, as the manifest schema's default. */
const DEFAULT_TERMINALS: readonly LabTerminal[] = [{ name: 'shell', title: 'Shell' }];

const LabYaml = z
  .object({
    title: z.string(),
    order: z.number().optional(),
    minutes: z.number().optional(),
    environment: z
      .object({
        driver: z.string().optional(),
        terminals: z.array(z.object({ name: z.string(), title: z.string().optional() })).optional(),
      })
      .passthrough()
      .optional(),
    tasks: z
      .array(z.object({ id: z.string(), title: z.string(), points: z.number().optional() }).passthrough())
      .optional(),
  })
  .passthrough();

/** One lab's manifest as the site sees it, or undefined when the folder has no `lab.yaml`. */
export function loadLab(id: string, root: string = LABS_ROOT): SiteLab | undefined {
  const file = join(root, id, 'lab.yaml');
  if (!existsSync(file)) return undefined;
  const parsed = LabYaml.safeParse(parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.message} (run \`npx xenlab lab validate\`)`);
  const m = parsed.data;
  return {
    id,
    title: m.title,
    order: m.order ?? 100,
    minutes: m.minutes ?? 30,
    driver: m.environment?.driver ?? 'local',
    terminals: m.environment?.terminals?.length ? m.environment.terminals : DEFAULT_TERMINALS,
    tasks: (m.tasks ?? []).map((t) => ({ id: t.id, title: t.title, points: t.points ?? 10 })),
  };
}

/** The lab's terminal tabs (one shell when it has no manifest or names none). */
export function labTerminals(id: string, root: string = LABS_ROOT): LabTerminal[] {
  return [...(loadLab(id, root)?.terminals ?? DEFAULT_TERMINALS)];
}

/** Every lab with a manifest and a guide, in course order (order, then id). */
export function loadLabs(root: string = LABS_ROOT): SiteLab[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((id) => existsSync(join(root, id, 'guide.mdx')))
    .flatMap((id) => loadLab(id, root) ?? [])
    .sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
}

/** Labs in course order, for the sidebar: `{ label, link }`. */
export function labSidebarItems(root: string = LABS_ROOT): { label: string; link: string }[] {
  return loadLabs(root).map((l) => ({ label: l.title, link: `/labs/${l.id}/` }));
}
