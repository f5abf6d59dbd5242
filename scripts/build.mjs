#!/usr/bin/env node
// Builds what is stale: the TypeScript projects (tsc -b is incremental) and the course site (Astro), which is
// rebuilt only when its inputs changed since the last build. `--no-site` skips the site.
import { existsSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { astroSummary, runStep, tscSummary } from './progress.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

/** Runs a step with a progress line (see progress.mjs); a failed step shows its output and ends the build. */
async function run(label, cmd, cmdArgs, cwd = root, summary = undefined) {
  const r = await runStep({ label, cmd, args: cmdArgs, cwd, summary });
  if (!r.ok) {
    console.error(`build: ${cmd} ${cmdArgs.join(' ')} failed`);
    process.exit(r.code ?? 1);
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
await run('compiling the TypeScript projects', process.execPath, [tsc, '-b'], root, tscSummary);
// xe starts as one bundled file with a V8 code cache (its start-up time is a user-visible figure: bench:xe).
await run('bundling xe', process.execPath, [join(root, 'toolkit', 'scripts', 'build-xe.mjs')]);

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
    const first = !existsSync(join(root, 'site', 'dist', 'index.html'));
    await run(
      first
        ? 'building the course site (first start, ~90 s)'
        : 'rebuilding the course site (its sources changed, ~90 s)',
      process.execPath,
      [join(root, 'node_modules', 'astro', 'astro.js'), 'build'],
      join(root, 'site'),
      astroSummary,
    );
    // The site's own TypeScript (terminal client, lab components) is checked against the types Astro generated.
    await run(
      'checking the site’s TypeScript',
      process.execPath,
      [tsc, '-p', join(root, 'site'), '--noEmit'],
      root,
      tscSummary,
    );
    writeFileSync(stamp, want);
  } else {
    console.log('build: the course site is up to date');
  }
}
