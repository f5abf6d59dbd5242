#!/usr/bin/env node
// node test/bench/grading-idle.mjs (after `node scripts/build.mjs --no-site`) — what lab environments nobody watches cost an idle gateway (issue #12).
//
// Brings up N environments of lab 2 ("The XenAPI": three script checks, all failing on a fresh environment, as they
// are for a learner who left), attaches no lab channel (every page is closed), and measures over a window: the CPU
// the gateway process and the processes it spawned used (utime+stime+cutime+cstime of /proc/self/stat), and the
// sandbox exec calls the graders made. Then one page attaches to one environment: its task state must arrive.
// Prints a table, then one line of JSON. Runs on the built sandbox (sandbox/dist), or on the sources under
// vite-node with BENCH_SOURCE=1 (`npx vite-node test/bench/grading-idle.mjs`).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fromSource = process.env.BENCH_SOURCE === '1';
const mod = (p) =>
  fromSource
    ? pathToFileURL(join(root, 'sandbox', 'src', `${p}.ts`)).href
    : pathToFileURL(join(root, 'sandbox', 'dist', `${p}.js`)).href;
const { createLabEnvironment, createLabLocalDriver } = await import(mod('lab-runtime/environment'));

const N = Number(process.env.BENCH_ENVS ?? 4);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 30);
const LAB = 'the-xenapi';
const CLK_TCK = 100;

/** CPU seconds of this process and its reaped children. */
function cpuSeconds() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 (utime, stime, cutime, cstime) are 11-14 after the command name.
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

const base = mkdtempSync(join(tmpdir(), 'xenlab-bench-idle-'));
const driver = createLabLocalDriver();
const envs = [];
let execs = 0;
try {
  for (let i = 0; i < N; i++) {
    const env = await createLabEnvironment({
      lab: LAB,
      driver,
      learnerId: `idle-${i}`,
      home: join(base, `home-${i}`),
      fast: true,
    });
    const exec = env.sandbox.exec.bind(env.sandbox);
    env.sandbox.exec = (...args) => {
      execs++;
      return exec(...args);
    };
    envs.push(env);
  }
  // Let bring-up work settle (first evaluations, children reaped).
  await new Promise((r) => setTimeout(r, 3000));
  const cpu0 = cpuSeconds();
  const exec0 = execs;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - cpu0;
  const execCount = execs - exec0;

  // A page attaches: the state arrives (and evaluations resume).
  const env = envs[0];
  let attachMs = null;
  if (typeof env.grader.watch === 'function') {
    const a0 = performance.now();
    const before = execs;
    const release = env.grader.watch();
    for (let i = 0; i < 200 && execs === before; i++) await new Promise((r) => setTimeout(r, 50));
    attachMs = execs > before ? Math.round(performance.now() - a0) : null;
    release();
  }
  const row = {
    envs: N,
    windowS: Math.round(seconds),
    cores: Number((cpu / seconds).toFixed(3)),
    cpuSeconds: Number(cpu.toFixed(2)),
    execs: execCount,
    execsPer30s: Math.round((execCount * 30) / seconds),
    scriptsResumeAfterAttachMs: attachMs,
  };
  console.log('environments  window  cores   execs/30s  resume-after-attach');
  console.log(
    `${String(row.envs).padEnd(14)}${`${row.windowS} s`.padEnd(8)}${String(row.cores).padEnd(8)}${String(row.execsPer30s).padEnd(11)}${row.scriptsResumeAfterAttachMs === null ? '—' : `${row.scriptsResumeAfterAttachMs} ms`}`,
  );
  console.log(JSON.stringify({ bench: 'grading-idle', ...row }));
} finally {
  for (const e of envs) await e.close().catch(() => undefined);
  rmSync(base, { recursive: true, force: true });
}
process.exit(0);
