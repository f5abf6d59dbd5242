// Issue #11: one learner's simulator must not starve the gateway or other learners. Simulators run in worker
// threads; pools and requests are capped; a pool change is durable before the call that made it is answered (a
// SIGKILLed gateway keeps it); a worker that dies comes back with its pool.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalDriver } from '../../sandbox/src/drivers/local/index.js';
import { createGateway } from '../../sandbox/src/gateway/index.js';
import { DEFAULT_MAX_OBJECTS, SimulatorPool, startIsolatedSimulator } from '../../sandbox/src/sim/index.js';
import { Environments, Learners, openStore, poolStateSink } from '../../sandbox/src/store/index.js';
import { openTerminal } from '../helpers/terminal-client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'xenlab-sim-isolation-'));
  cleanups.push(() => {
    rmSync(d, { recursive: true, force: true });
  });
  return d;
}

/** A JSON-RPC v2 call; the failure as `{ error: [code, ...params] }`. */
async function rpc(
  url: string,
  method: string,
  params: unknown[],
): Promise<{ result?: unknown; error?: string[] }> {
  const res = await fetch(`${url}/jsonrpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message: string; data: string[] } };
  return body.error ? { error: [body.error.message, ...body.error.data] } : { result: body.result };
}

async function login(url: string, user: string, password: string): Promise<string> {
  const r = await rpc(url, 'session.login_with_password', [user, password, '1.0', 'test']);
  if (typeof r.result !== 'string') throw new Error(`login failed: ${JSON.stringify(r.error)}`);
  return r.result;
}

/** The learner's pool as `~/.xe` names it. */
function poolOf(home: string): { url: string; user: string; password: string } {
  const xe = Object.fromEntries(
    readFileSync(join(home, '.xe'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('=', 2) as [string, string]),
  );
  return {
    url: `http://${xe.server ?? ''}:${xe.port ?? ''}`,
    user: xe.username ?? '',
    password: xe.password ?? '',
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

/**
 * Learner A's pool hammered from another process (so the test's own thread, which is the gateway's, only
 * measures): 6 loops creating objects, 16 reading them all back and 2 sending ~900 KiB requests, for `seconds`.
 */
function hammer(pool: { url: string; user: string; password: string }, seconds: number): ChildProcess {
  const script = `
const [url, user, password, seconds] = process.argv.slice(1);
const call = async (method, params) => {
  const r = await fetch(url + '/jsonrpc', { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }) });
  return (await r.json()).result;
};
const end = Date.now() + Number(seconds) * 1000;
const s = await call('session.login_with_password', [user, password, '1.0', 'hammer']);
let made = 0;
const grow = async () => { while (Date.now() < end) { const n = await call('network.create', [s, { name_label: 'n' + made, name_description: '', MTU: 1500, other_config: {}, tags: [] }]); if (typeof n === 'string') made++; } };
let reads = 0;
const read = async () => { while (Date.now() < end) { await call('network.get_all_records', [s]); reads++; } };
const [p] = await call('pool.get_all', [s]);
const big = 'x'.repeat(900 * 1024);
const huge = async () => { while (Date.now() < end) await call('pool.set_name_description', [s, p, big + Date.now()]); };
await Promise.all([...Array(6)].map(grow).concat([...Array(16)].map(read), [huge(), huge()]));
console.log(JSON.stringify({ made, reads }));
`;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', script, pool.url, pool.user, pool.password, String(seconds)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  cleanups.push(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return child;
}

describe("one learner's pool", () => {
  it(
    "does not slow the gateway or another learner's pool, however hard it is driven",
    { timeout: 180_000 },
    async () => {
      const dataDir = tempDir();
      const g = await createGateway({ port: 0, dataDir, driver: createLocalDriver() });
      cleanups.push(() => g.close());
      const a = await openTerminal(g.url);
      const b = await openTerminal(g.url);
      cleanups.push(() => {
        a.close();
        b.close();
      });
      const homes = (
        g.db.prepare('SELECT home FROM environments ORDER BY created_at').all() as { home: string }[]
      ).map((r) => r.home);
      const [poolA, poolB] = homes.map(poolOf);
      if (!poolA || !poolB) throw new Error('two environments expected');
      const sessionB = await login(poolB.url, poolB.user, poolB.password);
      const health = () => fetch(`${g.url}/api/health`).then((r) => r.json());
      const xapiB = () => rpc(poolB.url, 'VM.get_all', [sessionB]);
      const sample = async (n: number) => {
        const h: number[] = [];
        const x: number[] = [];
        for (let i = 0; i < n; i++) {
          h.push(await timed(health));
          x.push(await timed(xapiB));
        }
        return { health: median(h), xapi: median(x) };
      };
      await sample(5); // warm
      const idle = await sample(30);

      const child = hammer(poolA, 10);
      const output: Buffer[] = [];
      child.stdout?.on('data', (d: Buffer) => output.push(d));
      const exited = new Promise<void>((resolve) =>
        child.once('exit', () => {
          resolve();
        }),
      );
      await new Promise((r) => setTimeout(r, 1_500)); // the pool is busy and growing
      const loaded = await sample(30);
      await exited;
      const { made, reads } = JSON.parse(Buffer.concat(output).toString() || '{"made":0,"reads":0}') as {
        made: number;
        reads: number;
      };
      console.log(
        `gateway /api/health p50 idle ${idle.health.toFixed(1)} ms, A hammering ${loaded.health.toFixed(1)} ms; ` +
          `B's VM.get_all p50 idle ${idle.xapi.toFixed(1)} ms, loaded ${loaded.xapi.toFixed(1)} ms; A made ${String(made)} networks and read them ${String(reads)} times`,
      );
      expect(made).toBeGreaterThan(50);
      // Relative to the idle baseline, with room for a shared 2-core machine: a starved event loop is 10–100× slower.
      expect(loaded.health).toBeLessThan(Math.max(5 * idle.health, idle.health + 100));
      expect(loaded.xapi).toBeLessThan(Math.max(5 * idle.xapi, idle.xapi + 150));
    },
  );
});

describe('limits of a pool', () => {
  it('refuses objects beyond the cap with a XenAPI failure that says why', { timeout: 60_000 }, async () => {
    expect(DEFAULT_MAX_OBJECTS).toBe(50_000);
    const sim = await startIsolatedSimulator({ fast: true, password: 'pw', maxObjects: 400 });
    cleanups.push(() => sim.close());
    const s = await login(sim.url, 'root', 'pw');
    const [template] = (await rpc(sim.url, 'VM.get_by_name_label', [s, 'Debian Bookworm 12']))
      .result as string[];
    let failure: string[] | undefined;
    for (let i = 0; i < 400 && !failure; i++)
      failure = (await rpc(sim.url, 'VM.clone', [s, template, `c${String(i)}`])).error;
    expect(failure?.[0]).toBe('INTERNAL_ERROR');
    expect(failure?.[1]).toMatch(/holds \d+ objects, the most it may hold \(400\)/);
    // Still answering, and a learner can clean up.
    const vms = (await rpc(sim.url, 'VM.get_by_name_label', [s, 'c0'])).result as string[];
    expect((await rpc(sim.url, 'VM.destroy', [s, vms[0]])).error).toBeUndefined();
  });

  it(
    'refuses a request body over 1 MiB before reading it, and keeps serving',
    { timeout: 60_000 },
    async () => {
      const sim = await startIsolatedSimulator({ fast: true, password: 'pw' });
      cleanups.push(() => sim.close());
      const body = JSON.stringify({
        jsonrpc: '2.0',
        method: 'session.login_with_password',
        params: ['root', 'x'.repeat(2 << 20)],
        id: 1,
      });
      const res = await fetch(`${sim.url}/jsonrpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }).catch((e: unknown) => e);
      if (res instanceof Response) {
        expect(res.status).toBe(413);
        expect(await res.text()).toMatch(/larger than 1048576 bytes/);
      } // else: the connection was closed while the client was still sending (also a refusal)
      expect(typeof (await login(sim.url, 'root', 'pw'))).toBe('string');
    },
  );
});

describe('a simulator worker that dies', () => {
  it('comes back on the same port, with its pool as it was acknowledged', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const db = openStore(join(dir, 'xenlab.db'));
    cleanups.push(() => {
      db.close();
    });
    const learner = new Learners(db).join('c'.repeat(43), null);
    new Environments(db).insert({
      id: 'env-w',
      learnerId: learner.id,
      labId: 'playground',
      driver: 'local',
      home: join(dir, 'home'),
      xapiUser: 'root',
      xapiPassword: 'pw',
      simState: join(dir, 'pool.json'),
      status: 'active',
      createdAt: 0,
      lastActiveAt: 0,
    });
    const pool = new SimulatorPool({ spread: 1 });
    cleanups.push(() => pool.close());
    const sim = await startIsolatedSimulator({
      pool,
      fast: true,
      password: 'pw',
      state: poolStateSink(db, 'env-w'),
    });
    const neighbour = await startIsolatedSimulator({ pool, fast: true, password: 'pw' });
    const s = await login(sim.url, 'root', 'pw');
    const [p] = (await rpc(sim.url, 'pool.get_all', [s])).result as string[];
    await rpc(sim.url, 'pool.set_name_label', [s, p, 'kept-across-a-worker-crash']);
    await sim.terminateWorker(); // as an out-of-memory worker ends
    await sim.ready();
    await neighbour.ready();
    expect(sim.restarts).toBe(1);
    expect(neighbour.restarts).toBe(1);
    // Sessions are part of the saved pool: the learner's client keeps working.
    expect((await rpc(sim.url, 'pool.get_name_label', [s, p])).result).toBe('kept-across-a-worker-crash');
    await sim.close();
    await neighbour.close();
  });
});

describe('a gateway killed with SIGKILL', () => {
  const bin = fileURLToPath(new URL('../../sandbox/bin/xenlab.js', import.meta.url));
  const dist = fileURLToPath(new URL('../../sandbox/dist/sim/worker.js', import.meta.url));

  function serve(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(
      process.execPath,
      [bin, 'serve', '--port', '0', '--data-dir', dataDir, '--jail', 'off'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, XENLAB_INSTRUCTOR_KEY: 'k'.repeat(24) },
      },
    );
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /xenlab listening on (\S+)/.exec(out);
        if (m?.[1]) resolve({ child, url: m[1] });
      });
      child.once('exit', (code) => {
        reject(new Error(`xenlab serve exited (${String(code)}): ${out}`));
      });
    });
  }

  it('keeps a pool change it acknowledged', { timeout: 120_000 }, async () => {
    expect(existsSync(dist), 'sandbox/dist is missing: run `npm run build` (npm test does) first').toBe(true);
    const dataDir = tempDir();
    const first = await serve(dataDir);
    const t = await openTerminal(first.url);
    const check = openStore(join(dataDir, 'xenlab.db'));
    cleanups.push(() => {
      check.close();
    });
    const home = (check.prepare('SELECT home FROM environments').get() as { home: string }).home;
    const pool = poolOf(home);
    const s = await login(pool.url, pool.user, pool.password);
    const [p] = (await rpc(pool.url, 'pool.get_all', [s])).result as string[];
    await rpc(pool.url, 'pool.set_name_label', [s, p, 'acknowledged-then-killed']);
    first.child.kill('SIGKILL'); // at once: no debounce, no shutdown save
    await new Promise((r) => first.child.once('exit', r));
    t.close();

    const second = await serve(dataDir);
    const again = await openTerminal(second.url, { cookie: t.cookie });
    cleanups.push(() => {
      again.close();
    });
    const pool2 = poolOf(home);
    const s2 = await login(pool2.url, pool2.user, pool2.password);
    const [p2] = (await rpc(pool2.url, 'pool.get_all', [s2])).result as string[];
    expect((await rpc(pool2.url, 'pool.get_name_label', [s2, p2])).result).toBe('acknowledged-then-killed');
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
  });
});
