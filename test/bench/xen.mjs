#!/usr/bin/env node
// npm run bench:xen — how long a learner waits for a nested Xen host (the qemu-xen driver).
//
//  cold: driver.create() with warm starts off → QEMU boots Xen and dom0 → the root prompt shows on the console.
//  warm: driver.create() from the saved template state → dom0's agent answers → the prompt shows after Enter.
//  3 machines (#13): an environment of a Xen host (1200 MB) and two storage nodes (350 MB, a data disk each) on their
//  private network, started in parallel → each console shows its own prompt; cold (every machine boots) and warm
//  (every machine loads its shape's template). BENCH_MACHINE_RUNS (2) runs each; BENCH_ONLY=machines skips the rest.
//  failover gap (#13): lab 22 (`lose-a-storage-array`) solved by its own solve.sh up to its "Pull the plug" button,
//  then the longest pause between two of the guest's disk writes (its disk on NFS from the cluster), split into
//  detection (plug → corosync's new membership on storage-b), Pacemaker (→ floating IP up on storage-b) and the NFS
//  client (→ the guest's next write). The baseline in the same run is detection: the floor any tuning of the rest
//  keeps. BENCH_FAILOVER_RUNS (1; each ~5 min under TCG); BENCH_ONLY=failover times only it.
// Each p50 over BENCH_RUNS (5) runs, one VM at a time (2 cores shared). Needs a built image
// (`sudo npx xenlab image build --xen`). Prints a table, then one line of JSON. Targets: issue #8 cold < 60 s,
// warm < 5 s; issue #13 three machines cold < 90 s, warm < 10 s, failover gap < 30 s.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { createQemuXenDriver, findXenImage, findStorageImage } = await import(
  pathToFileURL(join(root, 'sandbox', 'dist', 'drivers', 'qemu-xen', 'index.js')).href
);

const dist = (...p) => import(pathToFileURL(join(root, 'sandbox', 'dist', ...p)).href);
const { createLabEnvironment } = await dist('lab-runtime', 'environment.js');
const { createDriverForLab } = await dist('lab-runtime', 'drivers.js');
const { solveParts } = await dist('lab-runtime', 'prove.js');
const { LABS_DIR, loadLab } = await dist('labs', 'loader.js');

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FAILOVER_RUNS = Number(process.env.BENCH_FAILOVER_RUNS ?? 1);
// Three machines of one environment (a Xen host and two storage nodes, #13): fewer runs, each boots three VMs.
const MACHINE_RUNS = Number(process.env.BENCH_MACHINE_RUNS ?? 2);
// `BENCH_ONLY=machines` times only those.
const ONLY = process.env.BENCH_ONLY;
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

/** The three machines of a storage lab (#13), in about 2 GiB. */
const MACHINES = [
  { name: 'xen-1', image: 'xen', memoryMb: 1200 },
  { name: 'storage-a', image: 'storage', memoryMb: 350, disks: [{ name: 'drbd', sizeMb: 256 }] },
  { name: 'storage-b', image: 'storage', memoryMb: 350, disks: [{ name: 'drbd', sizeMb: 256 }] },
];

/**
 * Creates a three-machine environment (they boot in parallel) and resolves with seconds until every machine's
 * console shows its own root prompt after an Enter (the xen node's name comes from the private network setup).
 */
