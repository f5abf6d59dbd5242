/**
 * The XenAPI simulator: a faithful stand-in for an XCP-ng / XenServer pool, speaking XML-RPC and JSON-RPC with the
 * real object model, error codes and events, so learners practise offline and tests run without a pool.
 *
 * @example
 * ```ts
 * import { startSimulator } from './sim/index.js';
 * const sim = await startSimulator({ port: 0, fast: true });
 * console.log(sim.url); // http://127.0.0.1:40123 — log in as root / xenlab
 * await sim.close();
 * ```
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimBehaviour, SimContext, SimFaults } from './contract.js';
import { Engine } from './engine.js';
import { StateSaver, fileSink, loadState, type StateSink } from './persist.js';
import { seededRandom, uuidFrom } from './random.js';
import { Metrics } from './rrd.js';
import {
  DEFAULT_SCENARIO,
  ScenarioError,
  buildScenario,
  loadScenarioFile,
  parseScenario,
} from './scenario.js';
import type { Scenario, ScenarioInput } from './scenario.js';
import { createApiServer } from './server.js';
import type { ServerLimits, ServerTls } from './server.js';
import { DiskContents, fingerprintOf, selfSignedCertificate, transferRoute } from './transfer/index.js';
import { controlRoute } from './control.js';
import { Store } from './store.js';
import { startIsolatedSimulator, type IsolatedSimulatorOptions, type SimulatorEndpoint } from './isolated.js';
import type { StoreDump } from './store.js';
import { parseWorkloadSpec } from './workload-spec.js';
import { setSharedStorage } from './shared-storage.js';
import { setCrossPool, type CrossPoolOptions } from './cross-pool.js';

export * from './contract.js';
export {
  DEFAULT_SCENARIO,
  DEFAULT_TEMPLATES,
  ScenarioError,
  parseScenario,
  loadScenarioFile,
  scenarioSchema,
} from './scenario.js';
export type { Scenario, ScenarioInput } from './scenario.js';
export type { Engine, CallResult } from './engine.js';
export type { Store, StoreDump } from './store.js';
export { fileSink, type StateSink, type ObjectSink, type PoolChanges, type PoolLocation } from './persist.js';
export { DEFAULT_MAX_OBJECTS } from './store.js';
export {
  SimulatorPool,
  IsolatedSimulatorError,
  defaultSimulatorPool,
  startIsolatedSimulator,
  type IsolatedSimulator,
  type IsolatedSimulatorOptions,
  type SimulatorEndpoint,
  type SimulatorPoolOptions,
} from './isolated.js';
export { callControl, type ControlAnswer } from './control.js';
export { MAX_BODY_BYTES, type ServerLimits, type ServerTls } from './server.js';
export { DEFAULT_MAX_DISK_BYTES, fingerprintOf } from './transfer/index.js';

/** Options of {@link startSimulator}. */
export interface SimulatorOptions {
  /** TCP port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Address to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Login user (default root). */
  readonly user?: string;
  /** Login password (default xenlab). */
  readonly password?: string;
  /** A scenario object or the path of a YAML/JSON file (default {@link DEFAULT_SCENARIO}). */
  readonly scenario?: ScenarioInput | string;
  /** Seed for uuids and MACs (default: the scenario's seed). */
  readonly seed?: string | number;
  /** No simulated waits: every operation completes at once. */
  readonly fast?: boolean;
  /** Where to keep state across restarts; loaded on start when it exists. */
  readonly stateFile?: string;
  /** The same kept elsewhere (the gateway's database); wins over `stateFile`. */
  readonly state?: StateSink;
  /** Bearer token of the control API (default: random, see `controlToken` on the result). */
  readonly controlToken?: string;
  /** Behaviour modules (default: the ones in ./behaviour, when present). */
  readonly behaviours?: readonly SimBehaviour[];
  /** Request limits (body size cap, body deadline); the defaults suit every real client. */
  readonly limits?: ServerLimits;
  /** Most objects the pool may hold (default {@link DEFAULT_MAX_OBJECTS}); creating more fails with `INTERNAL_ERROR`. */
  readonly maxObjects?: number;
  /**
   * Most bytes of disk contents the pool keeps (written 1 MiB blocks; default {@link DEFAULT_MAX_DISK_BYTES}).
   * Imports beyond fail with `INTERNAL_ERROR`.
   */
  readonly maxDiskBytes?: number;
  /**
   * Listen with HTTPS instead of HTTP (a host's port 443): `true` makes a self-signed certificate at the first start
   * (with `openssl`; kept in `tlsDir`), or give a PEM key and certificate. Plain HTTP when absent.
   */
  readonly https?: boolean | ServerTls;
  /** Where a made certificate is kept (default: beside the state file, `<state>.tls/`; else a temporary folder). */
  readonly tlsDir?: string;
  /**
   * A directory standing for storage other simulated pools can reach (several pools of one environment pass the same
   * one): SRs' replicated metadata (`SR.enable_database_replication`) is kept there by device-config, and
   * `DR_task.create` finds it there. Without it, no other pool's metadata is ever found.
   */
  readonly sharedStorage?: string;
  /**
   * The pools of one environment: a link secret they share (a `host.migrate_receive` dest map is only followed to a
   * pool with the same secret) and the WAN between them (cross-pool migration durations). Without it, no other pool
   * is reachable.
   */
  readonly crossPool?: CrossPoolOptions;
}

