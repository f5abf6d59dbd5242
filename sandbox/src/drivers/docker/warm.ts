/**
 * The docker driver's warm containers: what the warm pool (pool.ts) makes ahead of learners, and claiming one for
 * a new single-node environment.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { EnvironmentSpec, SandboxLimits } from '../types.js';
import { LABEL_POOL, containerName } from './client.js';
import { removeContainers, startContainer } from './containers.js';
import type { DockerContext, DockerSettings } from './context.js';
import { updatableLimits } from './hardening.js';
import { createEnvNetwork, removeNetwork } from './networks.js';
import type { Placement } from './placement.js';
import { WarmPool } from './pool.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/docker');

/** A warm container on its own network, waiting to be claimed. */
export interface PooledContainer {
  container: Docker.Container;
  network: string;
  dispose(): Promise<void>;
}

/** Makes one warm container (on a fresh network) with the driver's defaults. */
async function makeWarmContainer(s: DockerSettings): Promise<PooledContainer> {
  const network = await createEnvNetwork(s.docker, {
    egress: s.egress,
    labels: { ...s.labels, [LABEL_POOL]: s.driverId },
    ...(s.subnetPool ? { subnetPool: s.subnetPool } : {}),
  });
  try {
    const container = await startContainer(s.docker, {
      name: `xenlab-pool-${s.driverId}-${randomBytes(4).toString('hex')}`,
      image: s.image,
      hostname: 'xenlab',
      network,
      aliases: ['main'],
      limits: s.defaults,
      labels: { ...s.labels, [LABEL_POOL]: s.driverId },
      binds: s.binds,
    });
    return {
      container,
      network,
      dispose: async () => {
        await removeContainers([container]);
        await removeNetwork(s.docker, network);
      },
    };
  } catch (err) {
    await removeNetwork(s.docker, network);
    throw err;
  }
}

/** The warm pool of `size` containers; undefined for none (size 0, or swarm mode). */
export function createWarmPool(
  s: DockerSettings,
  size: number | undefined,
): WarmPool<PooledContainer> | undefined {
  return size && size > 0 && !s.swarm ? new WarmPool(() => makeWarmContainer(s), size) : undefined;
}

/** A warm container for this environment, renamed to it and fitted to its limits; undefined on a miss. */
export async function claim(
  ctx: DockerContext,
  spec: EnvironmentSpec,
  limits: Required<SandboxLimits>,
): Promise<Placement | undefined> {
  const { pool, defaults } = ctx;
  if (!pool || (spec.nodes && spec.nodes.length > 0) || limits.diskMb !== defaults.diskMb) return undefined;
  const warm = pool.take();
  if (!warm) return undefined;
  try {
    await warm.container.rename({ name: containerName(spec.id, 'main') });
    if (JSON.stringify(limits) !== JSON.stringify(defaults))
      await warm.container.update(updatableLimits(limits));
  } catch (err) {
    // A warm container that could not be claimed: thrown away, and this environment is made cold.
    log.debug('claiming a warm container failed', { environmentId: spec.id, err });
    await warm.dispose();
    return undefined;
  }
  return { nodes: new Map([['main', warm.container]]), network: warm.network };
}