async function machinesToPrompts(driver, id, home) {
  const t0 = performance.now();
  const env = await driver.create({ id, home, nodes: MACHINES });
  const ready = (performance.now() - t0) / 1000;
  await Promise.all(
    MACHINES.map(
      (m) =>
        new Promise((resolvePrompt, reject) => {
          const term = env.attachTerminal({ cols: 120, rows: 40 }, m.name);
          let out = '';
          const prompt = new RegExp(`root@${m.name}\\S*:[^\\n]*# `); // colour codes around the name
          const timer = setTimeout(
            () => reject(new Error(`no prompt on ${m.name} in 60 s:\n${out.slice(-500)}`)),
            60_000,
          );
          term.onData((d) => {
            out += d.toString('utf8');
            if (prompt.test(out.slice(-4000))) {
              clearTimeout(timer);
              term.kill();
              resolvePrompt();
            }
          });
          setTimeout(() => term.write('\r'), 100);
        }),
    ),
  );
  const prompt = (performance.now() - t0) / 1000;
  const ping = await env.exec(['busybox', 'ping', '-c', '1', '-W', '5', 'storage-b'], { node: 'xen-1' });
  if (ping.code !== 0) throw new Error(`xen-1 could not ping storage-b: ${ping.stdout}${ping.stderr}`);
  await env.destroy();
  return { ready, prompt };
}

/** Node-side epoch seconds of log lines, and the guest's longest write pause (see the header). */
const STORAGE_TIMES = `
t() { date -d "$1" +%s.%N; }
lost=$(grep -h 'A new membership.*Members left' /var/log/corosync/corosync.log | tail -1 | awk '{print $1, $2, $3}')
vip=$(grep -h 'Result of start operation for p_vip on storage-b: ok' /var/log/pacemaker/pacemaker.log | tail -1 | awk '{print $1, $2, $3}')
echo "$(t "$lost") $(t "$vip")"`;
const GUEST_GAP = `
guest=\${LAB_GUEST_NAME:-$(. /etc/profile.d/xenlab-lab.sh 2>/dev/null; echo "\${LAB_GUEST_NAME:-}")}
grep -a '^SEQ .* ok' /var/log/xen/console/guest-$guest.log | awk 'p { g = $3 - p; if (g > m) { m = g; s = p; e = $3 } } { p = $3 } END { print m + 0, s + 0, e + 0 }'
grep -ac '^SEQ .* EIO' /var/log/xen/console/guest-$guest.log || true`;

