// The fault player's trigger logic (issue #14), against a recording applier and fake timers: setup faults and
// what is played again on bring-up, timed faults counted from the first start (across restarts), task faults on a
// task's first pass, buttons (only faults that have one, once unless restoring, rate-limited), and the record.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Lab } from '../labs/loader.js';
import { LabManifest } from '../labs/schema.js';
import type { LabManifestInput } from '../labs/schema.js';
import type { LabView } from '../protocol/lab.js';
import type { Fault } from '../labs/schema.js';
import { FaultError, createFaultPlayer, describeFault, poolFaultApplier } from './faults.js';
import type { FaultPlayer, TaskSource } from './faults.js';
import { FaultStore, firedFaults } from './faults-store.js';

type Faults = NonNullable<NonNullable<LabManifestInput['environment']>['faults']>;

function labOf(faults: Faults): Lab {
  const manifest = LabManifest.parse({
    id: 'faulty',
    title: 'Faulty',
    summary: 'Faults.',
    environment: { faults },
    tasks: [
      { id: 'first', title: 'First', checks: [{ id: 'a', kind: 'xapi', select: 'host' }] },
      { id: 'second', title: 'Second', checks: [{ id: 'b', kind: 'xapi', select: 'host' }] },
    ],
  });
  return { id: 'faulty', dir: '/nowhere', manifest, scenarioFile: undefined };
}

/** A grader stand-in: tasks pass when told. */
function tasks(): TaskSource & { pass(id: string): void } {
  const passed = new Map<string, string>();
  const listeners = new Set<(v: LabView) => void>();
  const view = (): LabView => ({
    lab: 'faulty',
    title: 'Faulty',
    score: 0,
    maxScore: 20,
    tasks: ['first', 'second'].map((id) => ({
      id,
      title: id,
      text: '',
      points: 10,
      pass: passed.has(id),
      checks: [],
      hints: [],
      moreHints: false,
      attempts: 0,
      solutionAvailable: false,
      attemptsUntilSolution: 3,
      ...(passed.has(id) ? { firstPassedAt: passed.get(id) } : {}),
    })),
  });
  return {
    view,
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    pass(id) {
      passed.set(id, new Date().toISOString());
      for (const l of listeners) l(view());
    },
  };
}

let db: Database.Database;
let applied: string[];
let players: FaultPlayer[];

function player(lab: Lab, options: { fail?: (text: string) => Error | undefined } = {}): FaultPlayer {
  const p = createFaultPlayer({
    lab,
    store: new FaultStore(db, 'learner', lab.id),
    apply: (f) => {
      const text = describeFault(f);
      const err = options.fail?.(text);
      if (err) return Promise.reject(err);
      applied.push(text);
      return Promise.resolve();
    },
  });
  players.push(p);
  return p;
}

/** Lets queued fault firings run. */
const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-12-06T10:00:00Z') });
  db = new Database(':memory:');
  applied = [];
  players = [];
});
afterEach(() => {
  for (const p of players) p.close();
  db.close();
  vi.useRealTimers();
});

