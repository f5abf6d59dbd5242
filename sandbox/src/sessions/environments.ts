import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Sandbox, SandboxDriver } from '../drivers/types.js';
import { fileSink, startLearnerSimulator, type StateSink } from '../sim/index.js';
import { Environments, poolStateSink, type Db, type EnvironmentRow } from '../store/index.js';
import { SharedTerminal } from './shared-terminal.js';
import { XenlabError } from '../errors/index.js';
import { moduleLogger } from '../log/index.js';

const log = moduleLogger('sessions');

/** How a learner reaches their own pool. */
export interface XapiEndpoint {
  readonly url: string;
  readonly user: string;
  readonly password: string;
}

/** Something to tell the pages watching an environment (idle countdown, culled, back to active). */
export type EnvironmentNotice =
  | { readonly kind: 'idle'; readonly cullAt: number }
  | { readonly kind: 'active' }
  | { readonly kind: 'culled'; readonly reason: string }
  | { readonly kind: 'message'; readonly text: string };

/** An environment brought up in this process. */
export interface LiveEnvironment {
  readonly row: EnvironmentRow;
  readonly sandbox: Sandbox;
  readonly xapi: XapiEndpoint | undefined;
  readonly terminals: Map<string, SharedTerminal>;
  /** True when this environment existed before this gateway process started it (a restart or a cull). */
  readonly revived: boolean;
  /** Whether the learner was told their shell is new after a revival. */
  announced: boolean;
  lastActivity: number;
  warned: boolean;
  readonly listeners: Set<(n: EnvironmentNotice) => void>;
  readonly stop: () => Promise<void>;
  /** Lets go of the parts for a gateway restart (docker containers keep running, Xen machines are saved). */
  readonly detach: () => Promise<void>;
}

/** What a provisioner brings up for an environment besides its record. */
export interface Provisioned {
  readonly sandbox: Sandbox;
  readonly xapi?: XapiEndpoint;
  /** Ends the environment's parts (culled: they come back from its record and saved pool). */
  readonly close: () => Promise<void>;
  /** Lets go of them for a gateway restart: the sandbox is detached, not destroyed (default: `close`). */
  readonly detach?: () => Promise<void>;
}

/** Brings up an environment's parts (sandbox, simulator…) from its record; labs plug in their own. */
export type Provisioner = (row: EnvironmentRow) => Promise<Provisioned>;

export interface EnvironmentManagerOptions {
  readonly db: Db;
  readonly driver: SandboxDriver;
  readonly dataDir: string;
  /** How long a terminal with no page attached keeps running (default 30 min). */
  readonly graceMs?: number;
  /** Idle time (no keystrokes) before an environment is culled (default 60 min). */
  readonly idleMs?: number;
  /** How long before culling the pages are warned, with a countdown the learner can stop (default 5 min). */
  readonly warnMs?: number;
  /** Overrides the default provisioner (own simulator with the default pool + the driver's sandbox). */
  readonly provision?: Provisioner;
  readonly now?: () => number;
  /**
   * Environments one learner may have running at once (default: no cap). Opening one more stops the learner's
   * least recently used environment that no page shows; when every one has a page open, it is refused.
   */
  readonly maxLivePerLearner?: number;
}

/** Thrown by {@link EnvironmentManager.open} when the learner already has their cap of environments in use. */
export class TooManyEnvironmentsError extends XenlabError {
  constructor(message: string) {
    super('GATEWAY_ERR_TOO_MANY_ENVIRONMENTS', message, { codeInMessage: false });
  }
}

/** Where an environment's pool is saved: the gateway's database, or the row's file without one. */
export function poolStateOf(row: EnvironmentRow, db?: Db): StateSink {
  return db ? poolStateSink(db, row.id, row.simState) : fileSink(row.simState);
}

/**
 * The default parts of an environment: the learner's own simulator with the default pool (kept in the gateway's
 * database, so it survives restarts; in a worker thread, so a big pool never stalls the gateway), and the driver's
 * sandbox with `xe` pointed at it. Lessons that are not labs use it.
 */
export async function provisionPlayground(
  row: EnvironmentRow,
  driver: SandboxDriver,
  db?: Db,
): Promise<Provisioned> {
  const sim = await startLearnerSimulator({
    port: 0,
    user: row.xapiUser,
    password: row.xapiPassword,
    state: poolStateOf(row, db),
    seed: row.id,
  });
  const xapi = { url: sim.url, user: row.xapiUser, password: row.xapiPassword };
  mkdirSync(row.home, { recursive: true, mode: 0o700 });
  const pool = { port: Number(new URL(sim.url).port), user: row.xapiUser, password: row.xapiPassword };
  let sandbox: Sandbox;
  try {
    sandbox = await driver.create({ id: row.id, home: row.home, pool });
  } catch (err) {
    await sim.close();
    throw err;
  }
  return {
    sandbox,
    xapi,
    close: async () => {
      await sandbox.destroy();
      await sim.close();
    },
    detach: async () => {
      await sandbox.detach();
      await sim.close();
    },
  };
}

