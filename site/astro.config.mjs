// The xenlab course site: Astro + Starlight. Lessons are MDX in src/content/docs; a lesson embeds a live
// terminal with <Terminal />, which talks to the gateway (sandbox/) over the protocol in @xenlab/sandbox/protocol.
import starlight from '@astrojs/starlight';
import { defineConfig } from 'astro/config';
import { labSidebarItems } from './src/labs.ts';

// In `npm run dev`, Astro serves pages with live reload and forwards the API and WebSocket to the gateway.
const gateway = process.env.XENLAB_GATEWAY_URL ?? 'http://127.0.0.1:4322';

export default defineConfig({
  telemetry: false,
  integrations: [
    starlight({
      title: 'xenlab',
      description: 'Hands-on labs for Xen and the Xen Cloud Platform, from the datacenter to the cloud.',
      pagefind: false,
      sidebar: [
        { label: 'Start here', items: [{ label: 'Getting started', slug: 'getting-started' }] },
        { label: 'Labs', items: labSidebarItems() },
        { label: 'Reference', autogenerate: { directory: 'reference' } },
      ],
      customCss: ['./src/styles/terminal.css'],
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
