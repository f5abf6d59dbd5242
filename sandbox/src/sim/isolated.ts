/**
 * Simulators outside the caller's thread: each runs in a worker thread (its XenAPI HTTP server listens there, on
 * 127.0.0.1), so a learner's big pool or a flood of calls never stalls the gateway's event loop. Workers are
 * shared by a few simulators each and have a bounded heap (`resourceLimits`); a worker that dies (out of memory,
 * a crash, terminated) takes only its own simulators down, and they come back on the same port, with the same
 * login and control token, from their saved pool.
 *
 * @example
 * ```ts
 * const sim = await startIsolatedSimulator({ state: poolStateSink(db, row.id), password: row.xapiPassword });
 * // sim.url, sim.controlUrl, sim.controlToken; await sim.close();
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { CrossPoolOptions } from './cross-pool.js';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { PoolLocation, StateSink } from './persist.js';
import type { ScenarioInput } from './scenario.js';
import type { ServerLimits } from './server.js';

/** A simulator reached over HTTP only: its XenAPI and its control API. */
export interface SimulatorEndpoint {
  /** Base URL of the XenAPI (XML-RPC on `/`, JSON-RPC on `/jsonrpc`). */
  readonly url: string;
  /** Base URL of the control API (`<url>/_xenlab/`). */
  readonly controlUrl: string;
  /** Bearer token for the control API. */
  readonly controlToken: string;
  /** Stops serving and saves the pool. */
  close(): Promise<void>;
  /** Simulators that can come back after a crash call `fn` each time they are back (see {@link IsolatedSimulator}). */
  onRestart?(fn: () => void | Promise<void>): void;
}

/** Options of {@link startIsolatedSimulator}: those of `startSimulator` that can cross to a worker thread. */
export interface IsolatedSimulatorOptions {
  readonly port?: number;
  readonly host?: string;
  readonly user?: string;
  readonly password?: string;
  /** A scenario object or the path of a YAML/JSON file. */
  readonly scenario?: ScenarioInput | string;
  readonly seed?: string | number;
  readonly fast?: boolean;
  readonly stateFile?: string;
  /** Where the pool is kept; it must carry its `location` (a file, or a database file) for the worker to open. */
  readonly state?: StateSink;
  readonly controlToken?: string;
  readonly limits?: Omit<ServerLimits, 'loopback'>;
  readonly maxObjects?: number;
  /** See `SimulatorOptions.sharedStorage`: a directory several pools share for replicated SR metadata. */
  readonly sharedStorage?: string;
  /** See `SimulatorOptions.crossPool`: the link secret and WAN shared by the pools of one environment. */
  readonly crossPool?: CrossPoolOptions;
  /** The worker pool to run in (default: one shared by the process, see {@link SimulatorPool}). */
  readonly pool?: SimulatorPool;
}

/** A simulator running in a worker thread. */
export interface IsolatedSimulator extends SimulatorEndpoint {
  /** How many times its worker died and it was brought back. */
  readonly restarts: number;
  /** Resolves once it serves (again, after a restart); rejects when it could not be brought back. */
  ready(): Promise<void>;
  /** Ends its worker as a crash would (tests, operators): it and its neighbours come back from their saved pools. */
  terminateWorker(): Promise<void>;
  /**
   * Calls `fn` each time it is back after its worker died (what lives only in memory, such as a lab's faults, is
   * played again there).
   */
  onRestart(fn: () => void | Promise<void>): void;
}

/** Thrown when a simulator cannot start in a worker. `code` is stable. */
export class IsolatedSimulatorError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'IsolatedSimulatorError';
    this.code = code;
  }
}

/** What crosses to the worker to start one simulator (plain data). */
export interface WorkerStart {
  readonly port: number;
  readonly host: string;
  readonly user?: string;
  readonly password?: string;
  readonly scenario?: ScenarioInput | string;
  readonly seed?: string | number;
  readonly fast?: boolean;
  readonly location?: PoolLocation;
  readonly controlToken: string;
  readonly limits?: Omit<ServerLimits, 'loopback'>;
  readonly maxObjects?: number;
  readonly sharedStorage?: string;
  readonly crossPool?: CrossPoolOptions;
}

