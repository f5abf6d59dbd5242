import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Param, TemporalCheck } from '../labs/schema.js';
import { hashAnswer, newTemporalState, normaliseAnswer, scriptOutcome, stepTemporal } from './checks.js';
import { deriveParams, paramEnv, render, renderDeep } from '../labs/params.js';
import { evaluateQuery } from './query.js';
import type { PoolSnapshot } from './query.js';
import { GradingStore, checkTimeline, gradingHistory, migrateGrading } from './store.js';

type Rec = Record<string, unknown>;
const snap = (classes: Record<string, Record<string, Rec>>): PoolSnapshot =>
  new Map(Object.entries(classes).map(([cls, recs]) => [cls, new Map(Object.entries(recs))]));

const hosts = {
  'OpaqueRef:h1': { name_label: 'xcp-ng-01', enabled: true },
  'OpaqueRef:h2': { name_label: 'xcp-ng-02', enabled: true },
};
const vm = (name: string, power: string, host: string, extra: Rec = {}): Rec => ({
  name_label: name,
  power_state: power,
  resident_on: host,
  is_a_template: false,
  is_control_domain: false,
  VBDs: [],
  other_config: {},
  ...extra,
});

describe('per-learner parameters', () => {
  const defs: Record<string, Param> = {
    vlan: { kind: 'vlan', min: 100, max: 3999 },
    vmName: { kind: 'name', prefix: 'web-' },
    net: { kind: 'subnet', base: '10' },
    colour: { kind: 'pick', from: ['red', 'green', 'blue'] },
  };

  it('are the same for the same learner and differ between learners', () => {
    const a = deriveParams(defs, 'alice:lab');
    expect(deriveParams(defs, 'alice:lab')).toEqual(a);
    const others = ['bob', 'carol', 'dave', 'erin'].map((l) => deriveParams(defs, `${l}:lab`));
    expect(others.filter((o) => o.vlan === a.vlan && o.vmName === a.vmName)).toEqual([]);
  });

  it('stay in their ranges and shapes', () => {
    for (let i = 0; i < 50; i++) {
      const p = deriveParams(defs, `learner-${String(i)}`);
      expect(Number(p.vlan)).toBeGreaterThanOrEqual(100);
      expect(Number(p.vlan)).toBeLessThanOrEqual(3999);
      expect(p.vmName).toMatch(/^web-[a-z]+\d\d$/);
      expect(p.net).toMatch(/^10\.\d+\.\d+\.0\/24$/);
      expect(p['net.gateway']).toBe(`${(p.net ?? '').slice(0, -4)}1`);
      expect(['red', 'green', 'blue']).toContain(p.colour);
    }
  });

  it('fill placeholders and become LAB_* shell variables', () => {
    const p = { vmName: 'web-kiwi42', 'net.gateway': '10.1.2.1' };
    expect(render('start {{vmName}} via {{ net.gateway }}; {{unknown}} stays', p)).toBe(
      'start web-kiwi42 via 10.1.2.1; {{unknown}} stays',
    );
    expect(renderDeep({ where: { name_label: '{{vmName}}', n: 3 } }, p)).toEqual({
      where: { name_label: 'web-kiwi42', n: 3 },
    });
    expect(paramEnv(p)).toEqual({ LAB_VM_NAME: 'web-kiwi42', LAB_NET_GATEWAY: '10.1.2.1' });
  });
});

