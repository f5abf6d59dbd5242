/**
 * Admission control: how many environments run at once per driver (the limit comes from `capacity.ts`, or the
 * operator), and a line for the rest. A learner beyond capacity is queued, not refused: each waiting environment
 * knows its place among those waiting for the same driver and an estimate of the wait, from environments'
 * measured lifetimes and start-up times (kept in the gateway's database, `admission_times`). When a place frees
 * (an environment culled, idle-reaped or removed; a start that failed) the next in line starts. Pages that leave
 * leave the line. Nothing running is ever stopped to make room.
 * @module
 */
import { migrate, type Db } from '../store/index.js';

const MIGRATIONS = [
  `CREATE TABLE admission_times (
     driver TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('lifetime', 'start')),
     ms INTEGER NOT NULL,
     at INTEGER NOT NULL
   );
   CREATE INDEX admission_times_by_driver ON admission_times (driver, kind, at);`,
];

/** Measurements kept per driver and kind (the median of these is the estimate). */
const KEEP = 20;

/** Where a waiting environment stands. */
export interface QueueStatus {
  readonly driver: string;
  /** 1 for the next to start. */
  readonly place: number;
  /** Environments waiting for this driver, this one included. */
  readonly waiting: number;
  /** Environments of this driver running now, and how many may. */
  readonly running: number;
  readonly capacity: number;
  /** About how long until this environment is up (ms): the wait for a place plus a start. */
  readonly etaMs: number;
}

/** One page's (or socket's) hold on a place in line; several pages of the same environment share the place. */
export interface Ticket {
  /** Resolves once the environment may start (at once when there is room, or it already runs). */
  readonly admitted: Promise<void>;
  /** Where it stands now; undefined once admitted. */
  status(): QueueStatus | undefined;
  /** Called whenever the line moves (not once admitted); returns the unsubscribe function. */
  onChange(listener: (s: QueueStatus) => void): () => void;
  /** This page leaves the line (no effect once admitted); the place goes when its last page leaves. */
  leave(): void;
}

export interface AdmissionOptions {
  /** Environments of `lab` that may run at once on `driver`. */
  readonly capacity: (driver: string, lab: string) => number;
  /** Whether an environment already runs (it is never queued). */
  readonly isLive?: (envId: string) => boolean;
  /** Measurements survive restarts here (optional). */
  readonly db?: Db;
  /** Until something was measured: how long an environment lives (default the idle timeout, 60 min). */
  readonly defaultLifetimeMs?: number;
  /** Until something was measured: how long a start takes per driver. */
  readonly defaultStartMs?: (driver: string) => number;
  readonly now?: () => number;
}

interface Slot {
  readonly driver: string;
  readonly grantedAt: number;
  /** Its start-up was measured already. */
  started?: boolean;
}

interface Entry {
  readonly envId: string;
  readonly driver: string;
  readonly lab: string;
  readonly handles: Set<Handle>;
}

interface Handle {
  resolve: () => void;
  readonly listeners: Set<(s: QueueStatus) => void>;
  entry: Entry | undefined;
}

