#!/usr/bin/env node
// npm run bench:xen — how long a learner waits for a nested Xen host (the qemu-xen driver).
//
//  cold: driver.create() with warm starts off → QEMU boots Xen and dom0 → the root prompt shows on the console.
//  warm: driver.create() from the saved template state → dom0's agent answers → the prompt shows after Enter.
// Each p50 over BENCH_RUNS (5) runs, one VM at a time (2 cores shared). Needs a built image
// (`sudo npx xenlab image build --xen`). Prints a table, then one line of JSON. Targets (issue #8): cold < 60 s,
// warm < 5 s.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { createQemuXenDriver, findXenImage } = await import(
  pathToFileURL(join(root, 'sandbox', 'dist', 'drivers', 'qemu-xen', 'index.js')).href
);

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PROMPT = /root@xenhost\S*:[^\n]*# /;

const p50 = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};

/** Creates an environment and resolves with seconds until the dom0 prompt is on its console (Enter pressed once). */
async function timeToPrompt(driver, id, home) {
  const t0 = performance.now();
  const env = await driver.create({ id, home });
  const ready = (performance.now() - t0) / 1000;
  const term = env.attachTerminal({ cols: 120, rows: 40 });
  let out = '';
  const seen = new Promise((resolvePrompt, reject) => {
    const timer = setTimeout(() => reject(new Error(`no dom0 prompt in 60 s:\n${out.slice(-500)}`)), 60_000);
    term.onData((d) => {
      out += d.toString('utf8');
      if (PROMPT.test(out.slice(-4000))) {
        clearTimeout(timer);
        resolvePrompt();
      }
    });
  });
  await seen;
  const prompt = (performance.now() - t0) / 1000;
  term.kill();
  const check = await env.exec(['xl', 'list']);
  if (!/Domain-0/.test(check.stdout)) throw new Error(`xl list in dom0 failed: ${check.stderr}`);
  await env.destroy();
  return { ready, prompt };
}

const image = findXenImage();
const home = mkdtempSync(join(tmpdir(), 'xenlab-bench-xen-'));
const cold = createQemuXenDriver({ image, warm: false });
const warm = createQemuXenDriver({ image, warm: true });
const rows = [];
try {
  // The template (saved after one cold boot) must exist before warm starts are timed; not counted.
  await (await warm.create({ id: 'bench-template', home })).destroy();
  const coldRuns = [];
  for (let i = 0; i < RUNS; i++) {
    coldRuns.push(await timeToPrompt(cold, `bench-cold-${i}`, home));
    process.stderr.write(`cold ${i + 1}/${RUNS}: ${coldRuns.at(-1).prompt.toFixed(1)} s\n`);
  }
  const warmRuns = [];
  for (let i = 0; i < RUNS; i++) {
    warmRuns.push(await timeToPrompt(warm, `bench-warm-${i}`, home));
    process.stderr.write(`warm ${i + 1}/${RUNS}: ${warmRuns.at(-1).prompt.toFixed(2)} s\n`);
  }
  rows.push(['cold boot → dom0 prompt', coldRuns, 60], ['warm start → dom0 prompt', warmRuns, 5]);
} finally {
  rmSync(home, { recursive: true, force: true });
}

const fmt = (x) => x.toFixed(2).padStart(7);
console.log(
  `qemu-xen start times, ${RUNS} runs each (accel ${process.env.XENLAB_XEN_ACCEL ?? 'auto'}, load ${loadavg()[0].toFixed(1)})`,
);
console.log('| measure                   | p50 (s) | min (s) | max (s) | agent ready p50 | target | ok |');
console.log('|---------------------------|---------|---------|---------|-----------------|--------|----|');
const json = { runs: RUNS, xen: image.xenVersion, kernel: image.kernelRelease };
for (const [name, runs, target] of rows) {
  const prompts = runs.map((r) => r.prompt);
  const mid = p50(prompts);
  console.log(
    `| ${name.padEnd(25)} | ${fmt(mid)} | ${fmt(Math.min(...prompts))} | ${fmt(Math.max(...prompts))} | ${fmt(p50(runs.map((r) => r.ready))).padStart(15)} | < ${String(target).padEnd(4)} | ${mid < target ? 'ok' : 'NO'} |`,
  );
  json[name.startsWith('cold') ? 'cold_p50_s' : 'warm_p50_s'] = Number(mid.toFixed(2));
  json[name.startsWith('cold') ? 'cold_runs_s' : 'warm_runs_s'] = prompts.map((x) => Number(x.toFixed(2)));
}
json.load1 = Number(loadavg()[0].toFixed(1));
console.log(JSON.stringify(json));
