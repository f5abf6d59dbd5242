/**
 * The `docker` sandbox driver: each environment is one hardened container per node on its own private network,
 * on a local or remote engine (dockerode), optionally from a warm pool, or as swarm services spread over several
 * machines. See the files beside this one for each concept (client, image, hardening, networks, pool, swarm).
 *
 * This file is the wiring: the options, the checks at start, and the {@link DockerContext} (context.ts) handed to
 * the modules that do the work — lifecycle (create, adopt), placement (containers or services on a network), warm
 * (warm containers), sandbox and environment (an environment's terminals, checks, destroy and detach), snapshots
 * (reset, snapshot, restore) and orphans (sweeps of what earlier gateways left).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { SandboxDriver, SandboxLimits } from '../types.js';
import { connectEngine, pingEngine } from './client.js';
import type { EngineOptions } from './client.js';
import { listEnvironments } from './containers.js';
import type { DockerContext, DockerSettings } from './context.js';
import { resolveLimits } from './hardening.js';
import { LAB_IMAGE } from './image.js';
import { createEnvironment } from './lifecycle.js';
import { hostFirewall } from './networks.js';
import type { WarmPoolStats } from './pool.js';
import { listSwarmEnvironments, requireSwarmManager } from './swarm.js';
import type { SwarmOptions } from './swarm.js';
import { toolBinds } from './tools.js';
import { cullOrphans, startOrphanSweeps } from './orphans.js';
import type { OrphanFilter } from './orphans.js';
import { createWarmPool } from './warm.js';
import { XenlabError } from '../../errors/index.js';

export { buildImages, LAB_IMAGE, BASE_IMAGE, labImageCurrent } from './image.js';
export { connectEngine, removeLabelled } from './client.js';
export { hostFirewall } from './networks.js';
export type { SwarmOptions } from './swarm.js';
export type { OrphanFilter } from './orphans.js';

export interface DockerDriverOptions {
  /** The engine (dockerode options); the local socket / `DOCKER_HOST` by default. */
  engine?: EngineOptions;
  /** Image of nodes that don't name one; {@link LAB_IMAGE} by default. */
  image?: string;
  /** Limits of environments that don't set their own. */
  limits?: SandboxLimits;
  /** Let environments reach beyond the host (package mirrors); off by default (internal networks). */
  egress?: boolean;
  /**
   * The INPUT rules that stop containers reaching host services (see networks.ts): `require` (default) refuses
   * to start without them, `apply` inserts them (root, engine on this host), `off` leaves them to the operator
   * of a remote engine.
   */
  hostFirewall?: 'require' | 'apply' | 'off';
  /** Warm containers kept ready for single-node environments (0 = none, the default). */
  pool?: number;
  /** /16 that environment networks are carved from (see networks.ts). */
  subnetPool?: string;
  /** Run environments as swarm services (this engine must be a manager). */
  swarm?: boolean | SwarmOptions;
  /** Extra labels on everything this driver creates (tests use one to clean up after themselves). */
  labels?: Readonly<Record<string, string>>;
  /** Where snapshots (tarballs of homes) are kept. */
  snapshotDir?: string;
  /** Longest a single check may run when the caller gives no timeout, ms. */
  execTimeoutMs?: number;
  /**
   * The engine runs on this machine (default: when it is reached through a unix socket, and not in swarm mode).
   * Then containers get the host's `xe` and `xenlab-tools` (tools.ts) and a link to their learner's pool
   * (pool-link.ts); environments on a remote engine or a swarm have neither.
   */
  onHost?: boolean;
  /**
   * Environments on the engine that this driver neither created nor adopted (an earlier gateway's, nobody came
   * back) are removed this many ms after the driver first saw them; warm containers of an earlier gateway at once.
   * Default 60 min (`XENLAB_IDLE_MINUTES`'s default); 0 keeps them forever. See orphans.ts.
   */
  orphanMs?: number;
}