/**
 * Environments of learners: one per learner × lab, durable in SQLite, brought up on first use and brought back
 * after a restart (files and pool as they were; shells respawned with a notice), culled after idling.
 */
export class EnvironmentManager {
  readonly #rows: Environments;
  readonly #driver: SandboxDriver;
  readonly #dataDir: string;
  readonly #graceMs: number;
  readonly #idleMs: number;
  readonly #warnMs: number;
  readonly #now: () => number;
  readonly #provision: Provisioner;
  readonly #live = new Map<string, LiveEnvironment>();
  readonly #opening = new Map<string, Promise<LiveEnvironment>>();
  readonly #sweeper: NodeJS.Timeout;
  readonly #maxLive: number;
  readonly #ended = new Set<(id: string) => void>();

  constructor(options: EnvironmentManagerOptions) {
    this.#maxLive = options.maxLivePerLearner ?? Infinity;
    this.#rows = new Environments(options.db);
    this.#driver = options.driver;
    this.#dataDir = options.dataDir;
    this.#graceMs = options.graceMs ?? 30 * 60_000;
    this.#idleMs = options.idleMs ?? 60 * 60_000;
    this.#warnMs = Math.min(options.warnMs ?? 5 * 60_000, this.#idleMs);
    this.#now = options.now ?? Date.now;
    this.#provision = options.provision ?? ((row) => provisionPlayground(row, this.#driver, options.db));
    this.#sweeper = setInterval(
      () => {
        void this.sweep();
        void this.#cullOrphans();
      },
      Math.max(1_000, Math.min(30_000, this.#warnMs / 4)),
    );
    this.#sweeper.unref();
    void this.#cullOrphans();
  }

  /**
   * Environments an earlier gateway left running (docker containers outlive a restart) go at once when no record
   * wants them (gone, or culled), else when nobody opens them within the idle window. Drivers without: nothing.
   */
  async #cullOrphans(): Promise<void> {
    const driver = this.#driver as SandboxDriver & {
      cullOrphans?: (f: { keep: (id: string) => boolean; olderThanMs: number }) => Promise<string[]>;
    };
    if (typeof driver.cullOrphans !== 'function') return;
    const keep = (id: string) => this.#rows.get(id)?.status === 'active';
    await driver.cullOrphans({ keep, olderThanMs: this.#idleMs }).catch((err: unknown) => {
      log.warn('removing orphaned sandboxes failed (tried again next sweep)', { err });
    });
  }

  get driver(): SandboxDriver {
    return this.#driver;
  }

  /** Environments live in this process. */
  get live(): number {
    return this.#live.size;
  }

  /** The id of a learner's environment for a lab. */
  static idFor(learnerId: string, labId: string): string {
    return `${learnerId}~${labId}`;
  }

  /** The learner's environment for a lab: the live one, or brought up (created, or revived from its record). */
  open(learnerId: string, labId: string): Promise<LiveEnvironment> {
    const id = EnvironmentManager.idFor(learnerId, labId);
    const live = this.#live.get(id);
    if (live) return Promise.resolve(live);
    let p = this.#opening.get(id);
    if (!p) {
      const room = this.#makeRoom(learnerId);
      if (room === false) {
        return Promise.reject(
          new TooManyEnvironmentsError(
            `you have ${String(this.#maxLive)} environments open already: close the page of one of them first`,
          ),
        );
      }
      p = (room ?? Promise.resolve())
        .then(() => this.#bringUp(id, learnerId, labId))
        .finally(() => this.#opening.delete(id));
      this.#opening.set(id, p);
    }
    return p;
  }

  /**
   * Under the learner's cap: undefined when there is room, a promise when the least recently used environment no
   * page shows is being stopped to make room, false when every environment of theirs is in use.
   */
  #makeRoom(learnerId: string): Promise<void> | undefined | false {
    if (!Number.isFinite(this.#maxLive)) return undefined;
    const prefix = EnvironmentManager.idFor(learnerId, '');
    const mine = [...this.#live.values()].filter((e) => e.row.id.startsWith(prefix));
    const opening = [...this.#opening.keys()].filter((k) => k.startsWith(prefix)).length;
    if (mine.length + opening < this.#maxLive) return undefined;
    const unused = mine
      .filter((e) => e.listeners.size === 0 && [...e.terminals.values()].every((t) => t.viewers === 0))
      .sort((a, b) => a.lastActivity - b.lastActivity)[0];
    if (!unused || mine.length + opening - 1 >= this.#maxLive) return false;
    return this.cull(unused.row.id, 'another environment of yours needed the room');
  }

  /** Whether {@link open} would bring up (or find) this environment now rather than refuse it. */
  admits(learnerId: string, labId: string): boolean {
    const id = EnvironmentManager.idFor(learnerId, labId);
    if (this.#live.has(id) || this.#opening.has(id) || !Number.isFinite(this.#maxLive)) return true;
    const prefix = EnvironmentManager.idFor(learnerId, '');
    const mine = [...this.#live.values()].filter((e) => e.row.id.startsWith(prefix));
    const opening = [...this.#opening.keys()].filter((k) => k.startsWith(prefix)).length;
    if (mine.length + opening < this.#maxLive) return true;
    return (
      mine.length + opening - 1 < this.#maxLive &&
      mine.some((e) => e.listeners.size === 0 && [...e.terminals.values()].every((t) => t.viewers === 0))
    );
  }

  /** A live environment by id (no bring-up). */
  find(id: string): LiveEnvironment | undefined {
    return this.#live.get(id);
  }

  /** Every environment live in this process. */
  all(): LiveEnvironment[] {
    return [...this.#live.values()];
  }

  /** Calls `listener` with the id of every environment culled (idle, removed, made room): its place is free. */
  onEnded(listener: (id: string) => void): () => void {
    this.#ended.add(listener);
    return () => this.#ended.delete(listener);
  }

  /** Shows a message on every open terminal of every live environment (the instructor's broadcast). */
  broadcast(text: string): number {
    let reached = 0;
    for (const env of this.#live.values()) {
      if (env.listeners.size === 0) continue;
      reached++;
      for (const l of env.listeners) l({ kind: 'message', text });
    }
    return reached;
  }

  async #bringUp(id: string, learnerId: string, labId: string): Promise<LiveEnvironment> {
    let row = this.#rows.get(id);
    const revived = row !== undefined;
    if (!row) {
      const dir = join(this.#dataDir, 'envs', id);
      row = {
        id,
        learnerId,
        labId,
        driver: this.#driver.name,
        home: join(dir, 'home'),
        xapiUser: 'root',
        xapiPassword: randomBytes(18).toString('base64url'),
        simState: join(dir, 'pool.json'),
        status: 'active',
        createdAt: this.#now(),
        lastActiveAt: this.#now(),
      };
      mkdirSync(row.home, { recursive: true, mode: 0o700 });
      this.#rows.insert(row);
    } else if (row.status !== 'active') {
      this.#rows.setStatus(id, 'active');
      row = { ...row, status: 'active' };
    }
    const parts = await this.#provision(row);
    const env: LiveEnvironment = {
      row,
      sandbox: parts.sandbox,
      xapi: parts.xapi,
      terminals: new Map(),
      revived,
      announced: false,
      lastActivity: this.#now(),
      warned: false,
      listeners: new Set(),
      stop: parts.close,
      detach: parts.detach ?? parts.close,
    };
    this.#live.set(id, env);
    return env;
  }

  /** The named terminal of an environment, spawned when missing (or when its shell exited). */
  terminal(
    env: LiveEnvironment,
    name: string,
    size: { cols: number; rows: number },
    node?: string,
  ): SharedTerminal {
    const existing = env.terminals.get(name);
    if (existing && !existing.exited) return existing;
    const term = new SharedTerminal(env.sandbox.attachTerminal(size, node));
    env.terminals.set(name, term);
    let grace: NodeJS.Timeout | undefined;
    term.onIdle(() => {
      grace = setTimeout(() => {
        if (term.viewers === 0) term.kill();
      }, this.#graceMs);
      grace.unref();
    });
    term.onEnd(() => {
      if (grace) clearTimeout(grace);
      if (env.terminals.get(name) === term) env.terminals.delete(name);
    });
    return term;
  }

  /** The learner did something (typed): the idle clock restarts and any countdown is called off. */
  activity(env: LiveEnvironment): void {
    env.lastActivity = this.#now();
    if (env.warned) {
      env.warned = false;
      for (const l of env.listeners) l({ kind: 'active' });
    }
  }

  /** Culls idle environments (and warns those about to be). Runs periodically; callable from tests. */
  async sweep(): Promise<void> {
    const now = this.#now();
    for (const env of [...this.#live.values()]) {
      const idle = now - env.lastActivity;
      if (idle >= this.#idleMs) {
        await this.cull(env.row.id, 'idle');
      } else if (idle >= this.#idleMs - this.#warnMs && !env.warned) {
        env.warned = true;
        for (const l of env.listeners) l({ kind: 'idle', cullAt: env.lastActivity + this.#idleMs });
      }
    }
  }

  /**
   * Frees an environment's resources (shells, simulator). Its record, files and saved pool stay, so it comes back
   * as it was on the next visit.
   */
  async cull(id: string, reason: string): Promise<void> {
    const env = this.#live.get(id);
    if (!env) return;
    this.#live.delete(id);
    for (const l of env.listeners) l({ kind: 'culled', reason });
    for (const t of env.terminals.values()) t.kill();
    this.#rows.touch(id, env.lastActivity);
    this.#rows.setStatus(id, 'culled');
    try {
      await env.stop();
    } finally {
      for (const l of this.#ended) l(id);
    }
  }

  /** Shuts down for a restart: simulators save their pools; records stay active so they come back. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all(
      [...this.#live.values()].map(async (env) => {
        for (const t of env.terminals.values()) t.kill();
        this.#rows.touch(env.row.id, env.lastActivity);
        await env.detach();
      }),
    );
    this.#live.clear();
  }
}
