#!/usr/bin/env node
// npm run bench:balance — `xenlab-tools balance` on 16 hosts and 400 VMs with a moving hot spot (issue #14).
//
// Two simulators from the same scenario run side by side in this process, in real time (the simulator samples its
// metrics every 5 s): one with the balancer (`xenlab-tools balance --policy … --interval 5`, in-process, acting),
// one without. Every M sample intervals the load moves (POST /_xenlab/workload, steady CPU): the hogs of the last
// phase stop, and K VMs that were placed on another host burn their vCPUs — 4 VMs at 100 % (a critical host: acted
// on at the first sample), then 3 VMs at a level that puts the host at about 90 % (over `high`, under `critical`:
// acted on at the second sample), and so on. Per phase it measures, from each pool's own samples, the time from saturation (the hot host's cpu_avg ≥ high) to relief (no
// host ≥ high), in sample intervals, and the moves made against the fewest that relieve the host (the hogs' known
// demand on top of what the host used before). It also times the decision core on this pool.
// Prints a table, then one line of JSON. Targets: relief within 2 sample intervals; moves ≤ 1.5 × the minimum.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const load = (p) => import(pathToFileURL(join(root, p)).href);
const { startSimulator } = await load('sandbox/dist/sim/index.js');
const { runTools, localFiles, readBalanceSnapshot, decideBalance, parseBalancePolicy } = await load(
  'toolkit/dist/tools/index.js',
);
const { createClient } = await load('toolkit/dist/xenapi/index.js');

const HOSTS = Number(process.env.BENCH_HOSTS ?? 16);
const VMS = Number(process.env.BENCH_VMS ?? 400);
const PHASES = Number(process.env.BENCH_PHASES ?? 6);
const M = Number(process.env.BENCH_PHASE_INTERVALS ?? 4);
const STEP = 5;
const HIGH = 0.85;
const PCPUS = 8;
const POLICY = `# bench:balance
thresholds:
  cpu: { high: ${HIGH}, critical: 0.95, target: 0.65 }
hysteresis: { samples: 2, criticalSamples: 1, cooldown: 300 }
maxMovesPerInterval: 2
`;

const hostName = (h) => `host-${String(h + 1).padStart(2, '0')}`;
const vmName = (h, i) => `vm-${String(h + 1).padStart(2, '0')}-${String(i + 1).padStart(2, '0')}`;
const scenario = {
  pool: { name: 'bench-balance' },
  seed: 'bench-balance',
  hosts: Array.from({ length: HOSTS }, (_, h) => ({ name: hostName(h), cpus: PCPUS, memoryGiB: 128 })),
  sharedStorage: [{ name: 'NFS storage', type: 'nfs', default: true }],
  vms: Array.from({ length: VMS }, (_, n) => ({
    name: vmName(n % HOSTS, Math.floor(n / HOSTS)),
    host: hostName(n % HOSTS),
  })),
};

const dir = mkdtempSync(join(tmpdir(), 'bench-balance-'));
const policyFile = join(dir, 'policy.yaml');
writeFileSync(policyFile, POLICY);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const t0 = performance.now();
const [withSim, withoutSim] = await Promise.all([
  startSimulator({ port: 0, fast: true, scenario }),
  startSimulator({ port: 0, fast: true, scenario }),
]);
const buildS = (performance.now() - t0) / 1000;
const pools = [
  { name: 'balancer', sim: withSim },
  { name: 'no balancer', sim: withoutSim },
];
for (const p of pools) p.client = createClient({ url: p.sim.url, user: 'root', password: 'xenlab' });

