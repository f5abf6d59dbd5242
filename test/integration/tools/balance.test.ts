/**
 * `xenlab-tools balance` against real simulators: recommendations that change nothing, moves that respect the
 * policy (spare and disabled hosts, anti-affinity) and are recorded as messages by a session with its own
 * originator, no ping-pong, a clean stop on SIGTERM with a migration in flight, and the background service.
 * Metrics are real: the simulator samples every 5 s, and seeds its history with the load as it is at the first read.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type RunningSimulator, type ScenarioInput } from '../../../sandbox/src/sim/index.js';
import { localFiles, runTools } from '../../../toolkit/src/tools/index.js';
import { createClient, type XapiClient, type messageRecord } from '../../../toolkit/src/xenapi/index.js';

const bin = fileURLToPath(new URL('../../../toolkit/bin/xenlab-tools.mjs', import.meta.url));
const built = fileURLToPath(new URL('../../../toolkit/dist/tools/balance/index.js', import.meta.url));

interface Pool {
  readonly sim: RunningSimulator;
  readonly client: XapiClient;
  readonly dir: string;
  run(
    argv: readonly string[],
    signal?: AbortSignal,
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  hog(name: string, level: number): Promise<void>;
  hostOf(vm: string): Promise<string>;
  messages(prefix?: string): Promise<messageRecord[]>;
  close(): Promise<void>;
}

const hosts = (n: number): ScenarioInput['hosts'] =>
  Array.from({ length: n }, (_, i) => ({ name: `xcp-ng-0${i + 1}`, cpus: 8, memoryGiB: 64 }));

async function startPool(scenario: ScenarioInput, fast = true): Promise<Pool> {
  const sim = await startSimulator({ port: 0, fast, scenario });
  const client = createClient({ url: sim.url, user: 'root', password: 'xenlab' });
  const dir = mkdtempSync(join(tmpdir(), 'xenlab-balance-'));
  const control = async (path: string, body: unknown): Promise<void> => {
    const res = await fetch(new URL(path, sim.controlUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.controlToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`control ${path}: ${res.status} ${await res.text()}`);
  };
  return {
    sim,
    client,
    dir,
    async run(argv, signal) {
      let stdout = '';
      let stderr = '';
      const code = await runTools(argv, {
        io: {
          stdout: (s) => (stdout += s),
          stderr: (s) => (stderr += s),
          stdoutIsTTY: false,
          stderrIsTTY: false,
          columns: 160,
          rows: 40,
        },
        files: localFiles,
        env: { XENLAB_URL: sim.url, XENLAB_PASSWORD: 'xenlab', HOME: dir, PATH: process.env.PATH ?? '' },
        now: () => performance.now(),
        createClient,
        ...(signal ? { signal } : {}),
      });
      return { code, stdout, stderr };
    },
    // A steady CPU workload: each vCPU of the guest asks for `level` of a pCPU (0: back to idle).
    hog: (name, level) =>
      control('workload', level > 0 ? { name_label: name, cpu: level } : { name_label: name, clear: true }),
    async hostOf(vm) {
      const [ref] = await client.call('VM.get_by_name_label', vm);
      if (!ref) throw new Error(`no VM ${vm}`);
      return client.call('host.get_name_label', await client.call('VM.get_resident_on', ref));
    },
    async messages(prefix = 'XENLAB_BALANCE') {
      const all = await client.call('message.get_all_records');
      return Object.values(all)
        .filter((m) => m.name.startsWith(prefix))
        .sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
    },
    async close() {
      await client.close();
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a value, failing after the deadline. */
async function until<T>(what: string, check: () => Promise<T | undefined>, deadlineMs = 30_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('balance on a pool with one hot host', () => {
  // xcp-ng-01 runs four CPU hogs (8 vCPUs busy of 8 pCPUs, plus dom0). xcp-ng-02 is the coolest busy host but runs
  // web-a, which shares the hogs' anti-affinity tag; xcp-ng-03 is spare, xcp-ng-04 disabled; xcp-ng-05 (a half-busy
  // batch VM) is the only host the policy allows.
  let pool: Pool;
  let policy: string;
  beforeAll(async () => {
    pool = await startPool({
      pool: { name: 'balance' },
      seed: 'balance',
      hosts: hosts(5),
      sharedStorage: [{ name: 'NFS storage', type: 'nfs', default: true }],
      vms: [
        ...[1, 2, 3, 4].map((i) => ({ name: `hog-${i}`, host: 'xcp-ng-01', tags: ['anti:front'] })),
        { name: 'quiet', host: 'xcp-ng-01' },
        { name: 'web-a', host: 'xcp-ng-02', tags: ['anti:front'] },
        { name: 'batch', host: 'xcp-ng-05' },
      ],
    });
    for (const i of [1, 2, 3, 4]) await pool.hog(`hog-${i}`, 1);
    await pool.hog('batch', 0.5);
    const [h4] = await pool.client.call('host.get_by_name_label', 'xcp-ng-04');
    if (!h4) throw new Error('xcp-ng-04');
    await pool.client.call('host.disable', h4);
    policy = join(pool.dir, 'policy.yaml');
    writeFileSync(
      policy,
      'thresholds:\n  cpu: { high: 0.85, critical: 0.95, target: 0.65 }\naffinity:\n  anti: ["anti:*"]\nspare:\n  hosts: [xcp-ng-03]\n',
    );
  });
  afterAll(async () => {
    await pool.close();
  });

  it('recommends in a dry run, with its reasons, and changes nothing', async () => {
    const log = join(pool.dir, 'dry.jsonl');
    const r = await pool.run(['balance', '--policy', policy, '--dry-run', '--once', '--log', log]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^balance: 5 hosts, 7 running VMs; policy .*policy\.yaml; every 5 s; dry run/);
    expect(r.stdout).toMatch(
      /5 hosts: 1 hot, 1 maintenance, 3 ok; 1 move recommended \(dry run: nothing moves\)\n/,
    );
    expect(r.stdout).toMatch(/\n {2}RECOMMEND hog-\d: xcp-ng-01 → xcp-ng-05 \(cpu, critical\)\n/);
    expect(r.stdout).toMatch(/\n {4}host: {6}xcp-ng-01 cpu (9\d|100)\.\d% ≥ critical 95% for \d+ samples/);
    expect(r.stdout).toMatch(
      /\n {4}vm: {8}hog-\d needs ≈ [12]\.\d\d of xcp-ng-01's 8 pCPUs \(runs at \d+\.\d% of its 2 vCPU\(s\)\): the smallest move/,
    );
    expect(r.stdout).toMatch(
      /\n {4}target: {4}xcp-ng-05 is the coolest of 1 eligible host: cpu \d+\.\d% → \d+\.\d% \(mark 65%\)/,
    );
    expect(r.stdout).toContain(
      'xcp-ng-02: runs web-a, which shares anti-affinity tag "anti:front" with hog-',
    );
    expect(r.stdout).toContain('xcp-ng-03: spare (policy spare.hosts)');
    expect(r.stdout).toContain('xcp-ng-04: disabled (maintenance)');
    for (const i of [1, 2, 3, 4]) expect(await pool.hostOf(`hog-${i}`)).toBe('xcp-ng-01');
    expect(await pool.messages()).toEqual([]);
    const logged = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      outcome: 'recommended',
      from: 'xcp-ng-01',
      to: 'xcp-ng-05',
      reason: 'cpu',
    });
  });

  it('prints one JSON line per evaluation for scripts', async () => {
    const r = await pool.run(['balance', '--policy', policy, '--dry-run', '--once', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0] ?? '') as {
      dryRun: boolean;
      decisions: { headline: string; reason: string; outcomes: { outcome: string }[] }[];
      hosts: { name: string; condition: string }[];
    };
    expect(j.dryRun).toBe(true);
    expect(j.decisions.map((d) => [d.reason, d.outcomes.map((o) => o.outcome)])).toEqual([
      ['cpu', ['recommended']],
    ]);
    expect(j.decisions[0]?.headline).toMatch(/^hog-\d: xcp-ng-01 → xcp-ng-05 \(cpu, critical\)$/);
    expect(j.hosts.find((h) => h.name === 'xcp-ng-04')?.condition).toBe('maintenance');
  });

  it('moves one VM live, records it as a message from its own session, and says so', async () => {
    const r = await pool.run(['balance', '--policy', policy, '--once']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const moved = /\n {2}MOVE (hog-\d): xcp-ng-01 → xcp-ng-05 \(cpu, critical\)\n/.exec(r.stdout)?.[1] ?? '';
    expect(moved).not.toBe('');
    expect(r.stdout).toMatch(new RegExp(`\\n {2}moved ${moved} to xcp-ng-05 in \\d+\\.\\d s\\n`));
    expect(await pool.hostOf(moved)).toBe('xcp-ng-05');
    const hogsLeft = await Promise.all([1, 2, 3, 4].map((i) => pool.hostOf(`hog-${i}`)));
    expect(hogsLeft.filter((h) => h === 'xcp-ng-01')).toHaveLength(3);

    const [vm] = await pool.client.call('VM.get_by_name_label', moved);
    if (!vm) throw new Error(moved);
    const vmUuid = await pool.client.call('VM.get_uuid', vm);
    const all = await pool.messages();
    const move = all.find((m) => m.name === 'XENLAB_BALANCE_MOVE');
    expect(move).toMatchObject({ cls: 'VM', obj_uuid: vmUuid, priority: 3 });
    const body = move?.body.split('\n') ?? [];
    expect(body[0]).toBe(`moved VM ${moved} from xcp-ng-01 to xcp-ng-05 (cpu critical)`);
    expect(body[1]).toMatch(/^host: {6}xcp-ng-01 cpu /);
    expect(body.at(-1)).toMatch(
      new RegExp(
        `^xenlab-balance: vm=${vmUuid} from=[0-9a-f-]{36} to=[0-9a-f-]{36} reason=cpu level=critical time=\\d+$`,
      ),
    );
    const service = all.filter((m) => m.name === 'XENLAB_BALANCE').map((m) => [m.cls, m.body.split(':')[0]]);
    expect(service).toEqual([
      ['Pool', 'balancer started (session originator xenlab-balance)'],
      ['Pool', 'balancer stopped after 1 evaluation(s)'],
    ]);
  });

  it('waits for fresh samples after a move instead of moving again', async () => {
    const r = await pool.run(['balance', '--policy', policy, '--once', '--verbose']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('; no move\n');
    // Settling until a sample taken after the move arrives; then within the policy (three hogs: ≈ 77 %).
    expect(r.stdout).toMatch(
      /\n {2}xcp-ng-01 +(settling +settling: no sample since its last move|ok +cpu [5-8]\d\.\d%)/,
    );
    expect((await pool.messages('XENLAB_BALANCE_MOVE')).length).toBe(1);
  });

  it('names the bad field of a policy', async () => {
    const bad = join(pool.dir, 'bad.yaml');
    writeFileSync(bad, 'thresholds:\n  cpu: { high: 0.8, target: 0.9 }\nspare: { hostz: [a] }\n');
    const r = await pool.run(['balance', '--policy', bad, '--once']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `xenlab-tools balance: ${bad} is not a valid policy [TOOLS_ERR_INPUT]\n` +
        '  thresholds.cpu.target: must be below thresholds.cpu.high (0.8), got 0.9\n' +
        '  spare.hostz: unknown field (known: hosts, keepEmpty)\n',
    );
  });
});

describe('balance does not ping-pong', () => {
  // xcp-ng-01: a 6-vCPU VM and a 1-vCPU VM, both busy (≈ 88 % of 8 pCPUs); xcp-ng-02: one busy 1-vCPU VM. Moving the
  // big VM (what "move the busiest VM to the coolest host" does) would only make xcp-ng-02 the hot host.
  let pool: Pool;
  beforeAll(async () => {
    pool = await startPool({
      seed: 'pingpong',
      hosts: hosts(2),
      sharedStorage: [{ name: 'NFS storage', type: 'nfs', default: true }],
      templates: [
        { name: 'Big', vcpus: 6, memoryMiB: 4096 },
        { name: 'Small', vcpus: 1, memoryMiB: 1024 },
      ],
      vms: [
        { name: 'big', host: 'xcp-ng-01', template: 'Big' },
        { name: 'small', host: 'xcp-ng-01', template: 'Small' },
        { name: 'other', host: 'xcp-ng-02', template: 'Small' },
      ],
    });
    for (const vm of ['big', 'small', 'other']) await pool.hog(vm, 1);
  });
  afterAll(async () => {
    await pool.close();
  });

  it('makes one move, then stays put while fresh samples come in', { timeout: 60_000 }, async () => {
    const policy = join(pool.dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ hysteresis: { samples: 2 } }));
    const controller = new AbortController();
    const running = pool.run(
      ['balance', '--policy', policy, '--interval', '1', '--verbose'],
      controller.signal,
    );
    await until('the first move', async () =>
      (await pool.messages('XENLAB_BALANCE_MOVE')).length ? true : undefined,
    );
    const [moved] = await pool.messages('XENLAB_BALANCE_MOVE');
    const at = moved?.timestamp.getTime() ?? 0;
    // The balancer's session carries its originator, so its calls can be told from the learner's.
    const state = await fetch(new URL('state', pool.sim.controlUrl), {
      headers: { authorization: `Bearer ${pool.sim.controlToken}` },
    });
    const dump = (await state.json()) as { tables: Record<string, [string, { originator?: string }][]> };
    expect((dump.tables.session ?? []).map(([, s]) => s.originator)).toContain('xenlab-balance');
    // Four samples after the move (the balancer needs two fresh ones to act again).
    await new Promise((r) => setTimeout(r, Math.max(0, at + 21_000 - Date.now())));
    controller.abort();
    const r = await running;
    expect(r.code).toBe(0);
    expect(moved?.body.split('\n')[0]).toBe('moved VM small from xcp-ng-01 to xcp-ng-02 (cpu high)');
    expect((await pool.messages('XENLAB_BALANCE_MOVE')).length).toBe(1);
    expect([await pool.hostOf('big'), await pool.hostOf('small'), await pool.hostOf('other')]).toEqual([
      'xcp-ng-01',
      'xcp-ng-02',
      'xcp-ng-02',
    ]);
    // The last evaluation saw both hosts within the policy.
    const last = r.stdout.slice(r.stdout.lastIndexOf('Z  2 hosts'));
    expect(last).toMatch(/\n {2}xcp-ng-01 +ok +cpu [5-8]\d\.\d%/);
    expect(last).toMatch(/\n {2}xcp-ng-02 +ok +cpu [1-4]\d\.\d%/);
    expect(r.stdout).toMatch(/balance: stopped after \d+ evaluation\(s\): 1 move\(s\), 0 failed\n$/);
  });
});

