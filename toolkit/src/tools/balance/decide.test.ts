import { describe, expect, it } from 'vitest';
import { decide, type PastMove, type Plan, type Snapshot } from './decide.js';
import { FIXTURE_TIME, ToyPool, fid, fixture } from './fixtures.js';
import { DEFAULT_POLICY, validatePolicy, type BalancePolicy } from './policy.js';
import { renderPlan } from './render.js';

const moves = (p: Plan): string[] =>
  p.decisions.map((d) => `${d.vms.map((v) => v.name).join('+')}:${d.from.name}->${d.to.name}`);

const golden = (p: Plan, policy: BalancePolicy = DEFAULT_POLICY): string =>
  renderPlan(p, policy, { dryRun: true, verbose: true });

/** Three busy hosts and two idle ones that must not be used: one spare, one disabled. */
function oneHotHost(): Snapshot {
  return fixture(
    [
      { name: 'xcp-ng-01', cpu: [0.3, 0.3, 0.3, 0.9, 0.92, 0.92] },
      { name: 'xcp-ng-02', cpu: 0.3 },
      { name: 'xcp-ng-03', cpu: 0.2 },
      { name: 'xcp-ng-04', cpu: 0.01 },
      { name: 'xcp-ng-05', cpu: 0.01, enabled: false },
    ],
    [
      { name: 'hog-big', host: 'xcp-ng-01', vcpus: 4, cpu: 1 },
      { name: 'hog-small', host: 'xcp-ng-01', vcpus: 2, cpu: 1 },
      ...Array.from({ length: 10 }, (_, i) => ({ name: `idle-${i}`, host: 'xcp-ng-01', cpu: 0.05 })),
      { name: 'web-1', host: 'xcp-ng-02', vcpus: 4, cpu: 0.6 },
      { name: 'web-2', host: 'xcp-ng-03', vcpus: 4, cpu: 0.4 },
    ],
  );
}

const withSpare = validatePolicy({ spare: { hosts: ['xcp-ng-04'] } });

