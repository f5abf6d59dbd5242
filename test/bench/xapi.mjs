#!/usr/bin/env node
// XenAPI simulator benchmark (npm run bench:xapi): XML-RPC and JSON-RPC calls per second (VM.get_record) on
// loopback, cloning + provisioning + starting 1000 VMs over the wire with 16 concurrent clients in fast mode, and
// event.from wake-up latency after a change, and 100 cross-pool migrations against 100 intra-pool ones
// (xapi-cross-pool.mjs). Prints a table, then one line of JSON.
// Targets (task h2-simcore): >= 3000 XML-RPC calls/s; 1000 clones + starts < 3 s; event wake-up p50 < 5 ms.
// The simulator runs as its own process (`xenlab sim`), as it does for learners, so client and server do not share
// one event loop.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSimulator } from '../../sandbox/dist/sim/index.js';
import { benchCrossPool } from './xapi-cross-pool.mjs';

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function post(url, path, body, type) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': type, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let id = 0;
async function json(url, method, ...params) {
  const text = await post(
    url,
    '/jsonrpc',
    JSON.stringify({ jsonrpc: '2.0', method, params, id: ++id }),
    'application/json',
  );
  const r = JSON.parse(text);
  if (r.error) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
  return r.result;
}

const xmlBody = (method, ...params) =>
  `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${params.map((p) => `<param><value>${p}</value></param>`).join('')}</params></methodCall>`;

async function rate(seconds, concurrency, once) {
  let n = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await once();
        n++;
      }
    }),
  );
  return n / seconds;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const scenario = {
  pool: { name: 'bench' },
  seed: 'bench',
  hosts: [1, 2, 3].map((i) => ({ name: `bench-0${i}`, cpus: 64, memoryGiB: 256 })),
  sharedStorage: [{ name: 'NFS storage', type: 'nfs', sizeGiB: 100_000, default: true }],
  templates: [{ name: 'Bench tiny', memoryMiB: 256, vcpus: 1, diskGiB: 1 }],
};

