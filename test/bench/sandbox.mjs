#!/usr/bin/env node
// npm run bench:sandbox — how fast a learner gets a shell, and how a room of learners feels.
//
//  1. Start to first prompt (create the environment, open a terminal, wait for bash's prompt), p50/p95 over
//     BENCH_STARTS (20) starts: the local driver; docker cold (create+start a hardened container and its
//     network); docker from the warm pool (pool refilled before each start, as between real learners).
//  2. A room: BENCH_ROOM (200) local environments at once through the real gateway (createGateway in a child
//     process, so its memory is its own) and WebSocket clients; each types a key every 100 ms for BENCH_SECONDS
//     (60). Echo comes from the pty's line discipline (stty -icanon; cat), so latency is the gateway's path.
//     Reports echo p50/p99 and the gateway's RSS growth per environment.
// Prints a table, then one line of JSON. Targets (issue #5, 2-core machines): local start p50 < 300 ms; warm
// docker start < 300 ms; echo p99 < 50 ms with 200 learners; < 25 MB of gateway memory per environment.
// Docker parts are skipped (and said so) when no engine or image is there; BENCH_DOCKER=0 skips them too.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => pathToFileURL(join(root, 'sandbox', 'dist', p)).href;
const { createLocalDriver } = await import(dist('drivers/local/index.js'));

// ---- the gateway child: `node sandbox.mjs --gateway DIR` ----
if (process.argv[2] === '--gateway') {
  const { createGateway } = await import(dist('gateway/index.js'));
  const gw = await createGateway({ port: 0, dataDir: process.argv[3], driver: createLocalDriver() });
  process.on('message', (m) => {
    if (m === 'rss') process.send({ rss: process.memoryUsage().rss, terminals: gw.terminals });
    if (m === 'close') void gw.close().then(() => process.exit(0));
  });
  process.send({ url: gw.url });
} else {
  await main();
}