describe('decide', () => {
  it('moves one VM off one hot host, to the coolest eligible host, and explains why', async () => {
    const plan = decide(oneHotHost(), withSpare, []);
    expect(moves(plan)).toEqual(['hog-small:xcp-ng-01->xcp-ng-03']);
    const d = plan.decisions[0];
    if (!d) throw new Error('no decision');
    expect(d).toMatchObject({
      reason: 'cpu',
      level: 'high',
      trigger: { metric: 'cpu', value: 0.92, threshold: 0.85, samples: 3 },
    });
    expect(d.predicted.from.before.cpu).toBeCloseTo(0.92);
    expect(d.predicted.from.after.cpu).toBeCloseTo(0.92 - 2 / 8);
    expect(d.predicted.to.after.cpu).toBeCloseTo(0.2 + 2 / 8);
    expect(d.why.skipped).toContain('xcp-ng-04: spare (policy spare.hosts)');
    expect(d.why.skipped).toContain('xcp-ng-05: disabled (maintenance)');
    await expect(golden(plan, withSpare)).toMatchFileSnapshot('__golden__/one-hot-host.txt');
  });

  it('never places on a spare host or a disabled one, even when they are the coolest', () => {
    const plan = decide(oneHotHost(), withSpare, []);
    for (const d of plan.decisions) expect(['xcp-ng-04', 'xcp-ng-05']).not.toContain(d.to.name);
    // Without the spare rule the idle host is the coolest and wins; the disabled one never does.
    const open = decide(oneHotHost(), DEFAULT_POLICY, []);
    expect(moves(open)).toEqual(['hog-small:xcp-ng-01->xcp-ng-04']);
  });

  it('keeps spare.keepEmpty empty hosts empty', () => {
    const snap = fixture(
      [
        { name: 'a', cpu: 0.92 },
        { name: 'b', cpu: 0.3 },
        { name: 'c', cpu: 0.01 },
        { name: 'd', cpu: 0.01 },
      ],
      [
        { name: 'hog', host: 'a', vcpus: 2, cpu: 1 },
        { name: 'rest', host: 'a', vcpus: 8, cpu: 0.66 },
        { name: 'web', host: 'b', vcpus: 4, cpu: 0.6 },
      ],
    );
    const plan = decide(snap, validatePolicy({ spare: { keepEmpty: 1 } }), []);
    expect(moves(plan)).toEqual(['hog:a->d']);
    expect(plan.decisions[0]?.why.skipped).toContain('c: kept empty (policy spare.keepEmpty)');
  });

  it('keeps VMs sharing an anti-affinity tag on different hosts', async () => {
    const snap = fixture(
      [
        { name: 'a', cpu: 0.92 },
        { name: 'b', cpu: 0.3 },
        { name: 'c', cpu: 0.1 },
      ],
      [
        { name: 'db-1', host: 'a', vcpus: 2, cpu: 1, tags: ['anti:db'] },
        { name: 'rest', host: 'a', vcpus: 8, cpu: 0.66 },
        { name: 'db-2', host: 'c', vcpus: 2, cpu: 0.3, tags: ['anti:db', 'prod'] },
      ],
    );
    const policy = validatePolicy({ affinity: { anti: ['anti:*'] } });
    const plan = decide(snap, policy, []);
    expect(moves(plan)).toEqual(['db-1:a->b']);
    expect(plan.decisions[0]?.why.skipped).toEqual([
      'c: runs db-2, which shares anti-affinity tag "anti:db" with db-1',
    ]);
    await expect(golden(plan, policy)).toMatchFileSnapshot('__golden__/anti-affinity.txt');
    // Without the rule the cooler host wins.
    expect(moves(decide(snap, DEFAULT_POLICY, []))).toEqual(['db-1:a->c']);
  });

  it('moves VMs sharing an affinity tag together', () => {
    const snap = fixture(
      [
        { name: 'a', cpu: 0.92 },
        { name: 'b', cpu: 0.1 },
      ],
      [
        { name: 'app', host: 'a', vcpus: 2, cpu: 1, tags: ['stack:shop'] },
        { name: 'app-db', host: 'a', vcpus: 1, cpu: 0.2, tags: ['stack:shop'] },
        { name: 'rest', host: 'a', vcpus: 8, cpu: 0.6 },
      ],
    );
    const plan = decide(snap, validatePolicy({ affinity: { together: ['stack:*'] } }), []);
    expect(moves(plan)).toEqual(['app+app-db:a->b']);
    expect(plan.decisions[0]?.why.vm).toContain('it moves with app-db (affinity tag "stack:shop")');
  });

  it('makes at most maxMovesPerInterval moves, the most urgent host first', async () => {
    const snap = fixture(
      [
        { name: 'a', cpu: 0.9 },
        { name: 'b', cpu: 0.97 },
        { name: 'c', cpu: 0.1 },
        { name: 'd', cpu: 0.1 },
      ],
      [
        { name: 'hog-a', host: 'a', vcpus: 2, cpu: 1 },
        { name: 'rest-a', host: 'a', vcpus: 8, cpu: 0.65 },
        { name: 'hog-b', host: 'b', vcpus: 2, cpu: 1 },
        { name: 'rest-b', host: 'b', vcpus: 8, cpu: 0.7 },
      ],
    );
    const policy = validatePolicy({ maxMovesPerInterval: 1 });
    const plan = decide(snap, policy, []);
    expect(moves(plan)).toEqual(['hog-b:b->c']);
    expect(plan.decisions[0]?.level).toBe('critical');
    expect(plan.notes.join('\n')).toContain('maxMovesPerInterval (1) reached');
    await expect(golden(plan, policy)).toMatchFileSnapshot('__golden__/max-moves.txt');
    expect(moves(decide(snap, validatePolicy({ maxMovesPerInterval: 2 }), []))).toEqual([
      'hog-b:b->c',
      'hog-a:a->d',
    ]);
  });

  it('waits for hysteresis.samples over high, but acts at once over critical', () => {
    const hosts = (cpu: number[]): Snapshot =>
      fixture(
        [
          { name: 'a', cpu },
          { name: 'b', cpu: 0.1 },
        ],
        [
          { name: 'hog', host: 'a', vcpus: 2, cpu: 1 },
          { name: 'rest', host: 'a', vcpus: 8, cpu: 0.7 },
        ],
      );
    const once = decide(hosts([0.3, 0.3, 0.3, 0.3, 0.3, 0.9]), DEFAULT_POLICY, []);
    expect(moves(once)).toEqual([]);
    expect(once.hosts.find((h) => h.name === 'a')).toMatchObject({
      condition: 'watching',
      text: 'watching: cpu 90.0% ≥ high 85% for 1 of 2 samples',
    });
    expect(moves(decide(hosts([0.3, 0.3, 0.3, 0.3, 0.9, 0.9]), DEFAULT_POLICY, []))).toEqual(['hog:a->b']);
    // A dip below high restarts the count.
    expect(
      moves(
        decide(hosts([0.3, 0.3, 0.9, 0.84, 0.9, 0.9]), validatePolicy({ hysteresis: { samples: 3 } }), []),
      ),
    ).toEqual([]);
    const critical = decide(hosts([0.3, 0.3, 0.3, 0.3, 0.3, 0.97]), DEFAULT_POLICY, []);
    expect(moves(critical)).toEqual(['hog:a->b']);
    expect(critical.decisions[0]?.level).toBe('critical');
    // Below high nothing happens however long it lasts.
    expect(moves(decide(hosts([0.84, 0.84, 0.84, 0.84, 0.84, 0.84]), DEFAULT_POLICY, []))).toEqual([]);
  });

  it('counts only samples taken after a host’s last move, and lets a moved VM stay put', () => {
    const snap = fixture(
      [
        { name: 'a', cpu: 0.9 },
        { name: 'b', cpu: 0.1 },
        { name: 'c', cpu: 0.1 },
      ],
      [
        { name: 'hog', host: 'a', vcpus: 2, cpu: 1 },
        { name: 'hog-2', host: 'a', vcpus: 2, cpu: 1 },
        { name: 'rest', host: 'a', vcpus: 8, cpu: 0.4 },
      ],
    );
    // A move 3 s before the newest sample: one fresh sample on a and c, not enough for high (2).
    const recent: PastMove[] = [
      { vm: fid('vm', 'other'), from: fid('host', 'a'), to: fid('host', 'c'), time: FIXTURE_TIME - 3 },
    ];
    const settling = decide(snap, DEFAULT_POLICY, recent);
    expect(moves(settling)).toEqual([]);
    expect(settling.hosts.find((h) => h.name === 'a')?.condition).toBe('watching');
    // A move after the newest sample: a has no fresh sample at all.
    const pending: PastMove[] = [
      { vm: fid('vm', 'other'), from: fid('host', 'a'), to: fid('host', 'c'), time: FIXTURE_TIME + 1 },
    ];
    expect(decide(snap, DEFAULT_POLICY, pending).hosts.find((h) => h.name === 'a')?.condition).toBe(
      'settling',
    );
    // Cooldown: hog moved 100 s ago (to a) may not move again; its neighbour goes instead.
    const cooled: PastMove[] = [
      { vm: fid('vm', 'hog'), from: fid('host', 'b'), to: fid('host', 'a'), time: FIXTURE_TIME - 100 },
    ];
    const plan = decide(snap, DEFAULT_POLICY, cooled);
    expect(moves(plan)).toEqual(['hog-2:a->b']);
  });

  it('counts a pending move’s VM on its new host when choosing the next target', () => {
    const snap = fixture(
      [
        { name: 'a', cpu: 0.97 },
        { name: 'b', cpu: 0.1 },
        { name: 'c', cpu: 0.6 },
      ],
      [
        { name: 'hog', host: 'a', vcpus: 2, cpu: 1 },
        { name: 'rest', host: 'a', vcpus: 8, cpu: 0.72 },
        // moved from c to b a second ago: the samples still show it on c
        { name: 'new', host: 'b', vcpus: 4, cpu: 0.9 },
      ],
    );
    const pending: PastMove[] = [
      { vm: fid('vm', 'new'), from: fid('host', 'c'), to: fid('host', 'b'), time: FIXTURE_TIME + 1 },
    ];
    const plan = decide(snap, DEFAULT_POLICY, pending);
    expect(moves(plan)).toEqual(['hog:a->c']);
    expect(plan.decisions[0]?.why.skipped[0]).toMatch(/^b: would reach cpu 8\d\.\d% > target mark 65%$/);
  });

  it('relieves memory pressure with the VM that frees enough', () => {
    const snap = fixture(
      [
        { name: 'a', memory: 0.94, cpu: 0.3 },
        { name: 'b', memory: 0.5, cpu: 0.3 },
      ],
      [
        { name: 'small', host: 'a', memoryGiB: 2 },
        { name: 'mid', host: 'a', memoryGiB: 4 },
        { name: 'large', host: 'a', memoryGiB: 16 },
      ],
    );
    const plan = decide(snap, DEFAULT_POLICY, []);
    expect(moves(plan)).toEqual(['mid:a->b']);
    expect(plan.decisions[0]?.why.host).toBe('a memory used 94.0% ≥ high 90% for 6 samples (policy: 2)');
  });

  it('watches disk and network when the policy sets them', () => {
    const snap = fixture(
      [
        { name: 'a', disk: 300e6 },
        { name: 'b', disk: 20e6 },
      ],
      [
        { name: 'db', host: 'a', disk: 200e6 },
        { name: 'web', host: 'a', disk: 80e6 },
      ],
    );
    expect(moves(decide(snap, DEFAULT_POLICY, []))).toEqual([]);
    const policy = validatePolicy({ thresholds: { disk: { high: '250M', target: '240M' } } });
    const plan = decide(snap, policy, []);
    expect(moves(plan)).toEqual(['web:a->b']);
    expect(plan.decisions[0]?.why.host).toBe('a disk 300 MB/s ≥ high 250 MB/s for 6 samples (policy: 2)');
  });

  it('evacuates a disabled host when the policy says so, within the move budget', async () => {
    const snap = fixture(
      [
        { name: 'a', cpu: 0.2, enabled: false },
        { name: 'b', cpu: 0.2 },
        { name: 'c', cpu: 0.3 },
      ],
      [
        { name: 'v1', host: 'a', memoryGiB: 2 },
        { name: 'v2', host: 'a', memoryGiB: 8 },
        { name: 'v3', host: 'a', memoryGiB: 4, blocked: 'disk on local SR "Local storage"' },
        { name: 'v4', host: 'a', memoryGiB: 1 },
      ],
    );
    expect(moves(decide(snap, DEFAULT_POLICY, []))).toEqual([]);
    const policy = validatePolicy({ maintenance: { evacuate: true } });
    const plan = decide(snap, policy, []);
    expect(moves(plan)).toEqual(['v2:a->b', 'v1:a->c']);
    expect(plan.notes).toEqual([
      'a (maintenance): v3: disk on local SR "Local storage"; it stays',
      'a (maintenance): maxMovesPerInterval (2) reached; the rest move next time',
    ]);
    await expect(golden(plan, policy)).toMatchFileSnapshot('__golden__/maintenance.txt');
  });

  it('says why a hot host stays hot when nothing can move', () => {
    const snap = fixture(
      [
        { name: 'a', cpu: 0.97 },
        { name: 'b', cpu: 0.6 },
      ],
      [
        { name: 'hog', host: 'a', vcpus: 8, cpu: 0.95 },
        { name: 'pinned', host: 'a', vcpus: 2, cpu: 0.1, tags: ['no-balance'] },
      ],
    );
    const plan = decide(snap, validatePolicy({ exclude: { tags: ['no-balance'] } }), []);
    expect(moves(plan)).toEqual([]);
    expect(plan.notes).toEqual([
      'a stays at cpu 97.0% (≥ critical 95%): no VM can move within the policy (hog: no host can take it; pinned: excluded by its tag "no-balance")',
    ]);
  });

  it('estimates what VMs on a saturated host ask for, not just what they get', () => {
    // 4 hogs of 2 vCPUs each want 8 pCPUs, plus 1.3 of small VMs: 9.3 asked of 8.
    const pool = new ToyPool(
      [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
      [
        ...Array.from({ length: 4 }, (_, i) => ({ name: `hog-${i}`, host: 'a', demand: 2 })),
        ...Array.from({ length: 12 }, (_, i) => ({ name: `idle-${i}`, host: 'a', demand: 0.1 })),
      ],
    );
    pool.dom0 = 0.1;
    pool.sample();
    pool.sample();
    const plan = decide(pool.snapshot(), DEFAULT_POLICY, []);
    // 9.3 - 2 = 7.3 (91%) is still over 85%: two moves, to different hosts (one hog each stays under 65%).
    expect(moves(plan)).toEqual(['hog-0:a->b', 'hog-1:a->c']);
    // Demand is known within a few percent (dom0's share is not in any VM's figures).
    expect(Math.abs((plan.decisions[0]?.predicted.from.before.cpu ?? 0) - 9.3 / 8)).toBeLessThan(0.02);
    expect(Math.abs((plan.decisions[1]?.predicted.from.after.cpu ?? 0) - 5.3 / 8)).toBeLessThan(0.02);
  });
});

describe('no oscillation', () => {
  // Two hosts: a holds a big VM (6 pCPUs) and a small one (1); b holds one small VM. Moving the big VM — what a
  // naive "move the busiest VM of the hottest host to the coolest host" does — only makes b the hot host.
  const world = (): ToyPool =>
    new ToyPool(
      [{ name: 'a' }, { name: 'b' }],
      [
        { name: 'big', host: 'a', vcpus: 6, demand: 6 },
        { name: 'small', host: 'a', vcpus: 1, demand: 1 },
        { name: 'other', host: 'b', vcpus: 1, demand: 1 },
      ],
    );

  /** The naive balancer: the busiest VM of the hottest host over high goes to the coolest host. */
  function naive(snap: Snapshot): { vm: string; to: string } | undefined {
    const load = (h: Snapshot['hosts'][number]): number => h.samples.at(-1)?.cpu ?? 0;
    const hot = [...snap.hosts].sort((x, y) => load(y) - load(x))[0];
    const cool = [...snap.hosts].sort((x, y) => load(x) - load(y))[0];
    if (!hot || !cool || hot === cool || load(hot) < 0.85) return undefined;
    const vm = snap.vms
      .filter((v) => v.host === hot.uuid)
      .sort((x, y) => y.cpu * y.vcpus - x.cpu * x.vcpus)[0];
    return vm ? { vm: vm.uuid, to: cool.uuid } : undefined;
  }

  it('a naive balancer ping-pongs on this pool', () => {
    const pool = world();
    const seen: string[] = [];
    for (let round = 0; round < 6; round++) {
      pool.sample();
      pool.sample();
      const m = naive(pool.snapshot());
      if (m) pool.move(m.vm, m.to);
      seen.push(pool.placement().join(' '));
    }
    expect(seen).toEqual([
      'big@b other@b small@a',
      'big@a other@b small@a',
      'big@b other@b small@a',
      'big@a other@b small@a',
      'big@b other@b small@a',
      'big@a other@b small@a',
    ]);
  });

  it('the balancer makes one move and then stays put', async () => {
    const pool = world();
    const history: PastMove[] = [];
    const plans: Plan[] = [];
    for (let round = 0; round < 12; round++) {
      pool.sample();
      const plan = decide(pool.snapshot(), DEFAULT_POLICY, history);
      plans.push(plan);
      for (const d of plan.decisions) for (const v of d.vms) history.push(pool.move(v.uuid, d.to.uuid));
    }
    expect(history.map((m) => `${m.vm}:${m.from}->${m.to}`)).toEqual(['vm-small:host-a->host-b']);
    expect(pool.placement()).toEqual(['big@a', 'other@b', 'small@b']);
    expect(plans.at(-1)?.hosts.map((h) => `${h.name} ${h.condition}`)).toEqual(['a ok', 'b ok']);
    const first = plans.find((p) => p.decisions.length > 0);
    await expect(golden(first ?? plans[0] ?? ({} as Plan))).toMatchFileSnapshot(
      '__golden__/no-oscillation.txt',
    );
  });
});
