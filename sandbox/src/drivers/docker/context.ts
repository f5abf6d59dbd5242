/**
 * What the docker driver's modules share: the engine, the settings resolved once from the driver's options, the
 * warm pool, and the driver's bookkeeping of environments. `createDockerDriver` makes one {@link DockerContext} and
 * hands it to each module explicitly.
 * @module
 */
import type Docker from 'dockerode';
import type { Sandbox, SandboxLimits } from '../types.js';
import type { WarmPool } from './pool.js';
import type { SwarmOptions } from './swarm.js';
import type { PooledContainer } from './warm.js';

/** The driver's settings, fixed at creation. */
export interface DockerSettings {
  readonly docker: Docker;
  /** Swarm mode's options; undefined on a single engine. */
  readonly swarm: SwarmOptions | undefined;
  /** Image of nodes that don't name one. */
  readonly image: string;
  /** Limits of environments that don't set their own. */
  readonly defaults: Required<SandboxLimits>;
  /** Extra labels on everything this driver creates. */
  readonly labels: Readonly<Record<string, string>>;
  /** Environment networks reach beyond the host. */
  readonly egress: boolean;
  /** /16 that environment networks are carved from (networks.ts' default when undefined). */
  readonly subnetPool: string | undefined;
  /** Where snapshots (tarballs of homes) are kept. */
  readonly snapshotDir: string;
  /** Longest a single check may run when the caller gives no timeout, ms. */
  readonly execTimeoutMs: number;
  /** Marks this driver's warm containers (an earlier gateway's are removed). */
  readonly driverId: string;
  /** The engine runs on this machine: containers get the host's tools and a link to their pool. */
  readonly onHost: boolean;
  /** Read-only bind mounts of the learner's tools (none off the host). */
  readonly binds: readonly string[];
}

/** The settings plus what the driver keeps track of while it runs. */
export interface DockerContext extends DockerSettings {
  /** Warm containers for single-node environments (undefined without a pool, and in swarm mode). */
  readonly pool: WarmPool<PooledContainer> | undefined;
  /** Environments this driver created or adopted, by id. */
  readonly live: Map<string, Sandbox>;
  /** Creations under way: two tabs opening the same environment at once share one start. */
  readonly creating: Map<string, Promise<Sandbox>>;
  /** Orphans being removed: a create() of one waits for that, then starts afresh. */
  readonly culling: Map<string, Promise<void>>;
  /** When this driver first saw each environment it didn't make (orphans.ts). */
  readonly firstSeen: Map<string, number>;
  /** The idle window of orphans, ms (0 keeps them forever); `cullOrphans({ olderThanMs })` changes it. */
  orphanMs: number;
  /** When the driver was created, ms (warm containers made before by other drivers are stale). */
  readonly startedAt: number;
}
