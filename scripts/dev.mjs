#!/usr/bin/env node
// `npm run dev`: for course authors. The gateway runs on 127.0.0.1:4322 and Astro's dev server on 4321 with
// live reload, forwarding /api and /ws to the gateway (site/astro.config.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const built = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--no-site'], {
  stdio: 'inherit',
});
if (built.status !== 0) process.exit(built.status ?? 1);

const devPort = 4321;
const gatewayPort = 4322;
const { serve } = await import(pathToFileURL(join(root, 'sandbox', 'dist', 'gateway', 'index.js')).href);
const gateway = await serve(['--port', String(gatewayPort)], {
  out: (l) => console.log(l.replace('xenlab listening', 'xenlab gateway listening')),
  err: (l) => {
    if (!l.includes('no built site')) console.error(l);
  },
  env: { ...process.env, XENLAB_ALLOWED_ORIGINS: `http://127.0.0.1:${devPort},http://localhost:${devPort}` },
});
if (!gateway) process.exit(2);
const astro = spawn(
  process.execPath,
  [join(root, 'node_modules', 'astro', 'astro.js'), 'dev', '--port', String(devPort)],
  {
    cwd: join(root, 'site'),
    stdio: 'inherit',
    env: { ...process.env, XENLAB_GATEWAY_URL: gateway.url },
  },
);
const stop = () => {
  astro.kill('SIGTERM');
  gateway.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
astro.on('exit', stop);
