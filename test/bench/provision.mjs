#!/usr/bin/env node
// npm run bench:provision — 1000 VMs from a template against one simulator, in one run:
//   1. a sequential loop of `xe vm-install template=… new-name-label=…` (one xe invocation per VM, each logging in
//      like a fresh `xe` process does; run in-process, so Node start-up — ~50–100 ms per real process — is NOT
//      counted, which favours the loop), on the fresh pool;
//   2. `xenlab-tools provision --count 1000` (fast clones, bounded concurrency) on the same simulator, afterwards,
//      so it works against the bigger database.
// A few real `xe` processes are also timed to show what the loop costs from a shell.
// Prints a table, then one line of JSON. Target (issue #7): provision at least 20× faster than the loop.
import { spawn } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const load = (p) => import(pathToFileURL(join(root, p)).href);
const { startSimulator } = await load('sandbox/dist/sim/index.js');
const { main: xeMain } = await load('toolkit/dist/xe/index.js');
const { runTools, localFiles } = await load('toolkit/dist/tools/index.js');
const { createClient } = await load('toolkit/dist/xenapi/index.js');

const N = Number(process.env.BENCH_VMS ?? 1000);
const SPAWNED = Number(process.env.BENCH_XE_PROCESSES ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const TEMPLATE = 'Debian Bookworm 12';

const sim = await startSimulator({ port: 0, fast: true, seed: 'bench-provision' });
const port = new URL(sim.url).port;
const conn = ['-s', '127.0.0.1', '-p', port, '-u', 'root', '-pw', 'xenlab'];
const silent = { stdout: () => {}, stderr: () => {} };

async function xeOnce(name) {
  let err = '';
  const code = await xeMain({
    argv: ['vm-install', `template=${TEMPLATE}`, `new-name-label=${name}`, ...conn],
    io: { stdout: () => {}, stderr: (s) => (err += s) },
    env: {},
    readFile: () => undefined,
    createClient: (o) =>
      createClient({ url: o.url, user: o.user, password: o.password, originator: o.originator }),
  });
  if (code !== 0) throw new Error(`xe vm-install ${name} exited ${code}: ${err}`);
}

function xeProcess(name) {
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      [
        join(root, 'toolkit', 'bin', 'xe.js'),
        'vm-install',
        `template=${TEMPLATE}`,
        `new-name-label=${name}`,
        ...conn,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) =>
      code === 0 ? ok(performance.now() - t0) : fail(new Error(`xe exited ${code}: ${err}`)),
    );
  });
}

let loopMs;
let toolMs;
let spawnedMs = [];
let summary;
try {
  const t0 = performance.now();
  for (let i = 1; i <= N; i++) await xeOnce(`xe-${i}`);
  loopMs = performance.now() - t0;

  for (let i = 1; i <= SPAWNED; i++) spawnedMs.push(await xeProcess(`xe-proc-${i}`));

  let out = '';
  let err = '';
  const t1 = performance.now();
  const code = await runTools(
    [
      'provision',
      '--template',
      TEMPLATE,
      '--count',
      String(N),
      '--name',
      'tool-{n:4}',
      '--concurrency',
      String(CONCURRENCY),
      '--json',
    ],
    {
      io: {
        stdout: (s) => (out += s),
        stderr: (s) => (err += s),
        stdoutIsTTY: false,
        stderrIsTTY: false,
        columns: 80,
        rows: 24,
      },
      files: localFiles,
      env: { XENLAB_URL: sim.url, XENLAB_PASSWORD: 'xenlab' },
      now: () => performance.now(),
      createClient,
    },
  );
  toolMs = performance.now() - t1;
  if (code !== 0) throw new Error(`provision exited ${code}: ${err}${out}`);
  summary = JSON.parse(out);
  if (summary.created !== N) throw new Error(`provision created ${summary.created}, wanted ${N}`);
} finally {
  await sim.close();
}
void silent;

const perSpawn = spawnedMs.length ? spawnedMs.reduce((a, b) => a + b, 0) / spawnedMs.length : NaN;
const rows = [
  [`xe vm-install loop (${N}, in-process)`, loopMs, loopMs / N],
  [`xenlab-tools provision (${N}, c=${CONCURRENCY})`, toolMs, toolMs / N],
  [`xe vm-install as processes (${spawnedMs.length} sampled)`, perSpawn * N, perSpawn],
];
console.log(`${'run'.padEnd(44)} ${'total s'.padStart(9)} ${'ms/VM'.padStart(8)}`);
for (const [name, total, per] of rows)
  console.log(`${name.padEnd(44)} ${(total / 1000).toFixed(2).padStart(9)} ${per.toFixed(2).padStart(8)}`);
console.log(`(the last row is extrapolated to ${N} VMs from the sampled processes)`);
const speedup = loopMs / toolMs;
console.log(
  JSON.stringify({
    bench: 'provision',
    vms: N,
    concurrency: CONCURRENCY,
    xeLoopMs: Math.round(loopMs),
    provisionMs: Math.round(toolMs),
    xeProcessMsPerVm: Math.round(perSpawn * 10) / 10,
    speedup: Math.round(speedup * 10) / 10,
    speedupVsProcesses: Math.round(((perSpawn * N) / toolMs) * 10) / 10,
    target: 20,
    pass: speedup >= 20,
    steps: summary?.steps,
  }),
);
process.exitCode = speedup >= 20 ? 0 : 1;
