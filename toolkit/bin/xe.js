#!/usr/bin/env node
// `xe`, the XCP command line (toolkit/src/xe). Thin on purpose: load the CLI and run it with this process's
// arguments, environment and streams. The bundle (toolkit/scripts/build-xe.mjs) is compiled with a V8 code cache
// beside it, written on the first run that finds none; without a bundle the tsc output is used.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const bundle = fileURLToPath(new URL('../dist/xe/xe.bundle.cjs', import.meta.url));
let runCli;
let saveCache = () => {};
if (existsSync(bundle)) {
  const cacheFile = `${bundle}.cache`;
  const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined;
  const script = new Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  ({ runCli } = module.exports);
  if (cachedData === undefined || script.cachedDataRejected) {
    saveCache = () => {
      try {
        writeFileSync(cacheFile, script.createCachedData());
      } catch {
        // A read-only install just runs without the cache.
      }
    };
  }
} else {
  ({ runCli } = await import(new URL('../dist/xe/cli.js', import.meta.url).href));
}
const code = await runCli(process.argv.slice(2));
saveCache();
process.exit(code);