/** A running simulator. */
export interface RunningSimulator extends SimulatorEndpoint {
  /** The simulator itself, for in-process tests and tools. */
  readonly sim: Simulator;
  /** With HTTPS: the certificate's SHA-256 fingerprint (`AA:BB:…`), for clients that pin it. */
  readonly tlsFingerprint?: string;
  /** With HTTPS: the certificate (PEM), for clients that trust it (`createClient({ ca })`, `curl --cacert`). */
  readonly tlsCertificate?: string;
  /** Stops serving, wakes pending `event.from` calls and saves state. */
  close(): Promise<void>;
}

/**
 * A learner's simulator: in a worker thread ({@link startIsolatedSimulator}) when its pool can be opened there (a
 * state file or a database file), else in this thread (a pool kept in an in-memory database: tests).
 * @example
 * const sim = await startLearnerSimulator({ state: poolStateSink(db, row.id), password: row.xapiPassword });
 */
export async function startLearnerSimulator(options: IsolatedSimulatorOptions): Promise<SimulatorEndpoint> {
  if (options.state === undefined || options.state.location !== undefined)
    return startIsolatedSimulator(options);
  const { pool: _pool, ...rest } = options;
  return startSimulator(rest);
}

/** The simulated pool: engine, store, scenario and the operations the control API offers. */
export class Simulator {
  readonly engine: Engine;
  readonly scenario: Scenario;
  readonly #seed: string;
  readonly #behaviours: readonly SimBehaviour[];

  constructor(
    scenario: Scenario,
    seed: string,
    behaviours: readonly SimBehaviour[],
    options: { user: string; password: string; fast: boolean },
  ) {
    this.scenario = scenario;
    this.#seed = seed;
    this.#behaviours = behaviours;
    this.engine = new Engine({
      user: options.user,
      password: options.password,
      fast: options.fast,
      durations: scenario.durations,
      random: seededRandom(seed),
      behaviours,
    });
  }

  /** The live store. */
  get store(): Store {
    return this.engine.store;
  }

  /** Builds the scenario into the (empty) live store. */
  async build(): Promise<void> {
    await this.#buildInto(this.engine.store);
    this.#applyWorkloads();
  }

