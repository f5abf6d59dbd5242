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
  // What a lab page needs from labs/<id>/lab.yaml (the full manifest is validated by `xenlab lab validate`).
  labManifests: defineCollection({
    loader: glob({
      pattern: '*/lab.yaml',
      base: '../labs',
      generateId: ({ entry }) => entry.split('/')[0] ?? entry,
    }),
    schema: z
      .object({
        title: z.string(),
        environment: z
          .object({
            terminals: z.array(z.object({ name: z.string(), title: z.string().optional() })).optional(),
          })
          .passthrough()
          .optional(),
      })
      .passthrough(),
  }),
};