describe('XenAPI queries', () => {
  const pool = snap({
    host: hosts,
    VM: {
      'OpaqueRef:v1': vm('web-1', 'Running', 'OpaqueRef:h1'),
      'OpaqueRef:v2': vm('web-2', 'Running', 'OpaqueRef:h1'),
      'OpaqueRef:v3': vm('web-3', 'Halted', 'OpaqueRef:NULL'),
      'OpaqueRef:v4': vm('db-1', 'Running', 'OpaqueRef:h2', {
        other_config: { role: 'db' },
        tags: ['anti:db'],
      }),
    },
    PIF: { 'OpaqueRef:p1': { VLAN: 42, device: 'bond0' } },
  });

  it('count records matching fields and patterns, and say what they found', () => {
    const q = {
      select: 'VM',
      where: { power_state: 'Running', name_label: { glob: 'web-*' } },
      expect: { count: { gte: 3 } },
    };
    expect(evaluateQuery(pool, q)).toEqual({
      pass: false,
      count: 2,
      found: 'found 2 matching VM records, expected at least 3',
    });
    expect(evaluateQuery(pool, { ...q, expect: { count: 2 } }).pass).toBe(true);
  });

  it('count distinct values (VMs spread over hosts)', () => {
    const q = {
      select: 'VM',
      where: { power_state: 'Running' },
      expect: { distinct: { field: 'resident_on', gte: 2 } },
    };
    expect(evaluateQuery(pool, q).pass).toBe(true);
    const webOnly = { ...q, where: { power_state: 'Running', name_label: { glob: 'web-*' } } };
    expect(evaluateQuery(pool, webOnly)).toEqual({
      pass: false,
      count: 2,
      found: 'the matching VM records have 1 distinct resident_on, expected at least 2',
    });
  });

  it('follow references, read maps and compare a templated string with an int field', () => {
    const onHost2 = {
      select: 'VM',
      where: { resident_on: { is: { name_label: 'xcp-ng-02' } } },
      expect: { count: 1 },
    };
    expect(evaluateQuery(pool, onHost2).pass).toBe(true);
    const role = {
      select: 'VM',
      where: { other_config: { key: 'role', value: 'db' } },
      expect: { count: 1 },
    };
    expect(evaluateQuery(pool, role).pass).toBe(true);
    // A string set (tags): `key` asks for a member, not an index.
    const tagged = (tag: string) => ({ select: 'VM', where: { tags: { key: tag } }, expect: { count: 1 } });
    expect(evaluateQuery(pool, tagged('anti:db')).pass).toBe(true);
    expect(evaluateQuery(pool, tagged('anti:web')).pass).toBe(false);
    expect(evaluateQuery(pool, { select: 'PIF', where: { VLAN: '42' }, expect: {} }).pass).toBe(true);
    expect(evaluateQuery(pool, { select: 'PIF', where: { VLAN: '43' }, expect: {} }).pass).toBe(false);
  });
});

describe('temporal checks', () => {
  const check: TemporalCheck = {
    id: 'kept-running',
    kind: 'temporal',
    fail: 'The VMs did not stay running',
    waiting: 'Disable xcp-ng-02 first.',
    while: { select: 'host', where: { name_label: 'xcp-ng-02', enabled: false }, expect: {} },
    always: { select: 'VM', where: { power_state: 'Running' }, expect: { count: 2 } },
  };
  const state = (h2Enabled: boolean, running: number) =>
    snap({
      host: { ...hosts, 'OpaqueRef:h2': { name_label: 'xcp-ng-02', enabled: h2Enabled } },
      VM: Object.fromEntries(
        [0, 1].map((i) => [
          `OpaqueRef:v${String(i)}`,
          vm(`app-${String(i)}`, i < running ? 'Running' : 'Halted', 'OpaqueRef:h1'),
        ]),
      ),
    });

  it('waits for the window, fails a window in which the condition broke, and passes a later clean window', () => {
    const st = newTemporalState();
    expect(stepTemporal(check, st, state(true, 2))).toEqual({
      pass: false,
      message: 'Disable xcp-ng-02 first.',
      cause: 'kept-running',
    });
    expect(stepTemporal(check, st, state(false, 2)).pass).toBe(true);
    // A window that held at first and then broke fails while it lasts.
    expect(stepTemporal(check, st, state(false, 1))).toEqual({
      pass: false,
      message: 'The VMs did not stay running (found 1 matching VM, expected exactly 2).',
      cause: 'kept-running',
    });
    const broken = newTemporalState();
    expect(stepTemporal(check, broken, state(false, 1))).toEqual({
      pass: false,
      message: 'The VMs did not stay running (found 1 matching VM, expected exactly 2).',
      cause: 'kept-running',
    });
    expect(stepTemporal(check, broken, state(false, 2)).pass).toBe(false); // the same window stays failed
    stepTemporal(check, broken, state(true, 2)); // the window closes
    expect(stepTemporal(check, broken, state(false, 2)).pass).toBe(true); // a clean second window
  });
});

