#!/usr/bin/env node
// `npm start`: build what is stale, then run the course site and gateway (`xenlab serve`).
// Flags after `--` go to the server: npm start -- --port 8080 --host 0.0.0.0
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const built = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

const { serve } = await import(pathToFileURL(join(root, 'sandbox', 'dist', 'gateway', 'index.js')).href);
const gateway = await serve(process.argv.slice(2), {
  out: (l) => console.log(l),
  err: (l) => console.error(l),
  env: process.env,
});
if (!gateway) process.exit(2);
const stop = () => {
  gateway.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