/** Messages to a worker. */
export type ToWorker =
  | { readonly op: 'start'; readonly id: number; readonly options: WorkerStart }
  | { readonly op: 'close'; readonly id: number };

/** Messages from a worker. */
export type FromWorker =
  | { readonly op: 'started'; readonly id: number; readonly url: string }
  | { readonly op: 'failed'; readonly id: number; readonly message: string; readonly code?: string }
  | { readonly op: 'closed'; readonly id: number };

/** Options of a {@link SimulatorPool}. */
export interface SimulatorPoolOptions {
  /** Simulators a worker hosts at most (default 4). */
  readonly perWorker?: number;
  /** Workers to spread over before two simulators share one (default: the number of CPUs, at least 2). */
  readonly spread?: number;
  /** Each worker's limits (default: 1 GiB old generation, enough for a few pools at the object cap). */
  readonly resourceLimits?: ResourceLimits;
  /** Restarts of one simulator allowed within a minute before it is given up (default 3). */
  readonly maxRestartsPerMinute?: number;
}

interface Group {
  readonly worker: Worker;
  readonly sims: Set<Entry>;
  readonly waiting: Map<number, (m: FromWorker) => void>;
  online: Promise<void>;
  dead: boolean;
}

interface Entry {
  readonly id: number;
  readonly start: WorkerStart;
  group: Group | undefined;
  ready: Promise<void>;
  restarts: number;
  restartTimes: number[];
  closed: boolean;
  readonly onRestart: (() => void | Promise<void>)[];
}

let nextId = 1;

/**
 * Worker threads hosting simulators. Placement: a new worker for each simulator until `spread` workers run, then
 * the least busy worker with room, then a new one.
 */
export class SimulatorPool {
  readonly #perWorker: number;
  readonly #spread: number;
  readonly #limits: ResourceLimits;
  readonly #maxRestarts: number;
  readonly #groups = new Set<Group>();

  constructor(options: SimulatorPoolOptions = {}) {
    this.#perWorker = Math.max(1, options.perWorker ?? 4);
    this.#spread = Math.max(1, options.spread ?? Math.max(2, availableParallelism()));
    this.#limits = options.resourceLimits ?? { maxOldGenerationSizeMb: 1024 };
    this.#maxRestarts = options.maxRestartsPerMinute ?? 3;
  }

  /** Workers running now. */
  get workers(): number {
    return this.#groups.size;
  }

  /** Starts a simulator in a worker. */
  async start(options: IsolatedSimulatorOptions): Promise<IsolatedSimulator> {
    const location = options.state
      ? options.state.location
      : options.stateFile && { kind: 'file' as const, path: options.stateFile };
    if (options.state && !options.state.location)
      throw new IsolatedSimulatorError(
        'SIM_ERR_STATE_NOT_SHAREABLE',
        `${options.state.name} cannot be opened from a worker thread (an in-memory database?): use startSimulator`,
      );
    const start: WorkerStart = {
      port: options.port ?? 0,
      host: options.host ?? '127.0.0.1',
      controlToken: options.controlToken ?? randomBytes(24).toString('base64url'),
      ...(options.user === undefined ? {} : { user: options.user }),
      ...(options.password === undefined ? {} : { password: options.password }),
      ...(options.scenario === undefined ? {} : { scenario: options.scenario }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.fast === undefined ? {} : { fast: options.fast }),
      ...(location ? { location } : {}),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.maxObjects === undefined ? {} : { maxObjects: options.maxObjects }),
      ...(options.sharedStorage === undefined ? {} : { sharedStorage: options.sharedStorage }),
      ...(options.crossPool === undefined ? {} : { crossPool: options.crossPool }),
    };
    const entry: Entry = {
      id: nextId++,
      start,
      group: undefined,
      ready: Promise.resolve(),
      restarts: 0,
      restartTimes: [],
      closed: false,
      onRestart: [],
    };
    const url = await this.#launch(entry, start);
    // Restarts come back on the same port (the learner's `xe` and sandbox know it).
    const pinned: WorkerStart = { ...start, port: Number(new URL(url).port) };
    (entry as { start: WorkerStart }).start = pinned;
    entry.ready = Promise.resolve();
    let closing: Promise<void> | undefined;
    return {
      url,
      controlUrl: `${url}/_xenlab/`,
      controlToken: start.controlToken,
      get restarts() {
        return entry.restarts;
      },
      ready: () => entry.ready,
      onRestart: (fn) => {
        entry.onRestart.push(fn);
      },
      terminateWorker: async () => {
        const g = entry.group;
        if (g && !g.dead) await g.worker.terminate();
        // Let the exit be noticed and the restart begin.
        await new Promise((r) => setImmediate(r));
      },
      close: () => (closing ??= this.#close(entry)),
    };
  }