const median = (xs: readonly number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** See the module comment. */
export class Admission {
  readonly #opts: AdmissionOptions;
  readonly #now: () => number;
  readonly #running = new Map<string, Slot>();
  #queue: Entry[] = [];
  readonly #times = new Map<string, number[]>();

  constructor(options: AdmissionOptions) {
    this.#opts = options;
    this.#now = options.now ?? Date.now;
    const db = options.db;
    if (db) {
      migrate(db, 'admission', MIGRATIONS);
      const rows = db
        .prepare('SELECT driver, kind, ms FROM admission_times ORDER BY at DESC, rowid DESC LIMIT 2000')
        .all() as { driver: string; kind: string; ms: number }[];
      for (const r of rows.reverse()) this.#remember(r.driver, r.kind, r.ms, false);
    }
  }

  #remember(driver: string, kind: string, ms: number, save = true): void {
    const key = `${driver}\n${kind}`;
    this.#times.set(key, [...(this.#times.get(key) ?? []), Math.max(0, Math.round(ms))].slice(-KEEP));
    if (!save || !this.#opts.db) return;
    const db = this.#opts.db;
    db.prepare('INSERT INTO admission_times (driver, kind, ms, at) VALUES (?, ?, ?, ?)').run(
      driver,
      kind,
      Math.round(ms),
      this.#now(),
    );
    db.prepare(
      `DELETE FROM admission_times WHERE driver = ? AND kind = ? AND rowid NOT IN
         (SELECT rowid FROM admission_times WHERE driver = ? AND kind = ? ORDER BY at DESC, rowid DESC LIMIT ?)`,
    ).run(driver, kind, driver, kind, KEEP);
  }

  /** Median measured lifetime of this driver's environments (ms), else the default. */
  lifetimeMs(driver: string): number {
    return (
      median(this.#times.get(`${driver}\nlifetime`) ?? []) ?? this.#opts.defaultLifetimeMs ?? 60 * 60_000
    );
  }

  /** Median measured start-up of this driver's environments (ms), else the driver's default. */
  startMs(driver: string): number {
    return median(this.#times.get(`${driver}\nstart`) ?? []) ?? this.#opts.defaultStartMs?.(driver) ?? 0;
  }

  /** Environments of a driver holding a place now. */
  running(driver: string): number {
    let n = 0;
    for (const s of this.#running.values()) if (s.driver === driver) n++;
    return n;
  }

  /** Environments waiting for a driver. */
  waiting(driver: string): number {
    return this.#queue.filter((e) => e.driver === driver).length;
  }

  /** Every driver with something running or waiting: for the instructor's page. */
  view(): { driver: string; running: number; waiting: number }[] {
    const drivers = new Set([
      ...[...this.#running.values()].map((s) => s.driver),
      ...this.#queue.map((e) => e.driver),
    ]);
    return [...drivers].sort().map((driver) => ({
      driver,
      running: this.running(driver),
      waiting: this.waiting(driver),
    }));
  }

  /**
   * Asks for a place for an environment. Already running or holding a place, or room for it and nobody waiting
   * ahead on its driver: admitted at once. Otherwise it joins the line (or this page joins its place in it).
   */
  enter(envId: string, driver: string, lab: string): Ticket {
    let resolve!: () => void;
    const admitted = new Promise<void>((r) => {
      resolve = r;
    });
    const handle: Handle = { resolve, listeners: new Set(), entry: undefined };
    const ticket: Ticket = {
      admitted,
      status: () => (handle.entry ? this.#status(handle.entry) : undefined),
      onChange: (l) => {
        handle.listeners.add(l);
        return () => handle.listeners.delete(l);
      },
      leave: () => {
        this.#leave(handle);
      },
    };
    if (this.#running.has(envId) || this.#opts.isLive?.(envId)) {
      if (!this.#running.has(envId))
        this.#running.set(envId, { driver, grantedAt: this.#now(), started: true });
      resolve();
      return ticket;
    }
    let entry = this.#queue.find((e) => e.envId === envId);
    if (!entry) {
      entry = { envId, driver, lab, handles: new Set() };
      this.#queue.push(entry);
    }
    entry.handles.add(handle);
    handle.entry = entry;
    this.#pump(driver);
    if (ticket.status() !== undefined) this.#notify(driver);
    return ticket;
  }

  /** Admits from the head of a driver's line while there is room (strictly in order). */
  #pump(driver: string): void {
    for (;;) {
      const head = this.#queue.find((e) => e.driver === driver);
      if (!head) return;
      if (this.running(driver) >= this.#opts.capacity(driver, head.lab)) return;
      this.#queue = this.#queue.filter((e) => e !== head);
      this.#running.set(head.envId, { driver, grantedAt: this.#now() });
      for (const h of head.handles) {
        h.entry = undefined;
        h.resolve();
      }
    }
  }

  #leave(handle: Handle): void {
    const entry = handle.entry;
    if (!entry) return;
    handle.entry = undefined;
    entry.handles.delete(handle);
    if (entry.handles.size > 0) return;
    this.#queue = this.#queue.filter((e) => e !== entry);
    this.#pump(entry.driver);
    this.#notify(entry.driver);
  }

  #notify(driver: string): void {
    for (const e of this.#queue)
      if (e.driver === driver) {
        const s = this.#status(e);
        for (const h of e.handles) for (const l of h.listeners) l(s);
      }
  }

  /**
   * Where an entry stands and about how long until it is up: the running environments' expected ends (each one's
   * median lifetime less its age, at least a minute), the k-th soonest for the k-th in line, a whole lifetime more
   * for each round beyond the places there are; plus a start.
   */
  #status(entry: Entry): QueueStatus {
    const { driver } = entry;
    const mine = this.#queue.filter((e) => e.driver === driver);
    const place = mine.indexOf(entry) + 1;
    const now = this.#now();
    const life = this.lifetimeMs(driver);
    const ends = [...this.#running.values()]
      .filter((s) => s.driver === driver)
      .map((s) => Math.max(life - (now - s.grantedAt), Math.min(life, 60_000)))
      .sort((a, b) => a - b);
    const n = ends.length;
    const wait = n === 0 ? 0 : (ends[(place - 1) % n] ?? 0) + Math.floor((place - 1) / n) * life;
    return {
      driver,
      place,
      waiting: mine.length,
      running: n,
      capacity: this.#opts.capacity(driver, entry.lab),
      etaMs: wait + this.startMs(driver),
    };
  }

  /** The environment that was admitted is up: its start-up time is measured. */
  started(envId: string): void {
    const slot = this.#running.get(envId);
    if (!slot || slot.started) return;
    slot.started = true;
    this.#remember(slot.driver, 'start', this.#now() - slot.grantedAt);
  }

  /**
   * An environment stopped (culled, idle-reaped, removed) or failed to start: its place goes to the next in line.
   * Its lifetime is measured when it lived (`measured`).
   */
  release(envId: string, measured = true): void {
    const slot = this.#running.get(envId);
    if (!slot) return;
    this.#running.delete(envId);
    if (measured) this.#remember(slot.driver, 'lifetime', this.#now() - slot.grantedAt);
    this.#pump(slot.driver);
    this.#notify(slot.driver);
  }

  /** The limit changed (the operator's override): whoever fits now starts. */
  recheck(): void {
    for (const d of new Set(this.#queue.map((e) => e.driver))) {
      this.#pump(d);
      this.#notify(d);
    }
  }
}