describe('fault player', () => {
  it('plays setup faults on a fresh environment, and only the in-memory ones again on a bring-up', async () => {
    const lab = labOf([
      { kind: 'vm-load', target: 'batch-1' },
      { kind: 'host-power-off', target: 'xcp-ng-03' },
      { kind: 'vm-load', target: 'etl-1', resource: 'io', level: 0.5, trigger: { after: 10 } },
    ]);
    const first = player(lab);
    await first.bringUp(true);
    expect(applied).toEqual(['batch-1 started loading its CPU (100 %)', 'xcp-ng-03 lost power']);
    // Setup faults are the starting state: not listed for the learner.
    expect(first.view()).toBeUndefined();
    first.start(tasks());
    await vi.advanceTimersByTimeAsync(10_000);
    expect(applied.at(-1)).toBe('etl-1 started loading its disks (50 %)');
    first.close();

    // The gateway restarts: the host stays off in the saved pool; the loads are played again, in order.
    applied = [];
    const again = player(lab);
    await again.bringUp(false);
    expect(applied).toEqual([
      'batch-1 started loading its CPU (100 %)',
      'etl-1 started loading its disks (50 %)',
    ]);
    applied = [];
    await again.reapply();
    expect(applied).toHaveLength(2);
  });

  it('a setup fault that cannot be played fails a fresh bring-up with its code', async () => {
    const p = player(labOf([{ kind: 'vm-load', target: 'ghost' }]), {
      fail: () => new FaultError('LAB_ERR_FAULT', 'vm-load: there is no VM "ghost" in the pool'),
    });
    await expect(p.bringUp(true)).rejects.toMatchObject({
      code: 'LAB_ERR_FAULT',
      message: expect.stringMatching(/"ghost"/) as string,
    });
  });

  it('fires a timed fault once, counted from the first start, across a restart', async () => {
    const lab = labOf([{ id: 'late', kind: 'nic-down', target: 'xcp-ng-02/eth1', trigger: { after: 90 } }]);
    const first = player(lab);
    await first.bringUp(true);
    first.start(tasks());
    await vi.advanceTimersByTimeAsync(60_000);
    expect(applied).toEqual([]);
    first.close(); // the gateway stops at 60 s

    await vi.advanceTimersByTimeAsync(20_000); // down for 20 s
    const second = player(lab);
    await second.bringUp(false);
    second.start(tasks());
    await vi.advanceTimersByTimeAsync(9_000);
    expect(applied).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000); // 90 s after the first start
    expect(applied).toEqual(['eth1 on xcp-ng-02 lost its link']);
    expect(second.view()?.events).toEqual([
      {
        fault: 'late',
        kind: 'nic-down',
        text: 'eth1 on xcp-ng-02 lost its link',
        at: Date.parse('2026-12-06T10:01:30Z'),
        by: 'after',
      },
    ]);
    second.close();

    // Fired and recorded: a third start does not fire it again.
    const third = player(lab);
    await third.bringUp(false);
    third.start(tasks());
    await vi.advanceTimersByTimeAsync(200_000);
    expect(applied).toHaveLength(1);
    expect(firedFaults(db, { lab: 'faulty' })).toMatchObject([
      { learner: 'learner', key: 'late', by: 'after' },
    ]);
  });

  it('a timed fault due while the gateway was down fires as it comes back', async () => {
    const lab = labOf([{ kind: 'sr-lost', target: 'NFS', trigger: { after: 30 } }]);
    const first = player(lab);
    await first.bringUp(true);
    first.start(tasks());
    first.close();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(applied).toEqual([]);
    const again = player(lab);
    await again.bringUp(false);
    again.start(tasks());
    await settle();
    expect(applied).toEqual(['SR "NFS" failed']);
    expect(again.view()?.events[0]).toMatchObject({ kind: 'sr-lost', by: 'after' });
    expect(again.view()?.events[0]?.fault).toBeUndefined();
  });

  it('fires a task fault when that task first passes, once, and on bring-up when it passed meanwhile', async () => {
    const lab = labOf([{ kind: 'host-power-off', target: 'xcp-ng-02', trigger: { task: 'first' } }]);
    const t = tasks();
    const p = player(lab);
    await p.bringUp(true);
    p.start(t);
    t.pass('second');
    await settle();
    expect(applied).toEqual([]);
    t.pass('first');
    t.pass('first');
    await settle();
    expect(applied).toEqual(['xcp-ng-02 lost power']);
    p.close();

    // A task that passed while no player followed (a fault not recorded yet) fires on the next start.
    const lab2 = labOf([{ kind: 'host-power-on', target: 'xcp-ng-02', trigger: { task: 'second' } }]);
    db.exec('DELETE FROM lab_faults_fired');
    const q = player(lab2);
    await q.bringUp(false);
    q.start(t);
    await settle();
    expect(applied.at(-1)).toBe('xcp-ng-02 was powered on');
  });

  it('fires a button fault from the page once; refuses faults without a button; limits the rate', async () => {
    const lab = labOf([
      {
        id: 'pull-the-plug',
        kind: 'host-power-off',
        target: 'xcp-ng-02',
        trigger: { button: 'Pull the plug' },
      },
      { id: 'power-on', kind: 'host-power-on', target: 'xcp-ng-02', trigger: { button: 'Power it on' } },
      { id: 'hidden', kind: 'sr-lost', target: 'NFS', trigger: { after: 3600 } },
    ]);
    const p = player(lab);
    await p.bringUp(true);
    p.start(tasks());
    const changes: number[] = [];
    p.onChange(() => changes.push(Date.now()));
    expect(p.view()).toEqual({
      buttons: [
        {
          id: 'pull-the-plug',
          label: 'Pull the plug',
          kind: 'host-power-off',
          destructive: true,
          repeatable: false,
          fired: false,
        },
        {
          id: 'power-on',
          label: 'Power it on',
          kind: 'host-power-on',
          destructive: false,
          repeatable: true,
          fired: false,
        },
      ],
      events: [],
    });
    await expect(p.press('hidden')).rejects.toMatchObject({ code: 'LAB_ERR_UNKNOWN_FAULT' });
    await expect(p.press('nope')).rejects.toMatchObject({ code: 'LAB_ERR_UNKNOWN_FAULT' });
    expect(applied).toEqual([]);

    await p.press('pull-the-plug');
    expect(applied).toEqual(['xcp-ng-02 lost power']);
    expect(changes).toHaveLength(1);
    const pressedAt = Date.now();
    expect(p.view()?.buttons[0]).toMatchObject({ fired: true, firedAt: pressedAt });
    expect(p.view()?.events).toEqual([
      {
        fault: 'pull-the-plug',
        kind: 'host-power-off',
        text: 'xcp-ng-02 lost power',
        at: pressedAt,
        by: 'button',
      },
    ]);
    // Too soon for another button, and this one fires once.
    await expect(p.press('power-on')).rejects.toMatchObject({ code: 'LAB_ERR_FAULT_TOO_SOON' });
    await vi.advanceTimersByTimeAsync(3000);
    await expect(p.press('pull-the-plug')).rejects.toMatchObject({ code: 'LAB_ERR_FAULT_FIRED' });
    // Restoring kinds repeat.
    await p.press('power-on');
    await vi.advanceTimersByTimeAsync(3000);
    await p.press('power-on');
    expect(applied).toEqual(['xcp-ng-02 lost power', 'xcp-ng-02 was powered on', 'xcp-ng-02 was powered on']);
    expect(p.view()?.events.map((e) => e.fault)).toEqual(['pull-the-plug', 'power-on', 'power-on']);
  });

  it('two presses at once fire a one-shot button once', async () => {
    const lab = labOf([{ id: 'cut', kind: 'nic-down', target: 'h/eth0', trigger: { button: 'Cut' } }]);
    const p = createFaultPlayer({
      lab,
      store: new FaultStore(undefined, 'l', 'faulty'),
      pressIntervalMs: 0,
      apply: async (f) => {
        await new Promise((r) => setTimeout(r, 100));
        applied.push(describeFault(f));
      },
    });
    players.push(p);
    const a = p.press('cut');
    const b = p.press('cut');
    await expect(b).rejects.toMatchObject({ code: 'LAB_ERR_FAULT_FIRED' });
    await vi.advanceTimersByTimeAsync(100);
    await a;
    expect(applied).toEqual(['eth0 on h lost its link']);
  });

  it('a button fault the simulator refuses is not recorded and can be pressed again', async () => {
    let refuse = true;
    const lab = labOf([
      { id: 'split', kind: 'partition', target: [['a'], ['b']], trigger: { button: 'Split' } },
    ]);
    const p = player(lab, {
      fail: () =>
        refuse
          ? new FaultError('LAB_ERR_FAULT_UNSUPPORTED', 'this simulator cannot play "partition" faults yet')
          : undefined,
    });
    await p.bringUp(true);
    await expect(p.press('split')).rejects.toMatchObject({ code: 'LAB_ERR_FAULT_UNSUPPORTED' });
    expect(p.view()?.buttons[0]?.fired).toBe(false);
    refuse = false;
    await vi.advanceTimersByTimeAsync(3000);
    await p.press('split');
    expect(applied).toEqual(['the network split: a | b']);
  });

  it('a fresh environment forgets what fired before (its story starts again)', async () => {
    const lab = labOf([{ id: 'x', kind: 'sr-lost', target: 'NFS', trigger: { button: 'Lose it' } }]);
    const p = player(lab);
    await p.bringUp(true);
    await p.press('x');
    p.close();
    const q = player(lab);
    await q.bringUp(true);
    expect(q.view()).toEqual({
      buttons: [expect.objectContaining({ id: 'x', fired: false }) as unknown],
      events: [],
    });
  });
});

