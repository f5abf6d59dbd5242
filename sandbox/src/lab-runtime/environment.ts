/**
 * A lab environment: the learner's sandbox, their own simulated pool (own random password), their parameters and
 * the grader watching both. Used by `xenlab lab test` and by the gateway (one per learner × lab).
 * @module
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@xenlab/toolkit/xenapi';
import type Database from 'better-sqlite3';
import { TOOLKIT_DIR, createLearnerLocalDriver } from '../drivers/local/learner-tools.js';
import type { LocalDriverOptions } from '../drivers/local/index.js';
import { linkInside } from '../drivers/local/safe-fs.js';
import type { Sandbox, SandboxDriver } from '../drivers/types.js';
import { createGrader } from '../grading/engine.js';
import type { Grader } from '../grading/engine.js';
import { deriveParams, paramEnv } from '../labs/params.js';
import type { Params } from '../labs/params.js';
import { DEFAULT_SCENARIO, fileSink, startLearnerSimulator } from '../sim/index.js';
import type { SimulatorEndpoint, StateSink } from '../sim/index.js';
import { LABS_DIR, loadLab } from '../labs/loader.js';
import type { Lab } from '../labs/loader.js';
import { XenlabError, type ErrorCode, type XenlabErrorOptions } from '../errors/index.js';
import { moduleLogger } from '../log/index.js';
import { createFaultPlayer, poolFaultApplier, simFaultApplier } from './faults.js';
import type { FaultApplier } from './faults.js';
import type { FaultPlayer } from './faults.js';
import { FaultStore } from './faults-store.js';
import { machineFaultApplier } from './machine-faults.js';
import { CheckpointStore, createLabSteps } from './steps.js';
import type { LabSteps } from './steps.js';

const log = moduleLogger('lab-runtime');

/** The toolkit folder of this checkout (sandbox/src/labs or sandbox/dist/labs → toolkit). */
export { TOOLKIT_DIR };

/**
 * The local driver set up for labs: the toolkit visible read-only in the jail, `xe` and `xenlab-tools` on PATH
 * (the same driver the gateway gives learners).
 * @example
 * const driver = createLabLocalDriver({ jail: 'auto' });
 */
export function createLabLocalDriver(options: LocalDriverOptions = {}): SandboxDriver {
  return createLearnerLocalDriver(options);
}

/** Options of {@link createLabEnvironment}. */
export interface LabEnvironmentOptions {
  /** The lab, or its id (loaded from `labs/`). */
  readonly lab: Lab | string;
  readonly driver: SandboxDriver;
  readonly learnerId: string;
  /** Host folder of the learner's home for this lab. */
  readonly home: string;
  /** Seed of the learner's parameters; default `<learnerId>:<lab id>`. */
  readonly seed?: string;
  /** Gateway database for durable grading progress (memory only without). */
  readonly db?: Database.Database;
  /** Keep the simulated pool here across restarts (loaded when it exists; setup runs only when it does not). */
  readonly stateFile?: string;
  /** The same kept elsewhere (the gateway's database); wins over `stateFile`. */
  readonly state?: StateSink;
  /** Grader poll interval (ms). */
  readonly pollMs?: number;
  /** Instant simulator operations even when the lab asks for realistic timings (tests). */
  readonly fast?: boolean;
  /** Toolkit folder to link into the home (default: this checkout's). */
  readonly toolkitDir?: string;
  /** The pool's login (default root and a fresh random password), e.g. kept in the gateway's database. */
  readonly xapiUser?: string;
  readonly xapiPassword?: string;
  /** Id of the sandbox (default `<learnerId>--<lab id>`). */
  readonly sandboxId?: string;
  /**
   * Where the pools after the first of a multi-pool lab are kept (by pool name); default: beside `stateFile`
   * (`<stateFile>.pool-<name>`), else in memory.
   */
  readonly poolState?: (name: string) => StateSink | undefined;
  /**
   * The directory the pools of a multi-pool lab share as storage (the simulator's `sharedStorage`); default: beside
   * `stateFile` (`<stateFile>.shared`), else a temporary folder removed on close.
   */
  readonly sharedStorageDir?: string;
}

/** One simulated pool of an environment: its name, where it listens, its login. */
export interface LabPool {
  /** The pool's name in the manifest (`environment.pools[].name`); `default` for a lab with one pool. */
  readonly name: string;
  readonly url: string;
  readonly user: string;
  readonly password: string;
  readonly sim: SimulatorEndpoint;
}

