#!/usr/bin/env node
// npm run bench:terminal — what the gateway adds to a terminal, measured against the same pty read in-process.
//
//  1. Keystroke-to-echo latency: the tty line discipline echoes each key (stty -icanon; cat), so the only work
//     is the pty itself; through the gateway a key goes browser → WebSocket → gateway → pty and the echo back.
//  2. Output throughput: base64 text from the shell, read directly vs through gateway + WebSocket client (which
//     acknowledges output like xterm.js, so flow control is in the loop).
// Prints a table, then one line of JSON. Targets (issue #2): added echo p50 ≤ 1 ms, p99 ≤ 5 ms; gateway
// throughput ≥ 50% of the direct read and ≥ 30 MB/s.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => pathToFileURL(join(root, 'sandbox', 'dist', p)).href;
const { createGateway } = await import(dist('gateway/index.js'));
const { createLocalDriver } = await import(dist('drivers/local/index.js'));
const { FLOW, PATHS, PROTOCOL_VERSION } = await import(dist('protocol/index.js'));

const KEYS = Number(process.env.BENCH_KEYS ?? 600);
const MB = Number(process.env.BENCH_MB ?? 200);
const BYTES = MB * 1_000_000;
const MARK = 'XENLAB-BENCH-DONE';
const PRODUCER = `base64 -w 76 /dev/zero | head -c ${BYTES}; echo; echo ${MARK}-$((40+2))`;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

/** A byte source + sink with the same shape for both paths. */
async function measure(path) {
  // Echo latency.
  await path.run('stty -icanon; cat >/dev/null\r');
  await path.settle();
  const lat = [];
  for (let i = 0; i < KEYS; i++) {
    const ch = String.fromCharCode(97 + (i % 26));
    const t0 = performance.now();
    await path.key(ch);
    lat.push(performance.now() - t0);
  }
  await path.run('\x03');
  await path.run(`stty sane; clear\r`);
  await path.settle();
  // Throughput.
  const t0 = performance.now();
  const got = await path.flood(PRODUCER, `${MARK}-42`);
  const secs = (performance.now() - t0) / 1000;
  return { p50: pct(lat, 50), p99: pct(lat, 99), mbps: got / 1e6 / secs, bytes: got };
}

/**
 * The same measurements over any byte path: `write` sends keys, `listen` receives output. Only how bytes travel
 * differs between the in-process pty and the gateway.
 */
function pathOver(write, close) {
  let listener = () => undefined;
  const until = (send, done) =>
    new Promise((resolve) => {
      listener = (d) => {
        const result = done(d);
        if (result !== undefined) {
          listener = () => undefined;
          resolve(result);
        }
      };
      send();
    });
  return {
    receive: (d) => listener(d),
    run: async (s) => write(s),
    settle: () => new Promise((r) => setTimeout(r, 300)),
    key: (ch) =>
      until(
        () => write(ch),
        (d) => (d.includes(ch.charCodeAt(0)) ? true : undefined),
      ),
    flood: (cmd, mark) => {
      let bytes = 0;
      let tail = '';
      return until(
        () => write(`${cmd}\r`),
        (d) => {
          bytes += d.length;
          tail = (tail + d.toString('latin1')).slice(-200);
          return tail.includes(mark) ? bytes : undefined;
        },
      );
    },
    close,
  };
}

async function directPath(driver, home) {
  const sandbox = await driver.create({ id: 'bench-direct', home });
  const term = sandbox.attachTerminal({ cols: 120, rows: 40 });
  const path = pathOver(
    (s) => term.write(s),
    () => term.kill(),
  );
  term.onData((d) => path.receive(d));
  return path;
}

async function gatewayPath(url) {
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
  const path = pathOver(
    (s) => ws.send(Buffer.from(s)),
    () => ws.close(),
  );
  let unacked = 0;
  ws.on('message', (d, bin) => {
    if (!bin) return;
    // Acknowledge like xterm.js does, so flow control is in the loop.
    unacked += d.length;
    if (unacked >= FLOW.ACK_EVERY) {
      ws.send(JSON.stringify({ type: 'term.ack', bytes: unacked }));
      unacked = 0;
    }
    path.receive(d);
  });
  ws.send(JSON.stringify({ type: 'term.hello', v: PROTOCOL_VERSION, cols: 120, rows: 40 }));
  return path;
}

const dataDir = mkdtempSync(join(tmpdir(), 'xenlab-bench-'));
const driver = createLocalDriver();
const gateway = await createGateway({ port: 0, dataDir, driver });

const direct = await directPath(driver, join(dataDir, 'direct'));
await direct.settle();
const d = await measure(direct);
direct.close();

const via = await gatewayPath(gateway.url);
await via.settle();
const g = await measure(via);
via.close();
await gateway.close();
rmSync(dataDir, { recursive: true, force: true });

const added = { p50: g.p50 - d.p50, p99: g.p99 - d.p99 };
const ratio = g.mbps / d.mbps;
const f = (x, n = 3) => x.toFixed(n);
console.log(
  `terminal benchmark (driver ${driver.name}${driver.jailed ? ', jailed' : ''}; ${KEYS} keys, ${MB} MB)`,
);
console.log('');
console.log('| path                  | echo p50 (ms) | echo p99 (ms) | throughput (MB/s) |');
console.log('|-----------------------|---------------|---------------|-------------------|');
console.log(
  `| pty read in-process   | ${f(d.p50).padStart(13)} | ${f(d.p99).padStart(13)} | ${f(d.mbps, 1).padStart(17)} |`,
);
console.log(
  `| gateway + WebSocket   | ${f(g.p50).padStart(13)} | ${f(g.p99).padStart(13)} | ${f(g.mbps, 1).padStart(17)} |`,
);
console.log(
  `| added / ratio         | ${f(added.p50).padStart(13)} | ${f(added.p99).padStart(13)} | ${f(ratio * 100, 1).padStart(16)}% |`,
);
console.log('');
const targets = {
  addedP50: added.p50 <= 1,
  addedP99: added.p99 <= 5,
  throughputRatio: ratio >= 0.5,
  throughputAbs: g.mbps >= 30,
};
console.log(
  JSON.stringify({
    bench: 'terminal',
    keys: KEYS,
    megabytes: MB,
    direct: { echoP50Ms: d.p50, echoP99Ms: d.p99, mbPerS: d.mbps },
    gateway: { echoP50Ms: g.p50, echoP99Ms: g.p99, mbPerS: g.mbps },
    added: { echoP50Ms: added.p50, echoP99Ms: added.p99 },
    throughputRatio: ratio,
    targetsMet: targets,
  }),
);
