#!/usr/bin/env node
// `xe`, the XCP command line (toolkit/src/xe). Thin on purpose: load the CLI and run it with this process's
// arguments, environment and streams. CommonJS (see ./package.json): a CommonJS entry starts without Node's ES
// module loader, a measurable part of an `xe` call. The bundle (toolkit/scripts/build-xe.mjs) is compiled with a
// V8 code cache kept beside it, written by the first run that finds none; without a bundle, the tsc output runs.
'use strict';
const { existsSync, readFileSync, statSync, writeFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

async function start() {
  const bundle = join(__dirname, '../dist/xe/xe.bundle.cjs');
  // A bundle older than the last tsc build of the toolkit is stale (sources changed since): run the tsc output.
  const mtime = (p) => statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const built = mtime(bundle);
  if (built === 0 || built < mtime(join(__dirname, '../tsconfig.tsbuildinfo'))) {
    const { runCli } = await import(join(__dirname, '../dist/xe/cli.js'));
    return runCli(process.argv.slice(2));
  }
  const cacheFile = `${bundle}.cache`;
  const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined;
  const script = new Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
  const mod = { exports: {} };
  script.runInThisContext()(mod.exports, Module.createRequire(bundle), mod, bundle, dirname(bundle));
  const code = await mod.exports.runCli(process.argv.slice(2));
  if (cachedData === undefined || script.cachedDataRejected) {
    try {
      // After the run, so the functions it compiled are in the cache too.
      writeFileSync(cacheFile, script.createCachedData());
    } catch {
      // A read-only install runs without the cache.
    }
  }
  return code;
}

start().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`xe: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
