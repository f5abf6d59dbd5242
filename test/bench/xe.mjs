#!/usr/bin/env node
// npm run bench:xe — wall time of `xe vm-list` (process start to exit) against a bare Node.js start
// (`node -e ''`), on the same machine, interleaved in the same run so load affects both alike.
// A simulator runs in this process; `xe` talks to it over HTTP like it would to a pool.
// Prints a table, then one line of JSON. Target (issue #4): p50 ≤ 2× the bare start and < 150 ms.
import { spawn } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { startSimulator } = await import(pathToFileURL(join(root, 'sandbox', 'dist', 'sim', 'index.js')).href);
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const xeBin = join(root, 'toolkit', 'bin', 'xe.js');

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** Runs a command to exit; resolves to its wall time in ms (fails on a non-zero exit). */
function timed(args) {
  return new Promise((resolvePromise, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: root });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code === 0) resolvePromise(ms);
      else reject(new Error(`${args.join(' ')} exited ${code}: ${err}`));
    });
  });
}

const sim = await startSimulator({ port: 0, fast: true, seed: 'bench' });
const port = new URL(sim.url).port;
const xeArgs = [xeBin, 'vm-list', '-s', '127.0.0.1', '-p', port, '-u', 'root', '-pw', 'xenlab'];
const bare = [];
const xe = [];
try {
  // Warm the file cache once for each, then interleave.
  await timed(['-e', '']);
  await timed(xeArgs);
  for (let i = 0; i < RUNS; i++) {
    bare.push(await timed(['-e', '']));
    xe.push(await timed(xeArgs));
  }
} finally {
  await sim.close();
}
const row = (name, xs) =>
  `${name.padEnd(22)} ${pct(xs, 50).toFixed(1).padStart(8)} ${pct(xs, 90).toFixed(1).padStart(8)} ${Math.min(
    ...xs,
  )
    .toFixed(1)
    .padStart(8)}`;
const p50Bare = pct(bare, 50);
const p50Xe = pct(xe, 50);
const ratio = p50Xe / p50Bare;
console.log(
  `${'command'.padEnd(22)} ${'p50 ms'.padStart(8)} ${'p90 ms'.padStart(8)} ${'min ms'.padStart(8)}`,
);
console.log(row("node -e ''", bare));
console.log(row('xe vm-list', xe));
console.log(
  `ratio p50 xe / bare: ${ratio.toFixed(2)} (target ≤ 2), xe p50 ${p50Xe.toFixed(1)} ms (target < 150)`,
);
console.log(
  JSON.stringify({
    bench: 'xe',
    runs: RUNS,
    bare_p50_ms: Number(p50Bare.toFixed(1)),
    xe_p50_ms: Number(p50Xe.toFixed(1)),
    ratio: Number(ratio.toFixed(2)),
    ok: ratio <= 2 && p50Xe < 150,
  }),
);
