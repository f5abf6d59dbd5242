import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateGrading } from '../grading/store.js';
import { openStore, type Db } from '../store/index.js';
import { Pacing, UnknownLabError } from './pacing.js';
import { STUCK, median, taskTimes } from './task-times.js';

const LABS = [
  { id: 'first-lab', title: 'First', order: 1 },
  { id: 'second-lab', title: 'Second', order: 2 },
  { id: 'third-lab', title: 'Third', order: 3 },
];

describe('pacing', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('keeps locks, the room’s lab and the countdown across a restart', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-pacing-'));
    dirs.push(dir);
    let now = 1_000_000;
    const db = openStore(join(dir, 'x.db'));
    const pacing = new Pacing(
      db,
      () => LABS,
      () => now,
    );
    expect(pacing.view()).toMatchObject({ locked: [], moveTo: null, timer: null });
    let changes = 0;
    pacing.subscribe(() => changes++);
    pacing.setLocked(['third-lab', 'second-lab'], true);
    pacing.moveTo('second-lab');
    pacing.setTimer({ seconds: 900, label: 'Lab 2' });
    expect(changes).toBe(3);
    now += 60_000;
    const view = pacing.view();
    // Course order, whatever order they were locked in.
    expect(view.locked).toEqual(['second-lab', 'third-lab']);
    expect(view.moveTo).toEqual({ lab: 'second-lab', title: 'Second', order: 2, at: 1_000_000 });
    expect(view.timer).toEqual({ remainingMs: 840_000, durationMs: 900_000, label: 'Lab 2' });
    db.close();

    const again = new Pacing(
      openStore(join(dir, 'x.db')),
      () => LABS,
      () => now,
    );
    expect(again.isLocked('third-lab')).toBe(true);
    expect(again.isLocked('first-lab')).toBe(false);
    expect(again.view()).toMatchObject({ locked: view.locked, moveTo: view.moveTo, timer: view.timer });
    // A page's ETag from before the restart does not match.
    expect(again.rev).not.toBe(view.rev);
    now += 900_000;
    expect(again.view().timer?.remainingMs).toBe(0);
  });

  it('changes nothing for a lab the course does not have, or a lock that is already so', () => {
    const pacing = new Pacing(openStore(':memory:'), () => LABS);
    const rev = pacing.rev;
    expect(() => {
      pacing.setLocked(['first-lab', 'no-such-lab'], true);
    }).toThrow(UnknownLabError);
    expect(() => {
      pacing.moveTo('no-such-lab');
    }).toThrow(UnknownLabError);
    expect(pacing.isLocked('first-lab')).toBe(false);
    pacing.setLocked(['first-lab'], false);
    expect(pacing.rev).toBe(rev);
    pacing.setLocked(['first-lab'], true);
    expect(pacing.rev).toBeGreaterThan(rev);
    pacing.setLocked(['first-lab'], false);
    pacing.setTimer(null);
    pacing.moveTo(null);
    expect(pacing.view()).toMatchObject({ locked: [], moveTo: null, timer: null });
  });
});

