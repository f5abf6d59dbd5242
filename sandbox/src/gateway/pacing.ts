/**
 * The instructor's pacing of the room (issue #16): labs locked until the room reaches them, "everyone to lab N"
 * (a link on every learner's page) and a countdown shown in every terminal bar. Kept in the gateway's SQLite
 * database (`pacing_locks`, `pacing_state`), so a restart changes nothing; read from memory, so the checks on
 * every ticket and upgrade and the pages' polls cost nothing.
 * @module
 */
import { GatewayError, type RoomPace } from '../protocol/index.js';
import { migrate, type Db } from '../store/index.js';

const MIGRATIONS = [
  `CREATE TABLE pacing_locks (lab_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
   CREATE TABLE pacing_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

/** A lab as pacing names it: its id, title and number in the course. */
export interface PacedLab {
  readonly id: string;
  readonly title: string;
  readonly order: number;
}

interface MoveTo {
  readonly lab: string;
  readonly at: number;
}
interface Timer {
  readonly endsAt: number;
  readonly durationMs: number;
  readonly label: string;
}

/** The refusal of a locked lab, for a ticket asked with `?lab=` and for the lab's terminal and channel upgrades. */
export const lockedLab = (): { code: GatewayError; message: string } => ({
  code: GatewayError.LAB_LOCKED,
  message: 'this lab opens when your instructor unlocks it',
});

/** What can go wrong asking for a change: the lab is not one of the course's. */
export class UnknownLabError extends Error {}

/** The room's pacing: see the module comment. Every change bumps {@link rev} and tells the subscribers. */
export class Pacing {
  readonly #db: Db;
  readonly #labs: () => readonly PacedLab[];
  readonly #now: () => number;
  readonly #locked = new Set<string>();
  #moveTo: MoveTo | null = null;
  #timer: Timer | null = null;
  /** Starts from the clock, so a page's ETag from before a restart never matches. */
  #rev: number;
  readonly #listeners = new Set<() => void>();

  constructor(db: Db, labs: () => readonly PacedLab[], now: () => number = Date.now) {
    this.#db = db;
    this.#labs = labs;
    this.#now = now;
    this.#rev = now();
    migrate(db, 'pacing', MIGRATIONS);
    for (const r of db.prepare('SELECT lab_id FROM pacing_locks').all() as { lab_id: string }[])
      this.#locked.add(r.lab_id);
    this.#moveTo = this.#read('move_to') as MoveTo | null;
    this.#timer = this.#read('timer') as Timer | null;
  }

  /** A value this code wrote under `key` (JSON), or null. */
  #read(key: string): unknown {
    const row = this.#db.prepare('SELECT value FROM pacing_state WHERE key = ?').get(key) as
      { value: string } | undefined;
    if (!row) return null;
    try {
      return JSON.parse(row.value) as unknown;
    } catch {
      // A value this code did not write: as if there were none (the next change replaces it).
      return null;
    }
  }

  #write(key: string, value: unknown): void {
    if (value === null) this.#db.prepare('DELETE FROM pacing_state WHERE key = ?').run(key);
    else
      this.#db
        .prepare(
          'INSERT INTO pacing_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
        )
        .run(key, JSON.stringify(value));
  }

  #changed(): void {
    this.#rev = Math.max(this.#rev + 1, this.#now());
    for (const l of this.#listeners) l();
  }

  #lab(id: string): PacedLab {
    const lab = this.#labs().find((l) => l.id === id);
    if (!lab) throw new UnknownLabError(`no lab "${id}" in this course`);
    return lab;
  }

  /** Changes with every change (the ETag of `GET /api/pace`). */
  get rev(): number {
    return this.#rev;
  }

  /** Whether the instructor locked this lab. */
  isLocked(lab: string): boolean {
    return this.#locked.has(lab);
  }

  /** Locks or unlocks labs of the course (all or none: an unknown id changes nothing). */
  setLocked(labs: readonly string[], locked: boolean): void {
    for (const id of labs) this.#lab(id);
    const changed = labs.filter((id) => this.#locked.has(id) !== locked);
    if (changed.length === 0) return;
    const at = this.#now();
    this.#db.transaction(() => {
      for (const id of changed)
        if (locked)
          this.#db.prepare('INSERT OR IGNORE INTO pacing_locks (lab_id, at) VALUES (?, ?)').run(id, at);
        else this.#db.prepare('DELETE FROM pacing_locks WHERE lab_id = ?').run(id);
    })();
    for (const id of changed)
      if (locked) this.#locked.add(id);
      else this.#locked.delete(id);
    this.#changed();
  }

  /** Sends the room to a lab (every page shows a link to it), or clears it (null). */
  moveTo(lab: string | null): void {
    if (lab !== null) this.#lab(lab);
    this.#moveTo = lab === null ? null : { lab, at: this.#now() };
    this.#write('move_to', this.#moveTo);
    this.#changed();
  }

  /** Starts a countdown (replacing one that runs), or stops it (null). */
  setTimer(timer: { seconds: number; label: string } | null): void {
    this.#timer =
      timer === null
        ? null
        : {
            endsAt: this.#now() + timer.seconds * 1000,
            durationMs: timer.seconds * 1000,
            label: timer.label,
          };
    this.#write('timer', this.#timer);
    this.#changed();
  }

  /** The pacing as pages see it, now (the timer's time left measured on the gateway's clock). */
  view(): RoomPace {
    const move = this.#moveTo;
    const lab = move ? this.#labs().find((l) => l.id === move.lab) : undefined;
    const timer = this.#timer;
    return {
      rev: this.#rev,
      locked: this.#lockedInOrder(),
      moveTo: move && lab ? { lab: lab.id, title: lab.title, order: lab.order, at: move.at } : null,
      timer: timer
        ? {
            remainingMs: Math.max(0, timer.endsAt - this.#now()),
            durationMs: timer.durationMs,
            label: timer.label,
          }
        : null,
    };
  }

  /**
   * In course order, for the instructor's page (pages only ask whether theirs is in it); a locked id the course no
   * longer has comes last, still said, so a page of it waits rather than knocking again and again.
   */
  #lockedInOrder(): string[] {
    const known = this.#labs()
      .filter((l) => this.#locked.has(l.id))
      .map((l) => l.id);
    return [...known, ...[...this.#locked].filter((id) => !known.includes(id)).sort()];
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