  /** Ends every worker (their simulators save their pools first). */
  async close(): Promise<void> {
    await Promise.all([...this.#groups].map((g) => this.#endGroup(g)));
  }

  async #launch(entry: Entry, start: WorkerStart): Promise<string> {
    const group = await this.#place();
    entry.group = group;
    group.sims.add(entry);
    const reply = await this.#ask(group, { op: 'start', id: entry.id, options: start });
    if (reply.op === 'started') return reply.url;
    group.sims.delete(entry);
    entry.group = undefined;
    this.#retireIfEmpty(group);
    throw new IsolatedSimulatorError(
      reply.op === 'failed' ? (reply.code ?? 'SIM_ERR_WORKER') : 'SIM_ERR_WORKER',
      reply.op === 'failed' ? reply.message : 'the simulator worker did not start it',
    );
  }

  #ask(group: Group, message: ToWorker): Promise<FromWorker> {
    return new Promise((resolve) => {
      if (group.dead) {
        resolve({
          op: 'failed',
          id: message.id,
          message: 'the simulator worker died',
          code: 'SIM_ERR_WORKER_DIED',
        });
        return;
      }
      group.waiting.set(message.id, resolve);
      group.worker.postMessage(message);
    });
  }

  async #place(): Promise<Group> {
    const alive = [...this.#groups].filter((g) => !g.dead);
    let group: Group | undefined;
    if (alive.length >= this.#spread) {
      const roomy = alive
        .filter((g) => g.sims.size < this.#perWorker)
        .sort((a, b) => a.sims.size - b.sims.size);
      group = roomy[0];
    }
    group ??= await this.#spawn();
    await group.online;
    return group;
  }

  async #spawn(): Promise<Group> {
    const worker = new Worker(await workerEntry(), {
      resourceLimits: this.#limits,
      stdout: false,
      stderr: false,
    });
    const group: Group = {
      worker,
      sims: new Set(),
      waiting: new Map(),
      online: Promise.resolve(),
      dead: false,
    };
    group.online = new Promise<void>((resolve) => {
      worker.once('online', resolve);
      worker.once('exit', () => {
        resolve();
      });
    });
    worker.on('message', (m: FromWorker) => {
      const w = group.waiting.get(m.id);
      group.waiting.delete(m.id);
      w?.(m);
    });
    worker.on('error', (e) => {
      // Out of memory (ERR_WORKER_OUT_OF_MEMORY) or an uncaught error: the exit that follows restarts its pools.
      process.emitWarning(`xenlab sim: a simulator worker failed: ${e.message}`);
    });
    worker.on('exit', () => {
      group.dead = true;
      this.#groups.delete(group);
      for (const [id, w] of group.waiting)
        w({ op: 'failed', id, message: 'the simulator worker died', code: 'SIM_ERR_WORKER_DIED' });
      group.waiting.clear();
      for (const entry of group.sims) if (!entry.closed) this.#restart(entry);
      group.sims.clear();
    });
    this.#groups.add(group);
    return group;
  }

