/**
 * The instructor's modes per lab, for a room bigger than the machine (issue #13): **individual** (the default: an
 * environment per learner), **shared demo** (one environment, driven by the instructor; learners watch its
 * terminals read-only) and **tables of N** (learners grouped N to a table in the order they open the lab; a table
 * shares one environment with full terminals). Kept in the gateway's database (`room_modes`, `room_tables`), so a
 * restart changes nothing. A demo's or a table's environment belongs to a learner row of its own (`demo-<lab>`,
 * `table-<n>-<lab>`, named "Shared demo", "Table 2"), so its pool, files and grading history live like any other;
 * the instructor's room lists it and can watch it.
 * @module
 */
import { XenlabError } from '../errors/index.js';
import type { LabChannelTarget } from '../grading/channel.js';
import { GatewayError } from '../protocol/index.js';
import { LabChannelError } from '../protocol/lab.js';
import { migrate, type Db } from '../store/index.js';

const MIGRATIONS = [
  `CREATE TABLE room_modes (
     lab_id TEXT PRIMARY KEY,
     mode TEXT NOT NULL CHECK (mode IN ('demo', 'tables')),
     table_size INTEGER,
     at INTEGER NOT NULL
   );
   CREATE TABLE room_tables (
     lab_id TEXT NOT NULL,
     learner_id TEXT NOT NULL REFERENCES learners(id) ON DELETE CASCADE,
     table_no INTEGER NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (lab_id, learner_id)
   );`,
];

/** A lab's mode as the instructor sets it. */
export type LabModeSetting =
  | { readonly mode: 'individual' }
  | { readonly mode: 'demo' }
  | { readonly mode: 'tables'; readonly size: number };

/** The most learners at one table. */
export const MAX_TABLE_SIZE = 12;

/** Whose environment a learner's page of a lab opens, and how. */
export interface Seat {
  /** The learner row owning the environment: the learner, the demo's, or their table's. */
  readonly owner: string;
  /** Watching the instructor's demo: output only, input refused. */
  readonly readOnly: boolean;
  /** For the page: "Shared demo: …", "Table 2: Ann, Bob (you), Cy". */
  readonly text?: string;
  readonly mode: 'individual' | 'demo' | 'tables';
  readonly table?: number;
  /** Who sits at the table (display names, the learner's own marked). */
  readonly members?: readonly string[];
}

/** The refusal of typing in a shared demo's terminal. */
export const READ_ONLY_DEMO = {
  code: GatewayError.READ_ONLY,
  message: "this is the instructor's shared demo: you watch, the instructor types (your keys go nowhere)",
} as const;

/** A learner or owner name for the page: their display name, else "learner <first 4 of id>". */
const nameOf = (r: { id: string; display_name: string | null }) =>
  r.display_name ?? `learner ${r.id.slice(0, 4)}`;

/** The modes; see the module comment. */
export class RoomModes {
  readonly #db: Db;
  readonly #now: () => number;
  readonly #modes = new Map<string, LabModeSetting>();
  readonly #listeners = new Set<(e: ModeEvent) => void>();