  /** The scenario VMs' workloads: kept in the behaviour modules' memory, so every build, load and reset sets them. */
  #applyWorkloads(): void {
    const faults = this.faults();
    if (!faults.vmWorkload) return;
    const ctx = this.context();
    for (const spec of this.scenario.vms) {
      const vm = spec.workload && this.find('VM', { name_label: spec.name });
      if (spec.workload && vm !== undefined)
        faults.vmWorkload(ctx, vm, parseWorkloadSpec(spec.workload, ctx.clock.now().getTime()));
    }
  }

  async #buildInto(store: Store): Promise<void> {
    const created = buildScenario(store, this.scenario, () => this.engine.random(), new Date());
    const ctx = this.engine.context(undefined, undefined, store);
    for (const [cls, ref] of created) if (store.find(cls, ref)) this.engine.afterChange(ctx, cls, ref);
    if (this.scenario.vms.length > 0) await this.engine.clock.instantly(() => this.#installVms(store));
  }

  /** Scenario VMs: clone + provision + VIF + start(_on), through the behaviour handlers like any client. */
  async #installVms(store: Store): Promise<void> {
    const call = (full: string, ...args: unknown[]): Promise<unknown> =>
      this.engine.invoke(full, args, store);
    const byName = (cls: string, name: string, what: string): string => {
      const hit = store.all(cls).find(([, r]) => r.name_label === name)?.[0];
      if (!hit) throw new ScenarioError(`scenario VM refers to ${what} "${name}", which does not exist`);
      return hit;
    };
    const MiB = 1024 * 1024;
    for (const spec of this.scenario.vms) {
      const template = byName('VM', spec.template, 'template');
      const vm = String(await call('VM.clone', template, spec.name));
      await call('VM.provision', vm);
      if (spec.memoryMiB !== undefined)
        await call('VM.set_memory_limits', vm, ...Array<number>(4).fill(spec.memoryMiB * MiB));
      if (spec.vcpus !== undefined) {
        await call('VM.set_VCPUs_max', vm, spec.vcpus);
        await call('VM.set_VCPUs_at_startup', vm, spec.vcpus);
      }
      if (spec.tags.length > 0) store.update('VM', vm, { tags: spec.tags });
      const network = byName('network', spec.network ?? 'Pool-wide network associated with eth0', 'network');
      if ((store.get('VM', vm).VIFs as string[]).length === 0)
        await call('VIF.create', {
          device: '0',
          network,
          VM: vm,
          MAC: '',
          MTU: 1500,
          other_config: {},
          qos_algorithm_type: '',
          qos_algorithm_params: {},
        });
      if (spec.power_state === 'Running') {
        if (spec.host !== undefined)
          await call('VM.start_on', vm, byName('host', spec.host, 'host'), false, false);
        else await call('VM.start', vm, false, false);
      }
    }
  }

  /** Loads a saved state quietly (start-up), re-seeding so new uuids cannot collide with saved ones. */
  loadSaved(dump: StoreDump): void {
    this.engine.random = seededRandom(`${this.#seed}:${dump.generation}`);
    const store = this.engine.store;
    store.load(dump, { quiet: true });
    // Work in flight died with the old process: its tasks end as failures rather than staying pending forever.
    for (const [ref, t] of store.all('task')) {
      if (t.status !== 'pending' && t.status !== 'cancelling') continue;
      store.update('task', ref, {
        status: 'failure',
        finished: new Date(),
        allowed_operations: [],
        error_info: ['INTERNAL_ERROR', 'the simulator restarted while this task was running'],
      });
    }
    this.#applyWorkloads();
  }

  /** Replaces the state with a dump; logged-in sessions survive. Clients following events see the change. */
  restore(dump: StoreDump): void {
    const sessions = this.engine.store.dump().tables.session ?? [];
    const tables = { ...dump.tables, session: sessions };
    this.engine.random = seededRandom(`${this.#seed}:${dump.generation}:${this.engine.store.generation}`);
    this.engine.store.load({ ...dump, tables });
  }

  /** Rebuilds the scenario from scratch (sessions survive). */
  async reset(): Promise<void> {
    this.engine.random = seededRandom(this.#seed);
    const scratch = new Store(() => uuidFrom(() => this.engine.random()));
    await this.#buildInto(scratch);
    this.restore(scratch.dump());
    this.#applyWorkloads();
  }

  /** The union of the behaviours' fault functions. */
  faults(): SimFaults {
    const out: SimFaults = {};
    for (const b of this.#behaviours) if (b.faults) Object.assign(out, b.faults);
    return out;
  }

  /** The first behaviour metrics model, if any. */
  metricsModel(): SimBehaviour['metrics'] {
    return this.#behaviours.find((b) => b.metrics)?.metrics;
  }

  /** A context for out-of-band work (faults, metrics). */
  context(): SimContext {
    return this.engine.context();
  }

  /** Finds an object by uuid or name_label. */
  find(cls: string, key: { uuid?: string; name_label?: string }): string | undefined {
    const store = this.engine.store;
    if (key.uuid !== undefined) return store.all(cls).find(([, r]) => r.uuid === key.uuid)?.[0];
    if (key.name_label !== undefined)
      return store.all(cls).find(([, r]) => r.name_label === key.name_label)?.[0];
    return undefined;
  }
}

/** Loads `./behaviour/index.js` when the behaviour modules are present. */
async function defaultBehaviours(): Promise<readonly SimBehaviour[]> {
  const specifier = './behaviour/index.js';
  try {
    const mod = (await import(specifier)) as { behaviours?: readonly SimBehaviour[] };
    return mod.behaviours ?? [];
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message = e instanceof Error ? e.message : '';
    if (code === 'ERR_MODULE_NOT_FOUND' || /Failed to load url|Cannot find module/.test(message)) return [];
    throw e;
  }
}

/**
 * Starts a simulator on an HTTP (or, with `https`, HTTPS) port.
 * @example
 * ```ts
 * const { url, close } = await startSimulator({ port: 0, fast: true, stateFile: '/tmp/pool.json' });
 * ```
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const scenario =
    typeof options.scenario === 'string'
      ? loadScenarioFile(options.scenario)
      : parseScenario(options.scenario ?? DEFAULT_SCENARIO);
  const seed = String(options.seed ?? scenario.seed ?? randomUUID());
  const behaviours = options.behaviours ?? (await defaultBehaviours());
  const sim = new Simulator(scenario, seed, behaviours, {
    user: options.user ?? 'root',
    password: options.password ?? 'xenlab',
    fast: options.fast ?? false,
  });
  if (options.maxObjects !== undefined) sim.store.maxObjects = options.maxObjects;
  setSharedStorage(sim.store, options.sharedStorage);
  const sink = options.state ?? (options.stateFile ? fileSink(options.stateFile) : undefined);
  const saver = sink ? new StateSaver(sim.store, sink) : undefined;
  try {
    const saved = sink ? loadState(sink) : undefined;
    if (saved) {
      sim.loadSaved(saved.dump);
      // A pool from an older whole-pool save goes to the object-by-object sink in full, once.
      if (!saved.complete) saver?.markAll();
    } else await sim.build();
    await saver?.flush();
  } catch (e) {
    saver?.abandon();
    sim.engine.close();
    sink?.objects?.close?.();
    throw e;
  }
  /** Saves what a control-API change did before answering it. */
  const durably = <T>(fn: () => T): T => {
    const out = fn();
    saver?.commit();
    return out;
  };
  const controlToken = options.controlToken ?? randomBytes(24).toString('base64url');
  const metrics = new Metrics(sim.engine, sim.metricsModel(), () => sim.context());
  const statePath = sink?.location?.kind === 'file' ? sink.location.path : undefined;
  const host = options.host ?? '127.0.0.1';
  let tls: (ServerTls & { fingerprint256?: string }) | undefined;
  let tempTlsDir: string | undefined;
  if (options.https === true) {
    let dir = options.tlsDir ?? (statePath === undefined ? undefined : `${statePath}.tls`);
    dir ??= tempTlsDir = mkdtempSync(join(tmpdir(), 'xenlab-sim-tls-'));
    const wildcard = host === '0.0.0.0' || host === '::';
    try {
      tls = selfSignedCertificate(dir, [
        wildcard ? hostname() : host,
        'localhost',
        '127.0.0.1',
        '::1',
        ...(wildcard ? [] : [hostname()]),
      ]);
    } catch (e) {
      // No certificate (no openssl): nothing may keep running.
      if (tempTlsDir !== undefined) rmSync(tempTlsDir, { recursive: true, force: true });
      metrics.close();
      await saver?.close();
      sim.engine.close();
      sink?.objects?.close?.();
      throw e;
    }
  } else if (options.https) tls = options.https;
  const disks = new DiskContents(sim.store, {
    ...(options.maxDiskBytes === undefined ? {} : { maxBytes: options.maxDiskBytes }),
    ...(statePath === undefined ? {} : { file: `${statePath}.disks` }),
  });
  const server = createApiServer(
    sim.engine,
    [
      controlRoute({
        token: controlToken,
        generation: () => sim.store.generation,
        dump: () => sim.store.dump(),
        restore: (d) => {
          durably(() => {
            sim.restore(d);
          });
        },
        reset: async () => {
          await sim.reset();
          saver?.commit();
        },
        faults: () => sim.faults(),
        context: () => sim.context(),
        find: (cls, key) => sim.find(cls, key),
      }),
      metrics.route(),
      transferRoute({
        engine: sim.engine,
        contents: disks,
        commit: () => {
          saver?.commit();
        },
      }),
    ],
    { loopback: /^(127\.|::1$|localhost$)/.test(options.host ?? '127.0.0.1'), ...options.limits },
    saver
      ? {
          beforeAnswer: () => {
            saver.commit();
          },
        }
      : {},
    tls,
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `${tls ? 'https' : 'http'}://${urlHost}:${addr.port}`;
  setCrossPool(sim.store, url, options.crossPool);
  let closing: Promise<void> | undefined;
  return {
    url,
    controlUrl: `${url}/_xenlab/`,
    controlToken,
    sim,
    ...(tls
      ? { tlsFingerprint: tls.fingerprint256 ?? fingerprintOf(tls.cert), tlsCertificate: tls.cert }
      : {}),
    close: () =>
      (closing ??= (async () => {
        metrics.close();
        disks.close();
        if (tempTlsDir !== undefined) rmSync(tempTlsDir, { recursive: true, force: true });
        sim.engine.close();
        await new Promise<void>((resolve) => {
          server.close(() => {
            resolve();
          });
          server.closeIdleConnections();
          setImmediate(() => {
            server.closeAllConnections();
          });
        });
        await saver?.close();
        sink?.objects?.close?.();
      })()),
  };
}