/** The docker driver, with its pool and a way to let go of it. */
export interface DockerDriver extends SandboxDriver {
  readonly docker: Docker;
  /** Warm-pool figures (undefined without a pool). */
  readonly pool: WarmPoolStats | undefined;
  /** Resolves once the warm pool is full. */
  poolReady(ms?: number): Promise<void>;
  /**
   * Removes environments left by an earlier gateway that nobody claimed: at once when `keep` says no record wants
   * them, else once `olderThanMs` has passed since this driver first saw them. Runs by itself every few minutes
   * (option `orphanMs`); returns the ids removed.
   */
  cullOrphans(filter?: OrphanFilter): Promise<string[]>;
  /** Disposes of the warm pool. Environments keep running (a restarted gateway re-attaches to them). */
  close(): Promise<void>;
}

/**
 * Creates the docker driver after checking the engine answers and that containers can't reach host services
 * (unless `hostFirewall: 'off'`).
 *
 * @example
 * const driver = await createDockerDriver({ pool: 2 });
 * const env = await driver.create({ id: 'alice:lab1', home: '/unused', nodes: [{ name: 'n1' }, { name: 'n2' }] });
 * const r = await env.exec(['ping', '-c1', 'n2'], { node: 'n1' });
 */
export async function createDockerDriver(options: DockerDriverOptions = {}): Promise<DockerDriver> {
  const docker = connectEngine(options.engine);
  await pingEngine(docker);
  checkHostFirewall(options.hostFirewall ?? 'require');
  const swarm = options.swarm === true ? {} : options.swarm === false ? undefined : options.swarm;
  if (swarm) await requireSwarmManager(docker);
  const settings = resolveSettings(docker, swarm, options);
  const ctx: DockerContext = {
    ...settings,
    pool: createWarmPool(settings, options.pool),
    live: new Map(),
    creating: new Map(),
    culling: new Map(),
    firstSeen: new Map(),
    orphanMs: options.orphanMs ?? 60 * 60_000,
    startedAt: Date.now(),
  };
  const orphanTimer = startOrphanSweeps(ctx);
  const labelFilter = Object.entries(ctx.labels)[0];

  return {
    name: 'docker',
    jailed: true,
    notice: undefined,
    docker,
    get pool() {
      return ctx.pool?.stats;
    },
    poolReady: (ms) => ctx.pool?.ready(ms) ?? Promise.resolve(),
    create: (spec) => createEnvironment(ctx, spec),
    async list() {
      const label = labelFilter ? `${labelFilter[0]}=${labelFilter[1]}` : undefined;
      return swarm ? listSwarmEnvironments(docker, label) : listEnvironments(docker, label);
    },
    cullOrphans: (filter) => cullOrphans(ctx, filter),
    async close() {
      if (orphanTimer) clearInterval(orphanTimer);
      await ctx.pool?.close();
    },
  };
}

/** Refuses to start while containers could reach host services (unless `off`); `apply` inserts the rules. */
function checkHostFirewall(firewall: 'require' | 'apply' | 'off'): void {
  if (firewall === 'off') return;
  const state = hostFirewall(firewall === 'apply');
  if (!state.ok) {
    throw new XenlabError(
      'SANDBOX_ERR_HOST_REACHABLE',
      `${state.message}; use hostFirewall: 'apply' (as root) or set the rules up yourself`,
    );
  }
}

/** The driver's settings from its options and the engine. */
function resolveSettings(
  docker: Docker,
  swarm: SwarmOptions | undefined,
  options: DockerDriverOptions,
): DockerSettings {
  const onHost =
    options.onHost ?? (!swarm && (docker.modem as { socketPath?: unknown }).socketPath !== undefined);
  return {
    docker,
    swarm,
    image: options.image ?? LAB_IMAGE,
    defaults: resolveLimits(options.limits),
    labels: { ...options.labels },
    egress: options.egress === true,
    subnetPool: options.subnetPool,
    snapshotDir: options.snapshotDir ?? join(tmpdir(), 'xenlab-docker-snapshots'),
    execTimeoutMs: options.execTimeoutMs ?? 30_000,
    driverId: randomBytes(4).toString('hex'),
    onHost,
    binds: onHost ? toolBinds() : [],
  };
}
