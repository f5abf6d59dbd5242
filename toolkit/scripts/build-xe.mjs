#!/usr/bin/env node
// Bundles the `xe` CLI into one CommonJS file, toolkit/dist/xe/xe.bundle.cjs, and primes its V8 code cache
// (xe.bundle.cjs.cache). An `xe` call is mostly process start-up, so loading one pre-compiled script instead of
// dozens of ES modules is what keeps it near a bare `node` start (see test/bench/xe.mjs). toolkit/bin/xe.js
// loads the bundle with the cache, and falls back to the tsc output (toolkit/dist/xe/cli.js) without a bundle.
//
//   node toolkit/scripts/build-xe.mjs
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const toolkit = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(toolkit, 'dist/xe/xe.bundle.cjs');
await build({
  entryPoints: [join(toolkit, 'src/xe/cli.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Dependencies are bundled too (only `xmlrpc` and what it needs). The client loads that package through
  // createRequire, which esbuild cannot follow: a stand-in for node:module serves it from the bundle (see the
  // shim's header), so it is compiled into the code cache instead of resolved and compiled file by file.
  plugins: [
    {
      name: 'xe-node-module-shim',
      setup(b) {
        const shim = join(toolkit, 'src/xe/bundle/node-module-shim.cjs');
        b.onResolve({ filter: /^(node:)?module$/ }, (args) =>
          args.importer === shim ? { path: 'node:module', external: true } : { path: shim },
        );
        // node:https (tls, crypto) loads on first use only: most xe calls in a lab never speak TLS.
        const httpsShim = join(toolkit, 'src/xe/bundle/node-https-shim.cjs');
        b.onResolve({ filter: /^(node:)?https$/ }, (args) =>
          args.importer === httpsShim ? { path: 'node:https', external: true } : { path: httpsShim },
        );
      },
    },
  ],
  // The client's XML-RPC codec calls createRequire(import.meta.url); in CommonJS, this file's path does the same
  // (and spares loading node:url at start-up).
  define: { 'import.meta.url': '__filename' },
  legalComments: 'none',
  logLevel: 'warning',
});
// A fresh bundle invalidates the old cache; one run writes a new one (bin/xe.js does when it finds none).
rmSync(`${outfile}.cache`, { force: true });
const r = spawnSync(process.execPath, [join(toolkit, 'bin/xe.js'), 'help', '--all'], { stdio: 'ignore' });
if (r.status !== 0) {
  console.error('build-xe: the bundle does not run (xe help --all failed)');
  process.exit(1);
}
console.log('build-xe: toolkit/dist/xe/xe.bundle.cjs (+ code cache)');
