/**
 * Time per task for the instructor's room (issue #16), from the grading history: for each learner × lab the task
 * they are on and for how long (since they passed the task before it, or opened the lab), the room's median time
 * per task among those who finished it, and who looks stuck. Reads the grading tables (`grading_tasks`,
 * `grading_events`) and `environments`; writes nothing.
 * @module
 */
import type { RoomCurrentTask } from '../protocol/index.js';
import type { Db } from '../store/index.js';

/** When a learner counts as stuck on the lab they are working in. */
export const STUCK = {
  /** On the task longer than this many times the room's median… */
  factor: 2,
  /** …and longer than this (ms): nobody is stuck 90 s into a task, whatever the median. */
  minMs: 5 * 60_000,
  /** Or this many failed Check presses on it (twice the default `solutionAfter`). */
  failedChecks: 6,
} as const;

/**
 * Passes this close after the one before them came with it (one grading pass passed several tasks): no time of
 * their own, left out of the medians.
 */
const SAME_PASS_MS = 1_000;

/** The labs as the room lists them: each task in the lab's order. */
export interface TimedLab {
  readonly id: string;
  readonly tasks: readonly { readonly id: string }[];
}

export interface TaskTimes {
  /** By learner, then lab: the task they are on. */
  readonly current: Map<string, Map<string, RoomCurrentTask>>;
  /** By lab, then task: the median time (ms) of those who finished it (null when nobody has), and how many. */
  readonly medians: Map<string, Map<string, { medianMs: number | null; finished: number }>>;
}

/** What is known of one learner in one lab. */
interface Track {
  opened?: number;
  lastActivity: number;
  running: boolean;
  passes: Map<string, number>;
  attempts: Map<string, number>;
}

const tableExists = (db: Db, name: string): boolean =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;

/** The median of numbers (the mean of the middle two for an even count), or null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? (v[mid] ?? 0) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

/** Everything the tables say, by learner and lab (only the course's labs). */
function tracks(db: Db, labs: readonly TimedLab[], running: (envId: string) => boolean): Map<string, Track> {
  const known = new Set(labs.map((l) => l.id));
  const out = new Map<string, Track>();
  const track = (learner: string, lab: string): Track | undefined => {
    if (!known.has(lab)) return undefined;
    const key = `${learner}\n${lab}`;
    let t = out.get(key);
    if (!t) {
      t = { lastActivity: 0, running: false, passes: new Map(), attempts: new Map() };
      out.set(key, t);
    }
    return t;
  };
  const opened = (t: Track, at: number) => {
    t.opened = t.opened === undefined ? at : Math.min(t.opened, at);
  };
  for (const e of db
    .prepare('SELECT id, learner_id, lab_id, created_at, last_active_at FROM environments')
    .all() as {
    id: string;
    learner_id: string;
    lab_id: string;
    created_at: number;
    last_active_at: number;
  }[]) {
    const t = track(e.learner_id, e.lab_id);
    if (!t) continue;
    opened(t, e.created_at);
    t.lastActivity = Math.max(t.lastActivity, e.last_active_at);
    t.running ||= running(e.id);
  }
  if (tableExists(db, 'grading_events'))
    for (const r of db
      .prepare(
        'SELECT learner, lab, MIN(at) AS first, MAX(at) AS last FROM grading_events GROUP BY learner, lab',
      )
      .all() as { learner: string; lab: string; first: number; last: number }[]) {
      const t = track(r.learner, r.lab);
      if (!t) continue;
      opened(t, r.first);
      t.lastActivity = Math.max(t.lastActivity, r.last);
    }
  if (tableExists(db, 'grading_tasks'))
    for (const r of db
      .prepare('SELECT learner, lab, task, first_passed_at, attempts, updated_at FROM grading_tasks')
      .all() as {
      learner: string;
      lab: string;
      task: string;
      first_passed_at: number | null;
      attempts: number;
      updated_at: number;
    }[]) {
      const t = track(r.learner, r.lab);
      if (!t) continue;
      if (r.first_passed_at !== null) t.passes.set(r.task, r.first_passed_at);
      t.attempts.set(r.task, r.attempts);
      t.lastActivity = Math.max(t.lastActivity, r.updated_at);
    }
  return out;
}

/**
 * The room's time per task, now: see the module comment. `running` says whether an environment (by id) runs in
 * this gateway now (a learner with their lab open is on the clock until now; otherwise until their last activity).
 */
export function taskTimes(
  db: Db,
  labs: readonly TimedLab[],
  running: (envId: string) => boolean,
  now = Date.now(),
): TaskTimes {
  const byKey = tracks(db, labs, running);
  const labOf = new Map(labs.map((l) => [l.id, l]));
  const samples = new Map<string, Map<string, number[]>>();
  const current = new Map<string, Map<string, RoomCurrentTask>>();
  /** Each learner's most recent lab: the one a stuck signal is about. */
  const active = new Map<string, { lab: string; at: number }>();
  for (const [key, t] of byKey) {
    const [learner = '', labId = ''] = key.split('\n');
    const lab = labOf.get(labId);
    if (!lab) continue;
    if ((active.get(learner)?.at ?? -1) < t.lastActivity)
      active.set(learner, { lab: labId, at: t.lastActivity });
    // Each pass took from the pass before it (or the lab's opening) to its own time.
    const passes = [...t.passes].sort((a, b) => a[1] - b[1]);
    let before = t.opened;
    for (const [task, at] of passes) {
      if (before !== undefined && at - before >= SAME_PASS_MS) {
        const perLab = samples.get(labId) ?? new Map<string, number[]>();
        samples.set(labId, perLab);
        perLab.set(task, [...(perLab.get(task) ?? []), at - before]);
      }
      before = before === undefined ? at : Math.max(before, at);
    }
    const task = lab.tasks.find((x) => !t.passes.has(x.id));
    if (!task || before === undefined) continue;
    const end = t.running ? now : Math.max(t.lastActivity, before);
    const mine = current.get(learner) ?? new Map<string, RoomCurrentTask>();
    current.set(learner, mine);
    mine.set(labId, {
      task: task.id,
      since: before,
      elapsedMs: Math.max(0, end - before),
      failedChecks: t.attempts.get(task.id) ?? 0,
    });
  }
  const medians = new Map<string, Map<string, { medianMs: number | null; finished: number }>>();
  for (const lab of labs)
    medians.set(
      lab.id,
      new Map(
        lab.tasks.map((task) => {
          const s = samples.get(lab.id)?.get(task.id) ?? [];
          return [task.id, { medianMs: median(s), finished: s.length }];
        }),
      ),
    );
  // The stuck signal, on the lab each learner works in now.
  for (const [learner, { lab }] of active) {
    const c = current.get(learner)?.get(lab);
    if (!c) continue;
    const med = medians.get(lab)?.get(c.task)?.medianMs ?? null;
    const why: ('slow' | 'checks')[] = [];
    if (med !== null && c.elapsedMs > STUCK.factor * med && c.elapsedMs > STUCK.minMs) why.push('slow');
    if (c.failedChecks >= STUCK.failedChecks) why.push('checks');
    if (why.length) current.get(learner)?.set(lab, { ...c, stuck: why });
  }
  return { current, medians };
}
