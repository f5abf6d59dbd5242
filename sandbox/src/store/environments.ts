import type { Db } from './index.js';

/** An environment's durable record: enough to bring it back after a restart. */
export interface EnvironmentRow {
  readonly id: string;
  readonly learnerId: string;
  readonly labId: string;
  readonly driver: string;
  readonly home: string;
  readonly xapiUser: string;
  readonly xapiPassword: string;
  readonly simState: string;
  readonly status: 'active' | 'culled';
  readonly createdAt: number;
  readonly lastActiveAt: number;
}

interface Raw {
  id: string;
  learner_id: string;
  lab_id: string;
  driver: string;
  home: string;
  xapi_user: string;
  xapi_password: string;
  sim_state: string;
  status: 'active' | 'culled';
  created_at: number;
  last_active_at: number;
}

const fromRaw = (r: Raw): EnvironmentRow => ({
  id: r.id,
  learnerId: r.learner_id,
  labId: r.lab_id,
  driver: r.driver,
  home: r.home,
  xapiUser: r.xapi_user,
  xapiPassword: r.xapi_password,
  simState: r.sim_state,
  status: r.status,
  createdAt: r.created_at,
  lastActiveAt: r.last_active_at,
});

/** The environments table. */
export class Environments {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  get(id: string): EnvironmentRow | undefined {
    const r = this.#db.prepare('SELECT * FROM environments WHERE id = ?').get(id) as Raw | undefined;
    return r && fromRaw(r);
  }

  insert(row: EnvironmentRow): void {
    this.#db
      .prepare(
        `INSERT INTO environments (id, learner_id, lab_id, driver, home, xapi_user, xapi_password, sim_state, status,
           created_at, last_active_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        row.id,
        row.learnerId,
        row.labId,
        row.driver,
        row.home,
        row.xapiUser,
        row.xapiPassword,
        row.simState,
        row.status,
        row.createdAt,
        row.lastActiveAt,
      );
  }

  setStatus(id: string, status: 'active' | 'culled'): void {
    this.#db.prepare('UPDATE environments SET status = ? WHERE id = ?').run(status, id);
  }

  touch(id: string, at: number): void {
    this.#db.prepare('UPDATE environments SET last_active_at = ? WHERE id = ?').run(at, id);
  }

  byLearner(learnerId: string): EnvironmentRow[] {
    return (
      this.#db
        .prepare('SELECT * FROM environments WHERE learner_id = ? ORDER BY created_at')
        .all(learnerId) as Raw[]
    ).map(fromRaw);
  }

  active(): EnvironmentRow[] {
    return (this.#db.prepare("SELECT * FROM environments WHERE status = 'active'").all() as Raw[]).map(
      fromRaw,
    );
  }
}
