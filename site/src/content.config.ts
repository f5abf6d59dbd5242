import { defineCollection, z } from 'astro:content';
import { glob } from 'astro/loaders';
import { docsLoader } from '@astrojs/starlight/loaders';
import { docsSchema } from '@astrojs/starlight/schema';

export const collections = {
  docs: defineCollection({ loader: docsLoader(), schema: docsSchema() }),
  // Lab guides live with their lab (labs/<id>/guide.mdx); the entry id is the lab id.
  labs: defineCollection({
    loader: glob({
      pattern: '*/guide.mdx',
      base: '../labs',
      generateId: ({ entry }) => entry.split('/')[0] ?? entry,
    }),
    schema: z.object({ title: z.string(), description: z.string().optional() }),
  }),
  // Their manifests (labs/<id>/lab.yaml) are read by src/labs.ts, the site's one loader of them.
};
