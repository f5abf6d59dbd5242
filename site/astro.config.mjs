// The xenlab course site: Astro + Starlight. Lessons are MDX in src/content/docs; a lesson embeds a live
// terminal with <Terminal />, which talks to the gateway (sandbox/) over the protocol in @xenlab/sandbox/protocol.
import starlight from '@astrojs/starlight';
import { defineConfig } from 'astro/config';
import { labSidebarItems } from './src/labs.ts';
import { trackSidebarItems } from './src/tracks.ts';

/** The text of a hast node. */
const textOf = (node) => (node.type === 'text' ? node.value : (node.children ?? []).map(textOf).join(''));

/**
 * Wide tables scroll sideways in a region a keyboard can reach: each `<table>` of a lesson is wrapped in a focusable
 * `role="region"` named after the heading above it (WCAG 2.1.1; axe's scrollable-region-focusable).
 */
function rehypeScrollableTables() {
  return (tree) => {
    let heading = '';
    const walk = (node) => {
      const children = node.children ?? [];
      for (let i = 0; i < children.length; i++) {
        const child = children[i];
        if (child.type !== 'element') continue;
        if (/^h[1-6]$/.test(child.tagName)) heading = textOf(child).trim();
        if (child.tagName === 'table' && !(node.properties?.className ?? []).includes?.('table-scroll')) {
          children[i] = {
            type: 'element',
            tagName: 'div',
            properties: {
              className: ['table-scroll'],
              tabIndex: 0,
              role: 'region',
              ariaLabel: heading ? `Table: ${heading} (scrolls sideways)` : 'Table (scrolls sideways)',
            },
            children: [child],
          };
          continue;
        }
        walk(child);
      }
    };
    walk(tree);
  };
}

// In `npm run dev`, Astro serves pages with live reload and forwards the API and WebSocket to the gateway.
const gateway = process.env.XENLAB_GATEWAY_URL ?? 'http://127.0.0.1:4322';

export default defineConfig({
  telemetry: false,
  markdown: { rehypePlugins: [rehypeScrollableTables] },
  integrations: [
    starlight({
      title: 'xenlab',
      description: 'Hands-on labs for Xen and the Xen Cloud Platform, from the datacenter to the cloud.',
      pagefind: false,
      sidebar: [
        { label: 'Start here', items: [{ label: 'Getting started', slug: 'getting-started' }] },
        // Course tracks (src/tracks.ts): agendas that fit a 3-hour tutorial, a day, two days; then your progress.
        {
          label: 'Course',
          items: [...trackSidebarItems(), { label: 'Your progress', link: '/progress/' }],
        },
        { label: 'Concepts', autogenerate: { directory: 'concepts' } },
        { label: 'Labs', items: labSidebarItems() },
        { label: 'Reference', autogenerate: { directory: 'reference' } },
      ],
      customCss: ['./src/styles/terminal.css', './src/styles/site.css'],
      // Starlight's banner plus the room's ("Your instructor moved the room to Lab 5 — Go", issue #16).
      components: { Banner: './src/components/room/RoomBanner.astro' },
    }),
  ],
  server: { host: '127.0.0.1' },
  vite: {
    server: {
      proxy: {
        '/api': { target: gateway },
        '/ws': { target: gateway.replace(/^http/, 'ws'), ws: true },
      },
    },
  },
});