/** Lab 22 up to its failover; the gap and its parts in seconds. */
async function failoverGap(driver, n, home) {
  const lab = loadLab(join(LABS_DIR, 'lose-a-storage-array'));
  const env = await createLabEnvironment({
    lab,
    driver,
    learnerId: `bench-failover-${n}`,
    home,
    pollMs: 3_600_000,
    fast: true,
  });
  try {
    let pluggedAt = 0;
    for (const part of solveParts(readFileSync(join(lab.dir, lab.manifest.solve), 'utf8'))) {
      if ('press' in part) {
        if (part.press !== 'pull-the-plug') break;
        pluggedAt = Date.now() / 1000;
        await env.faults.press(part.press);
        continue;
      }
      if (part.script.split('\n').every((l) => /^\s*(#.*)?$/.test(l))) continue;
      const r = await env.sandbox.exec(['bash', '-s'], {
        input: part.script,
        timeoutMs: 300_000,
        node: part.node,
      });
      if (r.code !== 0)
        throw new Error(`solve part on ${part.node} exited ${r.code}: ${r.stderr.slice(-300)}`);
    }
    const run = async (node, script) =>
      (await env.sandbox.exec(['bash', '-s'], { input: script, node })).stdout.trim();
    const [lost, vip] = (await run('storage-b', STORAGE_TIMES)).split(/\s+/).map(Number);
    const [gapLine, eio] = (await run('xen-1', GUEST_GAP)).split('\n');
    const [gap, , resumed] = gapLine.split(/\s+/).map(Number);
    if (Number(eio) > 0) throw new Error(`the guest saw ${eio} I/O errors`);
    return { gap, detect: lost - pluggedAt, pacemaker: vip - lost, client: resumed - vip };
  } finally {
    await env.close();
  }
}

const image = findXenImage();
let storage;
try {
  storage = findStorageImage();
} catch (err) {
  process.stderr.write(`three machines not timed: ${err.message}\n`);
}
const home = mkdtempSync(join(tmpdir(), 'xenlab-bench-xen-'));
const cold = createQemuXenDriver({ image, warm: false });
const warm = createQemuXenDriver({ image, warm: true });
const rows = [];
const failovers = [];
try {
  // The template (saved after one cold boot) must exist before warm starts are timed; not counted.
  if (ONLY !== 'machines' && ONLY !== 'failover') {
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
  }
  if (storage && ONLY !== 'failover') {
    const m = { image, storageImage: storage };
    const coldM = createQemuXenDriver({ ...m, warm: false });
    const warmM = createQemuXenDriver({ ...m, warm: true });
    // The templates of these shapes (the xen node: 1200 MB, one NIC; a storage node) first; not counted.
    await (await warmM.create({ id: 'bench-m-template', home, nodes: MACHINES })).destroy();
    const coldRuns = [];
    for (let i = 0; i < MACHINE_RUNS; i++) {
      coldRuns.push(await machinesToPrompts(coldM, `bench-m-cold-${i}`, home));
      process.stderr.write(
        `3 machines cold ${i + 1}/${MACHINE_RUNS}: ${coldRuns.at(-1).prompt.toFixed(1)} s\n`,
      );
    }
    const warmRuns = [];
    for (let i = 0; i < MACHINE_RUNS; i++) {
      warmRuns.push(await machinesToPrompts(warmM, `bench-m-warm-${i}`, home));
      process.stderr.write(
        `3 machines warm ${i + 1}/${MACHINE_RUNS}: ${warmRuns.at(-1).prompt.toFixed(1)} s\n`,
      );
    }
    rows.push(['3 machines cold → prompts', coldRuns, 90], ['3 machines warm → prompts', warmRuns, 10]);
  }
  if (storage && (ONLY === undefined || ONLY === 'failover')) {
    const driver = await createDriverForLab('qemu-xen');
    try {
      for (let i = 0; i < FAILOVER_RUNS; i++) {
        failovers.push(await failoverGap(driver, i, home));
        const f = failovers.at(-1);
        process.stderr.write(
          `failover ${i + 1}/${FAILOVER_RUNS}: gap ${f.gap} s (detect ${f.detect.toFixed(1)}, pacemaker ${f.pacemaker.toFixed(1)}, client ${f.client.toFixed(1)})\n`,
        );
      }
    } finally {
      await driver.close?.();
    }
  }
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
  const key = `${name.startsWith('3') ? 'machines_' : ''}${name.includes('cold') ? 'cold' : 'warm'}`;
  json[`${key}_p50_s`] = Number(mid.toFixed(2));
  json[`${key}_runs_s`] = prompts.map((x) => Number(x.toFixed(2)));
}
if (failovers.length) {
  const gap = p50(failovers.map((f) => f.gap));
  const detect = p50(failovers.map((f) => f.detect));
  console.log('');
  console.log(
    `failover gap, lab 22, ${failovers.length} run(s): the guest's longest pause between two disk writes`,
  );
  console.log(
    '| gap p50 (s) | detection (s) | Pacemaker (s) | NFS client (s) | gap / detection | target | ok |',
  );
  console.log(
    '|-------------|---------------|---------------|----------------|-----------------|--------|----|',
  );
  console.log(
    `| ${fmt(gap).padStart(11)} | ${fmt(detect).padStart(13)} | ${fmt(p50(failovers.map((f) => f.pacemaker))).padStart(13)} | ${fmt(p50(failovers.map((f) => f.client))).padStart(14)} | ${(gap / detect).toFixed(2).padStart(15)} | < 30   | ${gap < 30 ? 'ok' : 'NO'} |`,
  );
  json.failover_gap_p50_s = gap;
  json.failover_runs = failovers.map((f) => ({
    gap: f.gap,
    detect: Number(f.detect.toFixed(1)),
    pacemaker: Number(f.pacemaker.toFixed(1)),
    client: Number(f.client.toFixed(1)),
  }));
}
json.load1 = Number(loadavg()[0].toFixed(1));
console.log(JSON.stringify(json));