  #restart(entry: Entry): void {
    entry.group = undefined;
    const now = Date.now();
    entry.restartTimes = [...entry.restartTimes.filter((t) => now - t < 60_000), now];
    const tooMany = entry.restartTimes.length > this.#maxRestarts;
    entry.restarts++;
    entry.ready = (async () => {
      if (tooMany)
        throw new IsolatedSimulatorError(
          'SIM_ERR_GIVEN_UP',
          `the simulator on port ${String(entry.start.port)} died ${String(entry.restartTimes.length)} times in a minute; not restarted`,
        );
      // A short pause: a worker that died of its pool's size should not spin.
      await new Promise((r) => setTimeout(r, 100 * entry.restartTimes.length));
      const closed = (): boolean => entry.closed;
      if (closed()) return;
      await this.#launch(entry, entry.start);
      // Closed while it came back.
      if (closed()) await this.#stop(entry);
      else for (const fn of entry.onRestart) await fn();
    })();
    entry.ready.catch((e: unknown) => {
      process.emitWarning(`xenlab sim: could not bring a simulator back: ${(e as Error).message}`);
    });
  }

  async #close(entry: Entry): Promise<void> {
    entry.closed = true;
    await entry.ready.catch(() => undefined);
    await this.#stop(entry);
  }

  async #stop(entry: Entry): Promise<void> {
    const group = entry.group;
    if (!group) return;
    await this.#ask(group, { op: 'close', id: entry.id });
    group.sims.delete(entry);
    entry.group = undefined;
    this.#retireIfEmpty(group);
  }

  #retireIfEmpty(group: Group): void {
    if (group.sims.size > 0 || group.dead) return;
    this.#groups.delete(group);
    group.dead = true;
    void group.worker.terminate();
  }

  async #endGroup(group: Group): Promise<void> {
    for (const entry of [...group.sims]) {
      entry.closed = true;
      await this.#stop(entry);
    }
    if (!group.dead) {
      group.dead = true;
      this.#groups.delete(group);
      await group.worker.terminate();
    }
  }
}

let shared: SimulatorPool | undefined;

/** The process's shared pool of simulator workers. */
export function defaultSimulatorPool(): SimulatorPool {
  return (shared ??= new SimulatorPool());
}

/**
 * Starts a simulator in a worker thread (see the module comment). The pool it keeps must be shareable with the
 * worker: a state file, or a sink carrying its `location` (the gateway's database file).
 */
export function startIsolatedSimulator(options: IsolatedSimulatorOptions = {}): Promise<IsolatedSimulator> {
  return (options.pool ?? defaultSimulatorPool()).start(options);
}

// ---------------------------------------------------------------------------------------------------------------
// The worker's code: compiled JS next to this module, or, when this module runs from TypeScript sources (tests,
// through vite-node), the sources bundled once per process with esbuild (a dev dependency) so they are never stale.

let entryUrl: Promise<URL> | undefined;

function workerEntry(): Promise<URL> {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return Promise.resolve(new URL('./worker.js', import.meta.url));
  entryUrl ??= bundleWorkerSources(here).then((out) => pathToFileURL(out));
  entryUrl.catch(() => {
    entryUrl = undefined;
  });
  return entryUrl;
}

async function bundleWorkerSources(here: string): Promise<string> {
  const src = dirname(here);
  const root = join(src, '..', '..', '..');
  // Inside the repository's node_modules, so the bundle's bare imports (better-sqlite3, yaml, zod) resolve.
  const outDir = join(root, 'node_modules', '.cache', 'xenlab-sim-worker');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `worker-${String(process.pid)}-${randomBytes(4).toString('hex')}.mjs`);
  const esbuild = await import('esbuild');
  const toolkit = join(root, 'toolkit', 'src');
  await esbuild.build({
    entryPoints: [join(src, 'worker.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    plugins: [
      {
        name: 'xenlab-sources',
        setup(build) {
          build.onResolve({ filter: /^[^./]/ }, (args) => {
            const m = /^@xenlab\/toolkit\/(.*)$/.exec(args.path);
            if (m) return { path: join(toolkit, m[1] ?? '', 'index.ts') };
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  process.once('exit', () => {
    if (existsSync(out)) rmSync(out, { force: true });
  });
  return out;
}