async function control(sim, path, body) {
  const res = await fetch(new URL(path, sim.controlUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${sim.controlToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`control ${path}: ${res.status} ${await res.text()}`);
}
// A steady CPU workload (the simulator's workload route; a vm-hog where it has none).
let workloads = true;
async function setLoad(sim, name, level) {
  if (workloads)
    try {
      return await control(
        sim,
        'workload',
        level > 0 ? { name_label: name, cpu: level } : { name_label: name, clear: true },
      );
    } catch (e) {
      if (!/: (404|501) /.test(e.message)) throw e;
      workloads = false;
    }
  return control(sim, 'fault/vm-hog', { name_label: name, kind: 'cpu', level });
}

/** Host cpu_avg per sample, oldest first: [{ t, cpu: Map(host name → value) }]. */
async function hostRows(p, seconds) {
  const session = await p.client.login();
  const url = new URL('/rrd_updates', p.sim.url);
  url.searchParams.set('session_id', session);
  url.searchParams.set('start', String(-seconds));
  url.searchParams.set('host', 'true');
  url.searchParams.set('json', 'true');
  url.searchParams.set('vm_uuid', 'none'); // hosts only
  const j = await (await fetch(url)).json();
  const names = p.hostNames;
  const cols = j.meta.legend
    .map((l, i) => [l.split(':'), i])
    .filter(([l]) => l[1] === 'host' && l[3] === 'cpu_avg')
    .map(([l, i]) => [names.get(l[2]), i]);
  return j.data
    .map((r) => ({ t: r.t, cpu: new Map(cols.map(([n, i]) => [n, Number(r.values[i])])) }))
    .sort((a, b) => a.t - b.t);
}

async function residents(p) {
  const [hosts, vms] = await Promise.all([
    p.client.call('host.get_all_records'),
    p.client.call('VM.get_all_records'),
  ]);
  const byRef = new Map(Object.entries(hosts).map(([ref, h]) => [ref, h.name_label]));
  const out = new Map();
  for (const vm of Object.values(vms))
    if (!vm.is_control_domain && !vm.is_a_template && vm.power_state === 'Running')
      out.set(vm.name_label, byRef.get(vm.resident_on));
  return out;
}

for (const p of pools) {
  const hosts = await p.client.call('host.get_all_records');
  p.hostNames = new Map(Object.values(hosts).map((h) => [h.uuid, h.name_label]));
  // The first read seeds the simulator's history from the pool as it is: idle.
  await hostRows(p, 10);
}

// The balancer, in-process, as a learner would run it.
const controller = new AbortController();
let balancerOut = '';
let balancerErr = '';
const balancer = runTools(
  ['balance', '--policy', policyFile, '--interval', '5', '--log', join(dir, 'log.jsonl')],
  {
    io: {
      stdout: (s) => (balancerOut += s),
      stderr: (s) => (balancerErr += s),
      stdoutIsTTY: false,
      stderrIsTTY: false,
      columns: 160,
      rows: 40,
    },
    files: localFiles,
    env: { XENLAB_URL: withSim.url, XENLAB_PASSWORD: 'xenlab', HOME: dir },
    now: () => performance.now(),
    createClient,
    signal: controller.signal,
  },
);
await sleep(3000);

// The moving hot spot: phase k heats hosts[order[k]] with K VMs first placed there.
const order = Array.from({ length: PHASES }, (_, k) => (3 + k * 5) % HOSTS);
const phases = [];
let previous = [];
for (let k = 0; k < PHASES; k++) {
  const h = order[k];
  const critical = k % 2 === 0;
  const K = critical ? 4 : 3;
  const hot = Array.from({ length: K }, (_, i) => vmName(h, i));
  // The host's own use just before (idle VMs and dom0), from the pool without the balancer.
  const before = (await hostRows(pools[1], 10)).at(-1);
  const idle = (before?.cpu.get(hostName(h)) ?? 0) * PCPUS;
  const level = critical ? 1 : Math.min(1, Math.max(0.5, (0.9 * PCPUS - idle) / (2 * K)));
  for (const p of pools)
    await Promise.all([
      ...previous.map((n) => setLoad(p.sim, n, 0)),
      ...hot.map((n) => setLoad(p.sim, n, level)),
    ]);
  const start = Date.now();
  // Fewest moves: each hog takes its demand (2 vCPUs at `level`) off the host.
  let demand = idle + 2 * level * K;
  let min = 0;
  while (demand / PCPUS >= HIGH && min < K) {
    demand -= 2 * level;
    min++;
  }
  phases.push({ k, host: hostName(h), hot: K, level: Math.round(level * 100) / 100, start, min });
  previous = hot;
  await sleep(M * STEP * 1000);
  phases[k].end = Date.now();
}
controller.abort();
const code = await balancer;
if (code !== 0) throw new Error(`balance exited ${code}: ${balancerErr}`);

// Per phase and pool: saturation and relief from the samples, moves from the balancer's messages.
const moveTimes = Object.values(await pools[0].client.call('message.get_all_records'))
  .filter((m) => m.name === 'XENLAB_BALANCE_MOVE')
  .map((m) => m.timestamp.getTime());
const failed = Object.values(await pools[0].client.call('message.get_all_records')).filter(
  (m) => m.name === 'XENLAB_BALANCE_FAILED',
).length;
const rows = {};
for (const p of pools) rows[p.name] = await hostRows(p, PHASES * M * STEP + 120);
const results = phases.map((ph) => {
  const out = { phase: ph.k + 1, host: ph.host, hogs: ph.hot, level: ph.level, minMoves: ph.min };
  for (const p of pools) {
    const within = rows[p.name].filter((r) => r.t * 1000 >= ph.start - STEP * 1000 && r.t * 1000 < ph.end);
    const sat = within.find((r) => (r.cpu.get(ph.host) ?? 0) >= HIGH);
    const relief = sat && within.find((r) => r.t > sat.t && ![...r.cpu.values()].some((v) => v >= HIGH));
    out[p.name] = {
      saturatedAt: sat?.t ?? null,
      peak: Math.max(...within.map((r) => r.cpu.get(ph.host) ?? 0)),
      reliefIntervals: sat && relief ? (relief.t - sat.t) / STEP : null,
    };
  }
  out.moves = moveTimes.filter((t) => t >= ph.start && t < ph.end).length;
  return out;
});

// The decision core alone, on this pool as it is now.
const policy = parseBalancePolicy(POLICY, 'policy.yaml');
const { snapshot } = await readBalanceSnapshot(pools[0].client, {
  seconds: 30,
  allowUnauthorized: false,
  perHost: false,
});
const N = 200;
const d0 = performance.now();
for (let i = 0; i < N; i++) decideBalance(snapshot, policy, []);
const decideMs = (performance.now() - d0) / N;
const placement = await residents(pools[0]);

for (const p of pools) {
  await p.client.close();
  await p.sim.close();
}
rmSync(dir, { recursive: true, force: true });

const fmt = (v) => (v === null ? 'never' : String(v));
// One decision as the balancer explained it.
const example = balancerOut.split('\n');
const at = example.findIndex((l) => l.startsWith('  MOVE '));
if (at >= 0) console.log(`${example.slice(at - 1, at + 7).join('\n')}\n`);
console.log(
  `${HOSTS} hosts × ${PCPUS} pCPUs, ${placement.size} running VMs; ${PHASES} phases of ${M} sample intervals (${STEP} s); built in ${buildS.toFixed(1)} s`,
);
console.log(
  `${'phase'.padEnd(6)}${'hot host'.padEnd(10)}${'hogs'.padStart(10)}${'peak'.padStart(8)}${'relief (intervals)'.padStart(20)}${'no balancer'.padStart(13)}${'moves'.padStart(7)}${'min'.padStart(5)}`,
);
for (const r of results)
  console.log(
    `${String(r.phase).padEnd(6)}${r.host.padEnd(10)}${`${r.hogs}×${Math.round(r.level * 100)}%`.padStart(10)}${`${(r.balancer.peak * 100).toFixed(0)}%`.padStart(8)}${fmt(r.balancer.reliefIntervals).padStart(20)}${fmt(r['no balancer'].reliefIntervals).padStart(13)}${String(r.moves).padStart(7)}${String(r.minMoves).padStart(5)}`,
  );
const moves = results.reduce((n, r) => n + r.moves, 0);
const minMoves = results.reduce((n, r) => n + r.minMoves, 0);
const reliefs = results.map((r) => r.balancer.reliefIntervals);
const worst = reliefs.some((v) => v === null) ? null : Math.max(...reliefs);
const saturatedAll = results.every((r) => r['no balancer'].saturatedAt !== null);
const pass = worst !== null && worst <= 2 && moves <= 1.5 * minMoves && failed === 0 && saturatedAll;
console.log(
  `moves ${moves} (min ${minMoves}, ratio ${(moves / minMoves).toFixed(2)}, ${failed} failed); worst relief ${fmt(worst)} intervals with the balancer, ${results.filter((r) => r['no balancer'].reliefIntervals === null).length}/${results.length} phases never relieved without; decide() ${decideMs.toFixed(2)} ms per evaluation`,
);
console.log(
  JSON.stringify({
    bench: 'balance',
    hosts: HOSTS,
    vms: placement.size,
    phases: PHASES,
    phaseIntervals: M,
    stepS: STEP,
    results,
    moves,
    minMoves,
    movesRatio: Math.round((moves / minMoves) * 100) / 100,
    failedMoves: failed,
    worstReliefIntervals: worst,
    decideMs: Math.round(decideMs * 100) / 100,
    targets: { reliefIntervals: 2, movesRatio: 1.5 },
    pass,
  }),
);
process.exitCode = pass ? 0 : 1;