async function main() {
  const WebSocket = (await import('ws')).default;
  const { FLOW, PATHS, PROTOCOL_VERSION } = await import(dist('protocol/index.js'));
  const STARTS = Number(process.env.BENCH_STARTS ?? 20);
  const ROOM = Number(process.env.BENCH_ROOM ?? 200);
  const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
  const pct = (xs, p) => {
    if (xs.length === 0) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  };
  const dataDir = mkdtempSync(join(tmpdir(), 'xenlab-bench-sandbox-'));
  // eslint-disable-next-line no-control-regex -- prompt detection strips escape sequences
  const plain = (s) => s.replace(/\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\r/g, '');

  /** Create → terminal → prompt, timed; the environment is destroyed afterwards (not timed). */
  async function startOnce(driver, id, before, extra = {}) {
    await before?.();
    const t0 = performance.now();
    const env = await driver.create({ id, home: join(dataDir, 'homes', id), ...extra });
    const term = env.attachTerminal({ cols: 80, rows: 24 });
    await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`no prompt from ${id}: ${JSON.stringify(out)}`)),
        30_000,
      );
      term.onData((d) => {
        out += d.toString('utf8');
        if (/\$ $/.test(plain(out))) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const ms = performance.now() - t0;
    term.kill();
    await env.destroy();
    return ms;
  }
  async function series(driver, prefix, before, extra) {
    const xs = [];
    for (let i = 0; i < STARTS; i++) xs.push(await startOnce(driver, `${prefix}-${i}`, before, extra));
    return { p50: pct(xs, 50), p95: pct(xs, 95), n: xs.length };
  }

  const local = createLocalDriver();
  const starts = { local: await series(local, 'bench-local') };

  let dockerNote = '';
  if (process.env.BENCH_DOCKER !== '0') {
    try {
      const { createDockerDriver, removeLabelled, connectEngine } = await import(
        dist('drivers/docker/index.js')
      );
      const labels = { 'xenlab.test': 'bench-sandbox' };
      const cold = await createDockerDriver({ labels });
      starts.dockerCold = await series(cold, 'bench-cold');
      const warm = await createDockerDriver({ labels, pool: 2 });
      starts.dockerWarm = await series(warm, 'bench-warm', () => warm.poolReady(60_000));
      // What a learner really gets: the same, plus the link to their own pool and ~/.xe written.
      const { startSimulator } = await import(dist('sim/index.js'));
      const sim = await startSimulator({ port: 0, fast: true, password: 'bench' });
      const pool = { port: Number(new URL(sim.url).port), user: 'root', password: 'bench' };
      starts.dockerWarmWithPool = await series(warm, 'bench-warm-pool', () => warm.poolReady(60_000), {
        pool,
      });
      await sim.close();
      await warm.close();
      await removeLabelled(connectEngine(), 'xenlab.test=bench-sandbox');
    } catch (err) {
      dockerNote = `docker skipped: ${err.message}`;
    }
  } else dockerNote = 'docker skipped: BENCH_DOCKER=0';

  // ---- the room ----
  const child = fork(fileURLToPath(import.meta.url), ['--gateway', join(dataDir, 'room')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ask = (m) =>
    new Promise((resolve) => {
      child.once('message', resolve);
      if (m) child.send(m);
    });
  const { url } = await ask();
  const rssIdle = (await ask('rss')).rss;

  async function openClient() {
    const res = await fetch(new URL(PATHS.ticket, url), { method: 'POST', headers: { Origin: url } });
    const { token } = await res.json();
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
    const ws = new WebSocket(
      `${url.replace(/^http/, 'ws')}${PATHS.terminal}?token=${encodeURIComponent(token)}`,
      {
        headers: { Origin: url, Cookie: cookie },
      },
    );
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    const c = { ws, out: '', unacked: 0, pending: undefined, lat: [] };
    ws.on('message', (d, bin) => {
      if (!bin) return;
      c.unacked += d.length;
      if (c.unacked >= FLOW.ACK_EVERY) {
        ws.send(JSON.stringify({ type: 'term.ack', bytes: c.unacked }));
        c.unacked = 0;
      }
      if (c.pending && d.includes(c.pending.code)) {
        c.lat.push(performance.now() - c.pending.t0);
        c.pending = undefined;
      } else if (c.out.length < 4096) c.out += d.toString('utf8');
    });
    ws.send(JSON.stringify({ type: 'term.hello', v: PROTOCOL_VERSION, cols: 80, rows: 24 }));
    return c;
  }
  const waitFor = async (c, re, ms) => {
    const deadline = Date.now() + ms;
    while (!re.test(plain(c.out))) {
      if (Date.now() > deadline)
        throw new Error(`room: timed out on ${re}: ${JSON.stringify(c.out.slice(-200))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  // The machine's load during the room (these machines are shared): figures under a load far above the core
  // count measure the neighbours as much as the gateway.
  const loadBefore = loadavg()[0];
  const clients = [];
  const tOpen = performance.now();
  for (let i = 0; i < ROOM; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, ROOM - i) }, openClient));
    clients.push(...batch);
  }
  await Promise.all(clients.map((c) => waitFor(c, /\$ $/m, 60_000)));
  for (const c of clients) c.ws.send(Buffer.from('stty -icanon; cat >/dev/null; echo\r'));
  await new Promise((r) => setTimeout(r, 1000));
  const openSecs = (performance.now() - tOpen) / 1000;
  const rssOpen = (await ask('rss')).rss;

  // Each client types a key every 100 ms, staggered so the room's keys spread over each 100 ms.
  const keys = 'abcdefghijklmnopqrstuvwxyz';
  let rssPeak = rssOpen;
  const tEnd = Date.now() + SECONDS * 1000;
  let missed = 0;
  const timers = clients.map((c, i) => {
    let k = 0;
    const tick = () => {
      if (Date.now() >= tEnd) return;
      if (c.pending) missed++;
      else {
        const ch = keys[k++ % keys.length];
        c.pending = { code: ch.charCodeAt(0), t0: performance.now() };
        c.ws.send(Buffer.from(ch));
      }
    };
    let iv;
    const start = setTimeout(
      () => {
        tick();
        iv = setInterval(tick, 100);
      },
      (i * 100) / clients.length,
    );
    return () => {
      clearTimeout(start);
      clearInterval(iv);
    };
  });
  while (Date.now() < tEnd) {
    await new Promise((r) => setTimeout(r, 5000));
    rssPeak = Math.max(rssPeak, (await ask('rss')).rss);
  }
  timers.forEach((stop) => stop());
  await new Promise((r) => setTimeout(r, 500));
  const lat = clients.flatMap((c) => c.lat);
  const perEnvMb = (rssPeak - rssIdle) / ROOM / 1048576;
  for (const c of clients) c.ws.close();
  child.send('close');
  await new Promise((r) => child.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });

  const room = {
    learners: ROOM,
    seconds: SECONDS,
    keys: lat.length,
    missedTicks: missed,
    echoP50Ms: pct(lat, 50),
    echoP99Ms: pct(lat, 99),
    gatewayRssIdleMb: rssIdle / 1048576,
    gatewayRssPeakMb: rssPeak / 1048576,
    gatewayMbPerEnv: perEnvMb,
    openSeconds: openSecs,
    loadAvg1m: { before: loadBefore, after: loadavg()[0], cores: cpus().length },
  };
  const targets = {
    localStartP50: starts.local.p50 < 300,
    ...(starts.dockerWarm
      ? { warmDockerStartP50: Math.max(starts.dockerWarm.p50, starts.dockerWarmWithPool?.p50 ?? 0) < 300 }
      : {}),
    roomEchoP99: room.echoP99Ms < 50,
    gatewayMbPerEnv: perEnvMb < 25,
  };

  const f = (x, n = 1) => (Number.isFinite(x) ? x.toFixed(n) : '-');
  console.log(
    `sandbox benchmark (local driver ${local.jailed ? 'jailed' : 'not jailed'}; ${STARTS} starts each)`,
  );
  console.log('');
  console.log('| start to first prompt | p50 (ms) | p95 (ms) |');
  console.log('|-----------------------|----------|----------|');
  for (const [k, v] of Object.entries(starts)) {
    console.log(`| ${k.padEnd(21)} | ${f(v.p50).padStart(8)} | ${f(v.p95).padStart(8)} |`);
  }
  if (dockerNote) console.log(`(${dockerNote})`);
  console.log('');
  console.log(`| room: ${ROOM} learners, a key every 100 ms for ${SECONDS} s | value |`);
  console.log('|----------------------------------------------|-------|');
  console.log(`| echo p50 (ms)                                | ${f(room.echoP50Ms, 2)} |`);
  console.log(`| echo p99 (ms)                                | ${f(room.echoP99Ms, 2)} |`);
  console.log(`| keys echoed / ticks skipped (echo pending)   | ${room.keys} / ${missed} |`);
  console.log(
    `| gateway RSS idle → peak (MB)                 | ${f(room.gatewayRssIdleMb)} → ${f(room.gatewayRssPeakMb)} |`,
  );
  console.log(`| gateway memory per environment (MB)          | ${f(perEnvMb, 2)} |`);
  console.log(
    `| machine load (1 min) before → after, cores   | ${f(room.loadAvg1m.before)} → ${f(room.loadAvg1m.after)}, ${room.loadAvg1m.cores} |`,
  );
  console.log('');
  console.log(
    JSON.stringify({
      bench: 'sandbox',
      starts,
      room,
      targetsMet: targets,
      ...(dockerNote ? { note: dockerNote } : {}),
    }),
  );
}
