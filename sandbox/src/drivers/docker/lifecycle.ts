/**
 * Bringing a docker environment up: re-attaching to one an earlier gateway left running, else a warm container,
 * else a cold placement; then the link to the learner's pool and `~/.xe`. Concurrent opens share one start.
 * @module
 */
import type Docker from 'dockerode';
import type { EnvironmentSpec, Sandbox } from '../types.js';
import { findEnvironment, removeContainers } from './containers.js';
import type { DockerContext } from './context.js';
import { resolveLimits } from './hardening.js';
import { removeNetwork } from './networks.js';
import { checkNodes, nodeNames, place, unplace } from './placement.js';
import type { Placement } from './placement.js';
import { openPoolLink, type PoolLink } from './pool-link.js';
import { makeSandbox } from './sandbox.js';
import { findSwarmEnvironment, serviceContainer } from './swarm.js';
import { claim } from './warm.js';

/** Re-attaches to an environment left running by an earlier gateway; undefined when there is none. */
export async function adopt(ctx: DockerContext, spec: EnvironmentSpec): Promise<Placement | undefined> {
  const { docker, swarm } = ctx;
  if (swarm) {
    const services = await findSwarmEnvironment(docker, spec.id);
    if (services.size === 0) return undefined;
    const nodes = new Map<string, Docker.Container>();
    for (const [n, s] of services) nodes.set(n, await serviceContainer(docker, s, swarm));
    const info = await [...nodes.values()][0]?.inspect();
    const network = Object.keys(info?.NetworkSettings.Networks ?? {}).find((n) =>
      n.startsWith('xenlab-net-'),
    );
    return { nodes, network: network ?? '', services };
  }
  const found = await findEnvironment(docker, spec.id);
  const want = nodeNames(spec);
  if (found.stopped.length > 0 || (found.nodes.size > 0 && !want.every((n) => found.nodes.has(n)))) {
    // Half an environment (a node died, or the gateway crashed mid-create): start it afresh.
    await removeContainers([...found.nodes.values(), ...found.stopped]);
    if (found.network) await removeNetwork(docker, found.network);
    return undefined;
  }
  return found.nodes.size > 0 && found.network ? { nodes: found.nodes, network: found.network } : undefined;
}

/** One start of an environment: adopted, warm or cold, then linked to its pool. */
async function createOnce(ctx: DockerContext, spec: EnvironmentSpec): Promise<Sandbox> {
  checkNodes(spec);
  const limits = resolveLimits({ ...ctx.defaults, ...spec.limits });
  const adopted = await adopt(ctx, spec);
  const placement = adopted ?? (await claim(ctx, spec, limits)) ?? (await place(ctx, spec, limits));
  let link: PoolLink | undefined;
  try {
    if (spec.pool && ctx.onHost) link = await openPoolLink(ctx.docker, placement.network, spec.pool.port);
    const sandbox = makeSandbox(ctx, spec, limits, placement, link);
    await sandbox.writeXeConfigs();
    ctx.live.set(spec.id, sandbox);
    return sandbox;
  } catch (err) {
    await link?.close();
    // A half-made environment goes; an adopted one stays for the next try.
    if (!adopted) await unplace(ctx, placement, true);
    throw err;
  }
}

/** `SandboxDriver.create`: the live environment, or a start shared by everyone asking meanwhile. */
export function createEnvironment(ctx: DockerContext, spec: EnvironmentSpec): Promise<Sandbox> {
  const existing = ctx.live.get(spec.id);
  if (existing) return Promise.resolve(existing);
  // Two tabs opening the same environment at once share one start.
  let p = ctx.creating.get(spec.id);
  if (!p) {
    const cull = ctx.culling.get(spec.id);
    p = (cull ? cull.then(() => createOnce(ctx, spec)) : createOnce(ctx, spec)).finally(() =>
      ctx.creating.delete(spec.id),
    );
    ctx.creating.set(spec.id, p);
  }
  return p;
}