describe('script checks and answers', () => {
  const check = {
    id: 's',
    kind: 'script' as const,
    run: 'x',
    timeoutMs: 5000,
    root: false,
    causes: ['missing'],
  };
  it('turn FAIL: lines into feedback and CAUSE: into the hint key', () => {
    expect(
      scriptOutcome(check, {
        code: 1,
        stdout: 'FAIL: no file\nCAUSE: missing\n',
        stderr: '',
        timedOut: false,
      }),
    ).toEqual({
      pass: false,
      message: 'no file',
      cause: 'missing',
    });
    expect(scriptOutcome(check, { code: 0, stdout: 'FAIL: ignored', stderr: '', timedOut: false })).toEqual({
      pass: true,
    });
    expect(scriptOutcome(check, { code: null, stdout: '', stderr: '', timedOut: true }).message).toBe(
      'The check took longer than 5 s and was stopped.',
    );
  });
  it('say why the driver could not run the check (its error code line on stderr), but never echo the script’s stderr', () => {
    const pxe = scriptOutcome(check, {
      code: null,
      stdout: '',
      stderr: 'SANDBOX_ERR_PXE_CONFIG: ~/pxe/dnsmasq.conf: not found\n',
      timedOut: false,
    });
    expect(pxe.message).toBe('Not done yet. (~/pxe/dnsmasq.conf: not found)');
    expect(
      scriptOutcome(check, { code: 1, stdout: '', stderr: 'grep: /etc/x: No such file\n', timedOut: false })
        .message,
    ).toBe('Not done yet.');
    expect(
      scriptOutcome(check, {
        code: 1,
        stdout: 'FAIL: no file\n',
        stderr: 'SANDBOX_ERR_POWERED_OFF: host is powered off\n',
        timedOut: false,
      }).message,
    ).toBe('no file');
  });
  it('hash answers after normalising case and spaces', () => {
    expect(normaliseAnswer('  VM-Copy \n')).toBe('vm-copy');
    expect(hashAnswer(' VM-copy')).toBe(hashAnswer('vm-copy'));
    expect(hashAnswer('vm-copy')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the grading store', () => {
  it('migrates once, keeps progress and shows instructors what was achieved and when', () => {
    const db = new Database(':memory:');
    migrateGrading(db);
    migrateGrading(db);
    const store = new GradingStore(db, 'alice', 'lab-1');
    store.checkChanged('t1', 'c1', false, 'not yet', 'initial', 1000);
    store.checkChanged('t1', 'c1', true, undefined, 'event', 2000);
    store.saveTask('t1', { attempts: 2, hints: [0], solutionShown: false, firstPassedAt: 2000, points: 10 });
    store.saveAnswer('q1', hashAnswer('6'), true, 3000);
    const saved = new GradingStore(db, 'alice', 'lab-1').load();
    expect(saved.checks.get('c1')).toEqual({ pass: true, firstPassedAt: 2000 });
    expect(saved.tasks.get('t1')).toEqual({
      attempts: 2,
      hints: [0],
      solutionShown: false,
      firstPassedAt: 2000,
      // Written the way records were before resets: the first pass is the current one, its points earned.
      passedAt: 2000,
      earned: 10,
      ran: 0,
      skipped: false,
      resets: 0,
      mode: null,
    });
    expect(saved.answers.get('q1')).toBe(true);
    expect(gradingHistory(db, { lab: 'lab-1' })).toEqual([
      {
        learner: 'alice',
        lab: 'lab-1',
        task: 't1',
        firstPassedAt: 2000,
        points: 10,
        attempts: 2,
        hintsUsed: 1,
        solutionShown: false,
        passedAt: 2000,
        skipped: false,
        ran: 0,
        resets: 0,
        mode: null,
      },
    ]);
    expect(checkTimeline(db, 'alice', 'lab-1').map((e) => [e.check, e.pass, e.trigger, e.at])).toEqual([
      ['c1', false, 'initial', 1000],
      ['c1', true, 'event', 2000],
    ]);
  });
});
