/**
 * The gateway's side of admission control (issue #13): each lab's cost (its driver, nodes and declared memory), the
 * limits measured at start (`sessions/capacity.ts`) or set by the operator, the line (`sessions/admission.ts`), and
 * what a page waiting in it is told: `env.queued` on a terminal socket, `lab.queued` on the lab channel — its place
 * and about how long, sent when the line moves and every 30 s. A page that closes leaves the line.
 * @module
 */
import type { WebSocket } from 'ws';
import { join } from 'node:path';
import { loadLab } from '../labs/loader.js';
import { PLAYGROUND_LAB, isName } from '../protocol/index.js';
import type { ServerMessage } from '../protocol/index.js';
import type { LabServerMessage } from '../protocol/lab.js';
import { Admission, type QueueStatus } from '../sessions/admission.js';
import {
  MEASURED_MB,
  capacityFor,
  measureHost,
  type CapacityDecision,
  type HostFacts,
  type LabCost,
} from '../sessions/capacity.js';
import type { EnvironmentManager, LiveEnvironment } from '../sessions/index.js';
import type { Db } from '../store/index.js';

/** How often a page in line hears its estimate again, the line unchanged. */
const REFRESH_MS = 30_000;

/** Until starts were measured here: a shell is up in seconds; a nested Xen host boots (TCG ~100 s, KVM ~25 s). */
const defaultStartMs = (host: HostFacts) => (driver: string) =>
  driver === 'qemu-xen' || driver === 'xcp'
    ? host.kvm
      ? 25_000
      : 100_000
    : driver === 'docker'
      ? 5_000
      : 1_000;

export interface RoomCapacityOptions {
  readonly db: Db;
  readonly environments: EnvironmentManager;
  readonly labsDir: string;
  /** The operator's limits per driver (`--capacity qemu-xen=6`): they replace the measured ones. */
  readonly overrides?: ReadonlyMap<string, number>;
  /** The machine (default: measured now). */
  readonly host?: HostFacts;
  /** Until lifetimes were measured: the idle timeout. */
  readonly idleMs?: number;
}

/** Admission for the gateway's labs; see the module comment. */
export class RoomCapacity {
  readonly admission: Admission;
  readonly host: HostFacts;
  readonly #overrides: ReadonlyMap<string, number>;
  readonly #labsDir: string;
  readonly #costs = new Map<string, LabCost>();
  readonly #environments: EnvironmentManager;

  constructor(o: RoomCapacityOptions) {
    this.host = o.host ?? measureHost();
    this.#overrides = o.overrides ?? new Map();
    this.#labsDir = o.labsDir;
    this.#environments = o.environments;
    this.admission = new Admission({
      db: o.db,
      capacity: (driver, lab) => this.decide(lab, driver).limit,
      isLive: (id) => o.environments.find(id) !== undefined,
      defaultLifetimeMs: o.idleMs ?? 60 * 60_000,
      defaultStartMs: defaultStartMs(this.host),
    });
    o.environments.onEnded((id) => {
      this.admission.release(id);
    });
  }

  /**
   * A lab's cost: its driver, nodes and declared memory (its lab.yaml read once, when first opened; the playground
   * and labs that do not load: a shell).
   */
  cost(lab: string): LabCost {
    const known = this.#costs.get(lab);
    if (known) return known;
    let cost: LabCost = { driver: 'local', nodes: 1 };
    if (lab !== PLAYGROUND_LAB && isName(lab)) {
      try {
        const env = loadLab(join(this.#labsDir, lab)).manifest.environment;
        // Machines: nodes that are not a plain shell (`image: local`); none listed = one Xen host. A node's
        // declared `memoryMb` where the schema has it, else the driver's default.
        const nodes = (env.nodes ?? []) as readonly { image?: string; memoryMb?: unknown }[];
        const machines = env.nodes ? nodes.filter((n) => n.image !== 'local') : [{}];
        const memoryMb = machines.reduce<number>(
          (a, n: { memoryMb?: unknown }) =>
            a + (typeof n.memoryMb === 'number' ? n.memoryMb : MEASURED_MB.qemuDefaultNode),
          0,
        );
        const machine = env.driver === 'qemu-xen' || env.driver === 'xcp';
        cost = {
          driver: env.driver,
          nodes: Math.max(1, machine ? machines.length : nodes.length),
          ...(machine ? { memoryMb } : {}),
        };
      } catch {
        // Not a lab (or a broken one, which will not open anyway): counted as a shell.
      }
    }
    this.#costs.set(lab, cost);
    return cost;
  }

  /** The driver a lab's environments count against. */
  driverOf(lab: string): string {
    return lab === PLAYGROUND_LAB ? 'local' : this.cost(lab).driver;
  }

  /** The limit for a lab (the driver given when asked by the line). */
  decide(lab: string, driver = this.driverOf(lab)): CapacityDecision {
    return capacityFor({ ...this.cost(lab), driver }, this.host, this.#overrides);
  }

  /** Per lab: its driver, the limit and why, what runs and waits: for the instructor's page. */
  view(labs: readonly string[]): {
    host: HostFacts;
    labs: {
      lab: string;
      driver: string;
      limit: number;
      by: string;
      why: string;
      running: number;
      waiting: number;
    }[];
  } {
    return {
      host: this.host,
      labs: labs.map((lab) => {
        const driver = this.driverOf(lab);
        const d = this.decide(lab, driver);
        return {
          lab,
          driver,
          limit: d.limit,
          by: d.by,
          why: d.why,
          running: this.admission.running(driver),
          waiting: this.admission.waiting(driver),
        };
      }),
    };
  }

  /**
   * Waits for a place for the environment `owner × lab`, telling the page where it stands meanwhile (`kind`: which
   * socket it is), then opens it. A page that closes while in line leaves it (and the promise never settles). A
   * start that fails frees the place.
   */
  async open(
    ws: WebSocket,
    kind: 'terminal' | 'lab',
    owner: string,
    lab: string,
    envId: string,
  ): Promise<LiveEnvironment> {
    const ticket = this.admission.enter(envId, this.driverOf(lab), lab);
    const say = (s: QueueStatus) => {
      if (ws.readyState !== ws.OPEN) return;
      const body = {
        driver: s.driver,
        place: s.place,
        waiting: s.waiting,
        running: s.running,
        capacity: s.capacity,
        etaMs: Math.round(s.etaMs),
      };
      const msg: ServerMessage | LabServerMessage =
        kind === 'terminal' ? { type: 'env.queued', ...body } : { type: 'lab.queued', ...body };
      ws.send(JSON.stringify(msg));
    };
    const first = ticket.status();
    if (first) {
      say(first);
      const off = ticket.onChange(say);
      const tick = setInterval(() => {
        const s = ticket.status();
        if (s) say(s);
      }, REFRESH_MS);
      tick.unref();
      const leave = () => {
        ticket.leave();
      };
      ws.once('close', leave);
      await ticket.admitted;
      off();
      clearInterval(tick);
      ws.off('close', leave);
    }
    const wasLive = this.#environments.find(envId) !== undefined;
    try {
      const env = await this.#environments.open(owner, lab);
      if (!wasLive) this.admission.started(envId);
      return env;
    } catch (err) {
      this.admission.release(envId, false);
      throw err;
    }
  }
}