  constructor(db: Db, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
    migrate(db, 'room-modes', MIGRATIONS);
    const rows = db.prepare('SELECT lab_id, mode, table_size FROM room_modes').all() as {
      lab_id: string;
      mode: string;
      table_size: number | null;
    }[];
    for (const r of rows)
      this.#modes.set(
        r.lab_id,
        r.mode === 'tables' ? { mode: 'tables', size: r.table_size ?? 2 } : { mode: 'demo' },
      );
  }

  /** A lab's mode. */
  get(lab: string): LabModeSetting {
    return this.#modes.get(lab) ?? { mode: 'individual' };
  }

  /** Labs not individual, for the instructor's page. */
  all(): Record<string, LabModeSetting> {
    return Object.fromEntries(this.#modes);
  }

  /**
   * Sets a lab's mode. Tables: a new size (or leaving tables) regroups, as learners next open the lab; the tables'
   * environments stay, with their files and pools. Environments already running are never stopped.
   */
  set(lab: string, setting: LabModeSetting): void {
    const before = this.get(lab);
    const db = this.#db;
    db.transaction(() => {
      if (setting.mode === 'individual') db.prepare('DELETE FROM room_modes WHERE lab_id = ?').run(lab);
      else
        db.prepare(
          `INSERT INTO room_modes (lab_id, mode, table_size, at) VALUES (?, ?, ?, ?)
           ON CONFLICT (lab_id) DO UPDATE SET mode = excluded.mode, table_size = excluded.table_size, at = excluded.at`,
        ).run(lab, setting.mode, setting.mode === 'tables' ? setting.size : null, this.#now());
      if (setting.mode !== 'tables' || before.mode !== 'tables' || before.size !== setting.size)
        db.prepare('DELETE FROM room_tables WHERE lab_id = ?').run(lab);
    })();
    if (setting.mode === 'individual') this.#modes.delete(lab);
    else this.#modes.set(lab, setting);
    this.#emit({ kind: 'mode', lab });
  }

  #emit(e: ModeEvent): void {
    for (const l of [...this.#listeners]) l(e);
  }

  /** Calls `listener` after each mode change and each learner seated at a table; returns the unsubscribe function. */
  subscribe(listener: (e: ModeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Makes (once) the learner row an owner environment belongs to. */
  #owner(id: string, name: string): string {
    this.#db
      .prepare(
        'INSERT OR IGNORE INTO learners (id, display_name, course_code, created_at, last_seen_at) VALUES (?, ?, NULL, ?, ?)',
      )
      .run(id, name, this.#now(), this.#now());
    return id;
  }

  /** The learner's table at a lab in tables mode: theirs, else the first with a free seat (made on the way). */
  #tableOf(lab: string, learnerId: string, size: number): number {
    const db = this.#db;
    const done = { seated: false };
    const table = db.transaction(() => {
      const mine = db
        .prepare('SELECT table_no FROM room_tables WHERE lab_id = ? AND learner_id = ?')
        .get(lab, learnerId) as { table_no: number } | undefined;
      if (mine) return mine.table_no;
      const counts = db
        .prepare('SELECT table_no, COUNT(*) AS n FROM room_tables WHERE lab_id = ? GROUP BY table_no')
        .all(lab) as { table_no: number; n: number }[];
      const taken = new Map(counts.map((c) => [c.table_no, c.n]));
      let no = 1;
      while ((taken.get(no) ?? 0) >= size) no++;
      db.prepare('INSERT INTO room_tables (lab_id, learner_id, table_no, at) VALUES (?, ?, ?, ?)').run(
        lab,
        learnerId,
        no,
        this.#now(),
      );
      done.seated = true;
      return no;
    })();
    if (done.seated) this.#emit({ kind: 'seated', lab, table });
    return table;
  }

  /** Who sits at a table (display names in the order they sat down; `you` marked). */
  members(lab: string, table: number, you?: string): string[] {
    const rows = this.#db
      .prepare(
        `SELECT l.id, l.display_name FROM room_tables t JOIN learners l ON l.id = t.learner_id
         WHERE t.lab_id = ? AND t.table_no = ? ORDER BY t.at, t.rowid`,
      )
      .all(lab, table) as { id: string; display_name: string | null }[];
    return rows.map((r) => `${nameOf(r)}${r.id === you ? ' (you)' : ''}`);
  }

  /** Every table of a lab and who sits there, for the instructor's page. */
  tables(lab: string): { table: number; owner: string; members: string[] }[] {
    const nos = this.#db
      .prepare('SELECT DISTINCT table_no FROM room_tables WHERE lab_id = ? ORDER BY table_no')
      .all(lab) as { table_no: number }[];
    return nos.map((r) => ({
      table: r.table_no,
      owner: tableOwner(lab, r.table_no),
      members: this.members(lab, r.table_no),
    }));
  }

  /**
   * Where a learner's page of a lab goes. The instructor drives the demo (full terminals) and has their own
   * environment at a tables lab; learners watch the demo, or sit at their table.
   */
  seat(learnerId: string, lab: string, instructor: boolean): Seat {
    const m = this.get(lab);
    if (m.mode === 'demo') {
      const owner = this.#owner(demoOwner(lab), 'Shared demo');
      return instructor
        ? { owner, readOnly: false, mode: 'demo', text: 'Shared demo: the room watches what you type here.' }
        : {
            owner,
            readOnly: true,
            mode: 'demo',
            text: "Shared demo: you are watching the instructor's terminal (read-only).",
          };
    }
    if (m.mode === 'tables' && !instructor) {
      const table = this.#tableOf(lab, learnerId, m.size);
      const owner = this.#owner(tableOwner(lab, table), `Table ${String(table)}`);
      const members = this.members(lab, table, learnerId);
      return {
        owner,
        readOnly: false,
        mode: 'tables',
        table,
        members,
        text: `Table ${String(table)} (you share this environment): ${members.join(', ')}`,
      };
    }
    return { owner: learnerId, readOnly: false, mode: 'individual' };
  }
}

/** A mode set for a lab (pages of it reconnect to their new seat), or a learner seated at a table. */
export type ModeEvent =
  | { readonly kind: 'mode'; readonly lab: string }
  | { readonly kind: 'seated'; readonly lab: string; readonly table: number };

/** What a page is told of its seat (`env.seat`, `lab.seat`), recomputed when someone sits down at its table. */
export function seatMessage(
  modes: RoomModes,
  seat: Seat,
  lab: string,
  learnerId: string,
):
  | { mode: 'demo' | 'tables'; text: string; readOnly: boolean; table?: number; members?: string[] }
  | undefined {
  if (seat.mode === 'individual') return undefined;
  if (seat.mode === 'demo' || seat.table === undefined)
    return { mode: 'demo', text: seat.text ?? '', readOnly: seat.readOnly };
  const members = modes.members(lab, seat.table, learnerId);
  return {
    mode: 'tables',
    text: `Table ${String(seat.table)} (you share this environment): ${members.join(', ')}`,
    readOnly: false,
    table: seat.table,
    members,
  };
}

/** The learner row of a lab's shared demo. */
export const demoOwner = (lab: string): string => `demo-${lab}`;
/** The learner row of a table at a lab. */
export const tableOwner = (lab: string, table: number): string => `table-${String(table)}-${lab}`;

/**
 * A shared demo's lab channel for a watching learner: the instructor's task states stream in; Check, hints,
 * solutions, answers, the mode, fault buttons, resets and skips are refused (`LAB_ERR_READ_ONLY`), so nothing a
 * watcher does changes the instructor's environment or its grading history.
 */
export function readOnlyLab(target: LabChannelTarget): LabChannelTarget {
  const refusal = () =>
    new XenlabError(
      LabChannelError.READ_ONLY,
      "this is the instructor's shared demo: the instructor checks, resets and runs things here",
      { codeInMessage: false },
    );
  const blocked = new Set(['check', 'answer']);
  const blockedSync = new Set(['hint', 'solution', 'setMode', 'ran']);
  const grader = new Proxy(target.grader, {
    get(g, prop) {
      if (typeof prop === 'string' && blocked.has(prop)) return () => Promise.reject(refusal());
      if (typeof prop === 'string' && blockedSync.has(prop))
        return () => {
          throw refusal();
        };
      const v: unknown = Reflect.get(g, prop, g);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(g) : v;
    },
  });
  const { faults, steps } = target;
  return {
    grader,
    ...(faults
      ? {
          faults: {
            view: () => faults.view(),
            onChange: (l) => faults.onChange(l),
            press: () => Promise.reject(refusal()),
          },
        }
      : {}),
    ...(steps
      ? {
          steps: {
            view: () => steps.view(),
            onChange: (l) => steps.onChange(l),
            reset: () => Promise.reject(refusal()),
            skip: () => Promise.reject(refusal()),
          },
        }
      : {}),
  };
}