const dir = mkdtempSync(join(tmpdir(), 'xenlab-bench-'));
const scenarioFile = join(dir, 'bench.json');
writeFileSync(scenarioFile, JSON.stringify(scenario));
const bin = fileURLToPath(new URL('../../sandbox/bin/xenlab.js', import.meta.url));
const child = spawn(process.execPath, [bin, 'sim', '--port', '0', '--fast', '--scenario', scenarioFile], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, XENLAB_SIM_CONTROL_TOKEN: 'bench' },
});
// Server CPU time (from the control API) is the figure that does not depend on how busy the machine is.
const serverCpuMs = async () => {
  const res = await fetch(`${url}/_xenlab/health`, { headers: { authorization: 'Bearer bench' } });
  return (await res.json()).cpuMs;
};
const url = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    const m = /listening on (\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
  child.on('exit', (code) => reject(new Error(`xenlab sim exited (${code}) before listening`)));
});
try {
  const s = await json(url, 'session.login_with_password', 'root', 'xenlab', '2.21', 'bench');
  const [template] = await json(url, 'VM.get_by_name_label', s, 'Bench tiny');

  // 1. Calls per second.
  const xml = xmlBody('VM.get_record', s, template);
  const jsonReq = JSON.stringify({ jsonrpc: '2.0', method: 'VM.get_record', params: [s, template], id: 1 });
  // Warm-up (JIT, connection pool), then alternate 1 s slices so machine noise hits both protocols alike.
  await rate(1, 8, () => post(url, '/', xml, 'text/xml'));
  await rate(1, 8, () => post(url, '/jsonrpc', jsonReq, 'application/json'));
  let xmlSum = 0;
  let jsonSum = 0;
  for (let i = 0; i < 3; i++) {
    xmlSum += await rate(1, 8, () => post(url, '/', xml, 'text/xml'));
    jsonSum += await rate(1, 8, () => post(url, '/jsonrpc', jsonReq, 'application/json'));
  }
  const xmlRate = xmlSum / 3;
  const jsonRate = jsonSum / 3;

  // 2. 1000 clones + provision + start, 16 clients.
  const total = 1000;
  let next = 0;
  let failures = 0;
  let firstError;
  const cpu0 = await serverCpuMs();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < total) {
        const i = next++;
        try {
          const vm = await json(url, 'VM.clone', s, template, `bench-${i}`);
          await json(url, 'VM.provision', s, vm);
          await json(url, 'VM.start', s, vm, false, false);
        } catch (e) {
          failures++;
          firstError ??= e.message;
        }
      }
    }),
  );
  const cloneStartMs = performance.now() - t0;
  const cloneStartCpuMs = (await serverCpuMs()) - cpu0;

  // 3. event.from wake-up latency.
  const [pool] = await json(url, 'pool.get_all', s);
  let { token } = await json(url, 'event.from', s, ['pool'], '', 0);
  const lat = [];
  for (let i = 0; i < 200; i++) {
    const waiting = json(url, 'event.from', s, ['pool'], token, 30.0);
    await new Promise((r) => setTimeout(r, 2));
    const t = performance.now();
    await Promise.all([
      json(url, 'pool.set_name_description', s, pool, `tick ${i}`),
      waiting.then((b) => {
        lat.push(performance.now() - t);
        token = b.token;
      }),
    ]);
  }

  // 4. Memory per simulator (the default pool, idle, logged in), for "200 learners on one box".
  const sims = [];
  globalThis.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < 20; i++) {
    const one = await startSimulator({ port: 0, fast: true });
    await json(one.url, 'session.login_with_password', 'root', 'xenlab', '2.21', 'bench');
    sims.push(one);
  }
  globalThis.gc?.();
  const perSimMiB = (process.memoryUsage().heapUsed - heap0) / 20 / 1024 / 1024;
  await Promise.all(sims.map((one) => one.close()));

  // 5. 100 cross-pool migrations (two simulators of one environment), against 100 VM.pool_migrate.
  const cross = await benchCrossPool(startSimulator, scenario);

  const result = {
    xmlrpc_calls_per_s: Math.round(xmlRate),
    jsonrpc_calls_per_s: Math.round(jsonRate),
    clone_start_1000_ms: Math.round(cloneStartMs),
    clone_start_failures: failures,
    clone_start_server_cpu_ms: cloneStartCpuMs,
    event_wakeup_p50_ms: Number(pct(lat, 50).toFixed(2)),
    event_wakeup_p99_ms: Number(pct(lat, 99).toFixed(2)),
    heap_per_simulator_mib: Number(perSimMiB.toFixed(2)),
    ...cross,
  };
  const rows = [
    ['XML-RPC VM.get_record (8 conns)', `${result.xmlrpc_calls_per_s} calls/s`, '>= 3000'],
    ['JSON-RPC VM.get_record (8 conns)', `${result.jsonrpc_calls_per_s} calls/s`, ''],
    [
      '1000 × clone+provision+start (16 clients)',
      `${result.clone_start_1000_ms} ms${failures ? ` (${failures} failed: ${firstError})` : ''}`,
      '< 3000 ms',
    ],
    ['  of which simulator CPU time (load-independent)', `${result.clone_start_server_cpu_ms} ms`, ''],
    ['event.from wake-up p50', `${result.event_wakeup_p50_ms} ms`, '< 5 ms'],
    ['event.from wake-up p99', `${result.event_wakeup_p99_ms} ms`, ''],
    ['JS heap per idle default-pool simulator', `${result.heap_per_simulator_mib} MiB`, ''],
    ['100 × VM.pool_migrate (8 clients, baseline)', `${cross.pool_migrate_100_ms} ms`, ''],
    [
      '100 × cross-pool migrate_receive+migrate_send',
      `${cross.cross_pool_migrate_100_ms} ms (${cross.cross_pool_vs_pool_migrate}× baseline)`,
      '',
    ],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`${'measure'.padEnd(w)}  ${'result'.padEnd(24)}  target`);
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w)}  ${b.padEnd(24)}  ${c}`);
  console.log(JSON.stringify(result));
} finally {
  agent.destroy();
  child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