describe('balance as a process', () => {
  // Live migrations take 2 s here, so a stop arrives while one is in flight.
  let pool: Pool;
  let policy: string;
  let state: string;
  beforeAll(async () => {
    if (!existsSync(built))
      throw new Error('toolkit/dist is missing: run `npx tsc -b` (npm test does) before this suite');
    pool = await startPool(
      {
        seed: 'service',
        hosts: hosts(3),
        sharedStorage: [{ name: 'NFS storage', type: 'nfs', default: true }],
        vms: [
          ...[1, 2, 3, 4].map((i) => ({ name: `hog-${i}`, host: 'xcp-ng-01' })),
          ...[1, 2, 3, 4].map((i) => ({ name: `later-${i}`, host: 'xcp-ng-02' })),
        ],
        durations: { 'VM.pool_migrate': 2000 },
      },
      false,
    );
    for (const i of [1, 2, 3, 4]) await pool.hog(`hog-${i}`, 1);
    policy = join(pool.dir, 'policy.yaml');
    writeFileSync(policy, 'maxMovesPerInterval: 1\n');
    state = join(pool.dir, 'state');
  });
  afterAll(async () => {
    await pool.run(['balance', 'stop', '--state-dir', state]);
    await pool.close();
  });

  it('finishes the move in flight on SIGTERM, then exits 0', async () => {
    const child = spawn(
      process.execPath,
      [bin, 'balance', '--policy', policy, '--interval', '1', '--state-dir', state],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: pool.dir,
          XENLAB_URL: pool.sim.url,
          XENLAB_PASSWORD: 'xenlab',
        },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await until('a move to start', () => Promise.resolve(stdout.includes('  MOVE ') ? true : undefined));
    child.kill('SIGTERM');
    const code = await exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const vm = /\n {2}MOVE (hog-\d): xcp-ng-01 → xcp-ng-0([23])/.exec(stdout);
    expect(vm).not.toBeNull();
    expect(stdout).toMatch(
      new RegExp(`\\n {2}moved ${vm?.[1] ?? ''} to xcp-ng-0${vm?.[2] ?? ''} in [2-4]\\.\\d s\\n`),
    );
    expect(stdout).toMatch(/balance: stopped after 1 evaluation\(s\): 1 move\(s\), 0 failed\n$/);
    expect(await pool.hostOf(vm?.[1] ?? '')).toBe(`xcp-ng-0${vm?.[2] ?? ''}`);
    expect((await pool.messages('XENLAB_BALANCE_MOVE')).length).toBe(1);
  });

  it('runs in the background: start, status, stop', { timeout: 60_000 }, async () => {
    const stopped = await pool.run(['balance', 'status', '--state-dir', state]);
    expect(stopped.code).toBe(3);
    expect(stopped.stdout).toMatch(
      /^balance: stopped\nlast decisions:\n {2}\d{4}-.*Z {2}hog-\d: xcp-ng-01 → xcp-ng-0[23] \(cpu critical\) moved in 2\.\d s\n$/,
    );

    // A new hot spot on xcp-ng-02.
    for (const i of [1, 2, 3, 4]) await pool.hog(`later-${i}`, 1);
    const started = await pool.run([
      'balance',
      'start',
      '--policy',
      policy,
      '--interval',
      '1',
      '--state-dir',
      state,
    ]);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(started.stdout).toMatch(
      /^balance: started \(pid \d+\); output in .*balance\.log, decisions in .*decisions\.jsonl\n/,
    );
    const again = await pool.run(['balance', 'start', '--policy', policy, '--state-dir', state]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      /^xenlab-tools balance: balance already runs \(pid \d+, since .*\); `xenlab-tools balance stop` first \[TOOLS_ERR_CONFLICT\]\n$/,
    );

    const running = await pool.run(['balance', 'status', '--state-dir', state]);
    expect(running.code).toBe(0);
    expect(running.stdout).toMatch(
      /^balance: running \(pid \d+, since .*\)\n {2}policy: {3}.*policy\.yaml \(every 1 s\)\n {2}pool: {5}http:\/\/127\.0\.0\.1:\d+ \(sessions with originator xenlab-balance\)\n/,
    );
    await until('a move off xcp-ng-02', async () => {
      const s = await pool.run(['balance', 'status', '--state-dir', state, '--json']);
      const j = JSON.parse(s.stdout) as { lastDecisions: { from: string; outcome: string }[] };
      return j.lastDecisions.some((d) => d.from === 'xcp-ng-02' && d.outcome === 'moved') ? true : undefined;
    });

    const stop = await pool.run(['balance', 'stop', '--state-dir', state]);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toMatch(/^balance: stopped \(pid \d+\)\n$/);
    const after = await pool.run(['balance', 'status', '--state-dir', state]);
    expect(after.code).toBe(3);
    expect(after.stdout).toContain('xcp-ng-02 → xcp-ng-0');
    const out = readFileSync(join(state, 'balance.log'), 'utf8');
    expect(out).toMatch(/balance: stopped after \d+ evaluation\(s\): \d move\(s\), 0 failed\n$/);
    const names = (await pool.messages('XENLAB_BALANCE'))
      .filter((m) => m.cls === 'Pool')
      .map((m) => m.body.split(/[:(]/)[0]?.trim());
    expect(names).toEqual([
      'balancer started',
      'balancer stopped after 1 evaluation',
      'balancer started',
      expect.stringMatching(/^balancer stopped after \d+ evaluation/),
    ]);
  });
});
