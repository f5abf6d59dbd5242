#!/usr/bin/env node
// `xenlab-tools` (toolkit/src/tools): thin on purpose — run the compiled CLI with this process's arguments.
// An .mjs file, so it stays an ES module next to xe.js (bin/package.json makes .js files CommonJS there).
const { runToolsCli } = await import(new URL('../dist/tools/cli.js', import.meta.url).href);
process.exitCode = await runToolsCli(process.argv.slice(2));