/** `dc-west` → `DC_WEST`: the suffix of the pool's variables (`XENLAB_XAPI_URL_DC_WEST`). */
export function poolEnvSuffix(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

/** A running lab environment. */
export interface LabEnvironment {
  readonly lab: Lab;
  readonly sandbox: Sandbox;
  /** The learner's own pool: what `xe` in their terminal reaches. */
  readonly xapi: { readonly url: string; readonly user: string; readonly password: string };
  readonly params: Params;
  readonly grader: Grader;
  /** The simulator, in a worker thread: its XenAPI and control API (faults, snapshots) over HTTP. */
  readonly sim: SimulatorEndpoint;
  /**
   * Every pool, the first being `sim` (a lab with `environment.pools`; one pool named `default` otherwise). Faults
   * play in the pool they name (`pool:`), else the first; a lab with several pools offers no resets (a checkpoint
   * would hold the first one only).
   */
  readonly pools: readonly LabPool[];
  /** The lab's faults: played at setup, on their timers and tasks, and from the panel's buttons (see faults.ts). */
  readonly faults: FaultPlayer;
  /** Reset to a task's start and skip ahead (see steps.ts); the lab channel serves them. */
  readonly steps: LabSteps;
  /**
   * The lab's terminals: a page asks for `&terminal=<name>`; the gateway attaches it on `node` (the first node
   * when absent) and refuses names not listed here.
   */
  readonly terminals: readonly { readonly name: string; readonly title?: string; readonly node?: string }[];
  /** Stops the grader and the simulator and destroys the sandbox (the home folder stays). */
  close(): Promise<void>;
  /** The same for a gateway restart, but the sandbox is detached (see `Sandbox.detach`), not destroyed. */
  detach(): Promise<void>;
}

/** Failed to build an environment (bad lab, setup script failed); `code` is stable. */
export class LabEnvironmentError extends XenlabError {
  constructor(code: ErrorCode, message: string, options: XenlabErrorOptions = {}) {
    super(code, message, { ...options, codeInMessage: false });
  }
}

/** Lets `import { createClient } from '@xenlab/toolkit/xenapi'` work in the learner's scripts. */
function linkToolkit(home: string, toolkitDir: string): void {
  // Made inside the home one folder at a time, never through a symlink the learner planted (node_modules -> /etc):
  // a learner who put a symlink or a file on the way just goes without the link.
  linkInside(home, 'node_modules/@xenlab/toolkit', toolkitDir);
}

/**
 * Builds a learner's lab environment: simulator, sandbox with `xe` pointed at it, parameters, setup, grader.
 * @example
 * const env = await createLabEnvironment({ lab: 'anatomy-of-a-pool', driver, learnerId: 'l-1', home: '/srv/homes/l-1' });
 * const term = env.sandbox.attachTerminal({ cols: 80, rows: 24 });
 * env.grader.onChange((view) => console.log(view.score));
 */
export async function createLabEnvironment(options: LabEnvironmentOptions): Promise<LabEnvironment> {
  const lab = typeof options.lab === 'string' ? loadLab(join(LABS_DIR, options.lab)) : options.lab;
  const m = lab.manifest;
  const params = deriveParams(m.params, options.seed ?? `${options.learnerId}:${lab.id}`);
  const user = options.xapiUser ?? 'root';
  const password = options.xapiPassword ?? randomBytes(18).toString('base64url');
  const state = options.state ?? (options.stateFile === undefined ? undefined : fileSink(options.stateFile));
  const fresh = state?.read() === undefined;
  const declared = lab.pools ?? [];
  const multi = declared.length > 0;
  const fast = options.fast ?? !m.environment.realisticTimings;
  // The pools of one environment reach each other (a secret only they hold; never another learner's) over the WAN.
  const crossPool = multi
    ? {
        link: randomBytes(24).toString('base64url'),
        ...(m.environment.wan === undefined ? {} : { wan: m.environment.wan }),
      }
    : undefined;
  // Storage the pools share (disaster recovery's replicated metadata): one directory per environment.
  let sharedTemp: string | undefined;
  const sharedStorage = !multi
    ? undefined
    : (options.sharedStorageDir ??
      (options.stateFile === undefined
        ? (sharedTemp = mkdtempSync(join(tmpdir(), 'xenlab-shared-storage-')))
        : `${options.stateFile}.shared`));
  if (sharedStorage !== undefined) mkdirSync(sharedStorage, { recursive: true, mode: 0o700 });
  const sim = await startLearnerSimulator({
    port: 0,
    host: '127.0.0.1',
    fast,
    seed: lab.id,
    user,
    password,
    scenario: (multi ? declared[0]?.scenarioFile : lab.scenarioFile) ?? DEFAULT_SCENARIO,
    ...(state === undefined ? {} : { state }),
    ...(crossPool === undefined ? {} : { crossPool }),
    ...(sharedStorage === undefined ? {} : { sharedStorage }),
  });
  const pools: LabPool[] = [{ name: declared[0]?.name ?? 'default', url: sim.url, user, password, sim }];
  try {
    for (const p of declared.slice(1)) {
      // Its own password, the same at every bring-up (the learner's variables stay true across restarts).
      const own = createHmac('sha256', password)
        .update(`xenlab-pool:${p.name}`)
        .digest('base64url')
        .slice(0, 24);
      const sink =
        options.poolState?.(p.name) ??
        (options.stateFile === undefined ? undefined : fileSink(`${options.stateFile}.pool-${p.name}`));
      const other = await startLearnerSimulator({
        port: 0,
        host: '127.0.0.1',
        fast,
        seed: `${lab.id}:${p.name}`,
        user,
        password: own,
        scenario: p.scenarioFile ?? DEFAULT_SCENARIO,
        ...(sink === undefined ? {} : { state: sink }),
        ...(crossPool === undefined ? {} : { crossPool }),
        ...(sharedStorage === undefined ? {} : { sharedStorage }),
      });
      pools.push({ name: p.name, url: other.url, user, password: own, sim: other });
    }
  } catch (e) {
    for (const p of pools) await p.sim.close().catch(() => undefined);
    if (sharedTemp !== undefined) rmSync(sharedTemp, { recursive: true, force: true });
    throw e;
  }
  /** Stops the pools after the first (the first stops with the rest of the environment) and their temp storage. */
  const closeOthers = async (): Promise<void> => {
    for (const p of pools.slice(1)) await p.sim.close().catch(() => undefined);
    if (sharedTemp !== undefined) rmSync(sharedTemp, { recursive: true, force: true });
  };
  const pool = { port: Number(new URL(sim.url).port), user, password };
  // `xe` and the tools find the pool through the driver (spec.pool); the lab adds its id and parameters, and the
  // pools of a multi-pool lab by name (the local driver shares the host's loopback, where they listen).
  const labEnv: Record<string, string> = { XENLAB_LAB: lab.id, ...paramEnv(params) };
  if (multi) {
    labEnv.XENLAB_POOLS = pools.map((p) => p.name).join(',');
    for (const p of pools) {
      const k = poolEnvSuffix(p.name);
      labEnv[`XENLAB_XAPI_URL_${k}`] = p.url;
      labEnv[`XENLAB_XAPI_USER_${k}`] = p.user;
      labEnv[`XENLAB_XAPI_PASSWORD_${k}`] = p.password;
    }
  }
  // One client for the grader and the fault player (which finds NICs through the XenAPI).
  const client = createClient({ url: sim.url, user, password, originator: 'xenlab-grader' });
  // Checks naming another pool (`pool: dc-west`) read it through their own client; faults naming it play there.
  const poolClients = new Map(
    pools
      .slice(1)
      .map((p) => [
        p.name,
        createClient({ url: p.url, user, password: p.password, originator: 'xenlab-grader' }),
      ]),
  );
  const firstPool = pools[0]?.name ?? 'default';
  const poolAppliers = new Map<string, FaultApplier>([[firstPool, simFaultApplier(sim, client)]]);
  for (const p of pools.slice(1)) {
    const c = poolClients.get(p.name);
    if (c) poolAppliers.set(p.name, simFaultApplier(p.sim, c));
  }
  const faults = createFaultPlayer({
    lab,
    // Machine faults (qemu-xen) go to the sandbox, once it exists (setup faults play after it does).
    apply: machineFaultApplier(poolFaultApplier(poolAppliers, firstPool), () => sandbox),
    store: new FaultStore(options.db, options.learnerId, lab.id),
  });
  let sandbox: Sandbox | undefined;
  let steps: LabSteps | undefined;
  try {
    mkdirSync(options.home, { recursive: true, mode: 0o700 });
    linkToolkit(options.home, options.toolkitDir ?? TOOLKIT_DIR);
    sandbox = await options.driver.create({
      id: options.sandboxId ?? `${options.learnerId}--${lab.id}`,
      home: options.home,
      env: labEnv,
      pool,
      ...(multi ? { otherPoolPorts: pools.slice(1).map((p) => Number(new URL(p.url).port)) } : {}),
      ...(m.environment.nodes === undefined
        ? {}
        : {
            nodes: m.environment.nodes.map((n) => ({
              name: n.name,
              ...(n.image === undefined ? {} : { image: n.image }),
              ...(n.memoryMb === undefined ? {} : { memoryMb: n.memoryMb }),
              ...(n.disks === undefined ? {} : { disks: n.disks }),
              ...(n.nics === undefined ? {} : { nics: n.nics }),
              ...(n.numaNodes === undefined ? {} : { numaNodes: n.numaNodes }),
              ...(n.xenScheduler === undefined ? {} : { xenScheduler: n.xenScheduler }),
            })),
          }),
    });
    if (fresh && m.environment.setup !== undefined) {
      const r = await sandbox.exec(['bash', '-s'], {
        input: `set -euo pipefail\n${m.environment.setup}`,
        timeoutMs: 120_000,
      });
      if (r.code !== 0)
        throw new LabEnvironmentError(
          'LAB_ERR_SETUP_FAILED',
          `the setup of lab ${lab.id} failed (exit ${String(r.code)}${r.timedOut ? ', timed out' : ''}): ${r.stderr.trim() || r.stdout.trim()}`,
        );
    }
    // Setup faults after setup; on a bring-up, again what lives in the simulator's memory only (a VM's load), and
    // again when its worker died and came back (through the control API: the simulator runs in a worker).
    await faults.bringUp(fresh);
    // Any pool's worker: what lives in memory only is played again in each pool it names.
    for (const p of pools) p.sim.onRestart?.(() => faults.reapply());
    steps = createLabSteps({
      lab,
      params,
      sandbox,
      sim,
      faults,
      store: new CheckpointStore(options.db, options.learnerId, lab.id),
      ...(m.environment.driver === 'qemu-xen'
        ? {
            resetUnavailable:
              'This lab runs a real Xen host in QEMU: saving its memory at every task would pause it for seconds and take gigabytes per learner, so it cannot be reset to a task here. Undo by hand, or ask the instructor.',
          }
        : multi
          ? {
              // A checkpoint holds one pool: restoring it alone would put a migrated VM in two data centers.
              resetUnavailable:
                'This lab has several pools, and a reset would restore only the first one (a VM moved to another pool would then be in both), so it cannot be reset to a task here. Undo by hand, or ask the instructor.',
            }
          : {}),
    });
    // The start of the first task: the pool and files as setup left them (a failure only costs that reset).
    const first = m.tasks[0];
    if (fresh && first) await steps.checkpoint(first.id).catch(() => undefined);
  } catch (e) {
    steps?.close();
    faults.close();
    await sandbox?.destroy();
    await client.close().catch(() => undefined);
    for (const c of poolClients.values()) await c.close().catch(() => undefined);
    await sim.close();
    await closeOthers();
    throw e;
  }
  const grader = createGrader({
    lab,
    params,
    xapi: client,
    ...(multi ? { pools: poolClients, firstPool } : {}),
    sandbox,
    learnerId: options.learnerId,
    ...(options.db === undefined ? {} : { db: options.db }),
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
  });
  await grader.start();
  // Timed faults count from the environment's first start; task faults follow the grader.
  faults.start(grader);
  // Each task that passes saves the start of the next one.
  const labSteps = steps;
  labSteps.follow(grader);
  const box = sandbox;
  /** Stops every part even if another fails (a pool already gone cannot log the grader out). */
  const stopAll = async (endSandbox: () => Promise<void>): Promise<void> => {
    labSteps.close();
    faults.close();
    const steps = [
      () => grader.close(),
      () => client.close(),
      async () => {
        for (const c of poolClients.values()) await c.close().catch(() => undefined);
      },
      endSandbox,
      () => sim.close(),
      closeOthers,
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        // Nothing left to do for this part; the others still stop.
        log.debug('stopping part of a lab environment failed', { lab: lab.id, err });
      }
    }
  };
  return {
    lab,
    sandbox: box,
    xapi: { url: sim.url, user, password },
    params,
    grader,
    sim,
    pools,
    faults,
    steps: labSteps,
    terminals: m.environment.terminals.map((t) => ({
      name: t.name,
      ...(t.title === undefined ? {} : { title: t.title }),
      ...(t.node === undefined ? {} : { node: t.node }),
    })),
    close: () => stopAll(() => box.destroy()),
    detach: () => stopAll(() => box.detach()),
  };
}