describe('poolFaultApplier', () => {
  it('plays a fault in the pool it names, the first pool without one; an unknown pool is LAB_ERR_FAULT', async () => {
    const played: string[] = [];
    const into = (pool: string) => (f: Fault) => {
      played.push(`${pool}: ${f.kind}`);
      return Promise.resolve();
    };
    const apply = poolFaultApplier(
      new Map([
        ['dc-east', into('dc-east')],
        ['dc-west', into('dc-west')],
      ]),
      'dc-east',
    );
    await apply({ kind: 'host-power-off', target: 'west-02', trigger: 'setup', pool: 'dc-west' });
    await apply({ kind: 'heal', trigger: 'setup' });
    expect(played).toEqual(['dc-west: host-power-off', 'dc-east: heal']);
    await expect(apply({ kind: 'pool-power-off', trigger: 'setup', pool: 'dc-north' })).rejects.toMatchObject(
      {
        code: 'LAB_ERR_FAULT',
        message: expect.stringContaining(
          'no pool "dc-north" in this environment (pools: dc-east, dc-west)',
        ) as unknown,
      },
    );
    expect(describeFault({ kind: 'pool-power-off', trigger: 'setup', pool: 'dc-west' })).toBe(
      'dc-west: every host of the pool lost power',
    );
  });
});
