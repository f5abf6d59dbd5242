#!/usr/bin/env node
// `npm start`: build what is stale, then run the course site and gateway (`xenlab serve`).
// Flags after `--` go to the server: npm start -- --port 8080 --host 0.0.0.0
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// The build prints each step it runs (a first start builds the course site, ~90 s); an up-to-date tree is quick.
console.log('xenlab: checking what needs building…');
const built = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);
console.log('xenlab: starting the gateway…');

const { main } = await import(pathToFileURL(join(root, 'sandbox', 'dist', 'cli', 'index.js')).href);
process.exitCode = await main(['serve', ...process.argv.slice(2)]);