describe('time per task', () => {
  const LAB = { id: 'first-lab', tasks: [{ id: 'one' }, { id: 'two' }, { id: 'three' }] };
  const NOW = 10_000_000_000;
  const MIN = 60_000;

  const room = (): Db => {
    const db = openStore(':memory:');
    migrateGrading(db);
    return db;
  };
  /** A learner who opened the lab at `opened` (a grading event then), passed tasks at times, failed Checks. */
  const learner = (
    db: Db,
    id: string,
    o: { opened: number; passed?: Record<string, number>; failed?: Record<string, number>; last?: number },
  ) => {
    const event = db.prepare(
      `INSERT INTO grading_events (learner, lab, task, check_id, pass, message, trigger, at)
       VALUES (?, 'first-lab', 'one', 'c', 0, NULL, 'open', ?)`,
    );
    event.run(id, o.opened);
    if (o.last !== undefined) event.run(id, o.last);
    const task = db.prepare(
      `INSERT INTO grading_tasks (learner, lab, task, attempts, first_passed_at, points, updated_at)
       VALUES (?, 'first-lab', ?, ?, ?, 10, ?)`,
    );
    for (const t of LAB.tasks) {
      const at = o.passed?.[t.id] ?? null;
      const failed = o.failed?.[t.id] ?? 0;
      if (at !== null || failed > 0) task.run(id, t.id, failed, at, at ?? o.opened);
    }
  };

  it('is the median of those who finished, and the current task since the last pass', () => {
    const db = room();
    learner(db, 'a', { opened: NOW - 30 * MIN, passed: { one: NOW - 28 * MIN } });
    learner(db, 'b', { opened: NOW - 30 * MIN, passed: { one: NOW - 26 * MIN, two: NOW - 20 * MIN } });
    learner(db, 'c', { opened: NOW - 30 * MIN, passed: { one: NOW - 24 * MIN } });
    const t = taskTimes(db, [LAB], () => false, NOW);
    // 2, 4 and 6 minutes on task one; 6 on task two; nobody finished three.
    expect(t.medians.get('first-lab')?.get('one')).toEqual({ medianMs: 4 * MIN, finished: 3 });
    expect(t.medians.get('first-lab')?.get('two')).toEqual({ medianMs: 6 * MIN, finished: 1 });
    expect(t.medians.get('first-lab')?.get('three')).toEqual({ medianMs: null, finished: 0 });
    // Not running: on the clock until their last activity in the lab (here their last pass).
    expect(t.current.get('b')?.get('first-lab')).toMatchObject({
      task: 'three',
      since: NOW - 20 * MIN,
      elapsedMs: 0,
    });
    // Running: until now (the environment of 'a' runs in this gateway).
    db.prepare("INSERT INTO learners (id, created_at, last_seen_at) VALUES ('a', 0, 0)").run();
    db.prepare(
      `INSERT INTO environments (id, learner_id, lab_id, driver, home, xapi_user, xapi_password, sim_state, status,
         created_at, last_active_at) VALUES ('env-a', 'a', 'first-lab', 'local', '/h', 'u', 'p', '', 'active', ?, ?)`,
    ).run(NOW - 30 * MIN, NOW - 27 * MIN);
    const running = taskTimes(db, [LAB], (env) => env === 'env-a', NOW);
    expect(t.current.get('a')?.get('first-lab')?.task).toBe('two');
    expect(running.current.get('a')?.get('first-lab')).toMatchObject({ task: 'two', elapsedMs: 28 * MIN });
  });

  it('calls a learner stuck past twice the median and 5 minutes, or after many failed Checks', () => {
    const db = room();
    for (const [id, took] of [
      ['fast-1', 2],
      ['fast-2', 3],
      ['fast-3', 4],
    ] as const)
      learner(db, id, { opened: NOW - 40 * MIN, passed: { one: NOW - (40 - took) * MIN } });
    learner(db, 'slow', { opened: NOW - 20 * MIN, last: NOW - 10_000 });
    learner(db, 'quick-but-new', { opened: NOW - 5.5 * MIN, last: NOW - 1_000 });
    learner(db, 'guessing', {
      opened: NOW - 3 * MIN,
      failed: { one: STUCK.failedChecks },
      last: NOW - 1_000,
    });
    const t = taskTimes(db, [LAB], () => false, NOW);
    const current = (id: string) => t.current.get(id)?.get('first-lab');
    expect(current('slow')).toMatchObject({ task: 'one', stuck: ['slow'] });
    expect(current('slow')?.elapsedMs).toBe(20 * MIN - 10_000);
    // 5.5 minutes: past 5 minutes, not past twice the median (2 × 3 = 6).
    expect(current('quick-but-new')?.stuck).toBeUndefined();
    expect(current('guessing')).toMatchObject({ failedChecks: STUCK.failedChecks, stuck: ['checks'] });
    expect(current('fast-1')?.stuck).toBeUndefined();
  });

  it('takes the median of the middle two for an even count', () => {
    expect(median([])).toBeNull();
    expect(median([5])).toBe(5);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
