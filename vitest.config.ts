import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Three tiers (see test/README.md): unit tests live beside the code they test, integration and end-to-end
// suites live under test/. `npm run check` runs the unit tier only; `npm test` runs all three.
export default defineConfig({
  // Tests run the TypeScript sources: workspace subpath imports resolve to src/, not to the compiled dist/.
  resolve: {
    alias: [
      { find: /^@xenlab\/toolkit\/(.*)$/, replacement: here('./toolkit/src/$1/index.ts') },
      { find: /^@xenlab\/sandbox\/(.*)$/, replacement: here('./sandbox/src/$1/index.ts') },
    ],
  },
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['toolkit/src/**/*.test.ts', 'sandbox/src/**/*.test.ts', 'site/src/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/security/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
