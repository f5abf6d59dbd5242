#!/usr/bin/env node
// Builds what is stale: the TypeScript projects (tsc -b is incremental) and the course site (Astro), which is
// rebuilt only when its inputs changed since the last build. `--no-site` skips the site.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

function run(cmd, cmdArgs, cwd = root) {
  const r = spawnSync(cmd, cmdArgs, { cwd, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${cmd} ${cmdArgs.join(' ')} failed`);
    process.exit(r.status ?? 1);
  }
}

/** Newest modification time under the given paths (files or folders), skipping build output. */
function newest(paths) {
  let max = 0;
  const walk = (p) => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p)) if (!['node_modules', 'dist', '.astro'].includes(e)) walk(join(p, e));
    } else max = Math.max(max, st.mtimeMs);
  };
  paths.forEach(walk);
  return max;
}

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
run(process.execPath, [tsc, '-b']);
// xe starts as one bundled file with a V8 code cache (its start-up time is a user-visible figure: bench:xe).
run(process.execPath, [join(root, 'toolkit', 'scripts', 'build-xe.mjs')]);

if (!args.includes('--no-site')) {
  const stamp = join(root, 'site', 'dist', '.xenlab-build');
  const inputs = [
    'site/src',
    'site/public',
    'site/astro.config.mjs',
    'labs',
    'sandbox/src/protocol',
    'package-lock.json',
  ].map((p) => join(root, p));
  const want = String(newest(inputs));
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8') : '';
  if (want !== have || args.includes('--force')) {
    run(
      process.execPath,
      [join(root, 'node_modules', 'astro', 'astro.js'), 'build', '--silent'],
      join(root, 'site'),
    );
    // The site's own TypeScript (terminal client, lab components) is checked against the types Astro generated.
    run(process.execPath, [tsc, '-p', join(root, 'site'), '--noEmit']);
    writeFileSync(stamp, want);
  }
}
