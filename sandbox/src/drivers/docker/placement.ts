/**
 * Where an environment runs: its nodes (one container, or one swarm service, per node) on its own network. Cold
 * placement and taking a placement down again.
 * @module
 */
import type Docker from 'dockerode';
import type { EnvironmentSpec, SandboxLimits } from '../types.js';
import { LABEL_NODE, containerName } from './client.js';
import { removeContainers, startContainer } from './containers.js';
import type { DockerSettings } from './context.js';
import { createEnvNetwork } from './networks.js';
import { createNodeService, removeServices, serviceContainer } from './swarm.js';
import type { SwarmOptions } from './swarm.js';
import { XenlabError } from '../../errors/index.js';

/** One environment's containers and how they were placed. */
export interface Placement {
  nodes: Map<string, Docker.Container>;
  network: string;
  /** Swarm services by node, in swarm mode. */
  services?: Map<string, string>;
}

/** An environment's node names (`main` alone when it names none). */
export const nodeNames = (spec: EnvironmentSpec): string[] =>
  spec.nodes && spec.nodes.length > 0 ? spec.nodes.map((n) => n.name) : ['main'];

/** Checks an environment's node list: unique DNS-label names. */
export function checkNodes(spec: EnvironmentSpec): void {
  const seen = new Set<string>();
  for (const n of nodeNames(spec)) {
    if (!/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/.test(n)) {
      throw new XenlabError(
        'SANDBOX_ERR_BAD_NODE',
        `node name '${n}' must be a lowercase DNS label (a-z, 0-9, -)`,
      );
    }
    if (seen.has(n)) throw new XenlabError('SANDBOX_ERR_BAD_NODE', `node '${n}' appears twice`);
    seen.add(n);
  }
}

/** What every node of one placement is made with. */
interface NodePlan {
  readonly spec: EnvironmentSpec;
  readonly limits: Required<SandboxLimits>;
  readonly names: readonly string[];
  /** A single-node environment's host is called `xenlab`; nodes of several are called by their names. */
  readonly single: boolean;
  readonly imageOf: (node: string) => string;
}

/** Cold start: a network (unless given) and one container (or service) per node. */
export async function place(
  s: DockerSettings,
  spec: EnvironmentSpec,
  limits: Required<SandboxLimits>,
  network?: string,
): Promise<Placement> {
  const plan: NodePlan = {
    spec,
    limits,
    names: nodeNames(spec),
    single: spec.nodes === undefined || spec.nodes.length === 0,
    imageOf: (n) => spec.nodes?.find((x) => x.name === n)?.image ?? s.image,
  };
  const net =
    network ??
    (await createEnvNetwork(s.docker, {
      egress: s.egress,
      overlay: s.swarm !== undefined,
      labels: s.labels,
      ...(s.subnetPool ? { subnetPool: s.subnetPool } : {}),
    }));
  const placement: Placement = { nodes: new Map(), network: net };
  try {
    if (s.swarm) await placeServices(s, s.swarm, plan, placement);
    else await placeContainers(s, plan, placement);
  } catch (err) {
    await unplace(s, placement, network === undefined);
    throw err;
  }
  return placement;
}

/** Swarm mode: one service per node, then the container each one runs. */
async function placeServices(
  s: DockerSettings,
  swarm: SwarmOptions,
  plan: NodePlan,
  placement: Placement,
): Promise<void> {
  placement.services = new Map();
  for (const n of plan.names) {
    placement.services.set(
      n,
      await createNodeService(s.docker, {
        envId: plan.spec.id,
        node: n,
        image: plan.imageOf(n),
        hostname: plan.single ? 'xenlab' : n,
        network: placement.network,
        limits: plan.limits,
        labels: s.labels,
      }),
    );
  }
  for (const [n, svc] of placement.services)
    placement.nodes.set(n, await serviceContainer(s.docker, svc, swarm));
}

/** One engine: the nodes' containers, started side by side. */
async function placeContainers(s: DockerSettings, plan: NodePlan, placement: Placement): Promise<void> {
  const started = await Promise.allSettled(
    plan.names.map((n) =>
      startContainer(s.docker, {
        name: containerName(plan.spec.id, n),
        image: plan.imageOf(n),
        hostname: plan.single ? 'xenlab' : n,
        network: placement.network,
        aliases: [n],
        limits: plan.limits,
        labels: { ...s.labels, [LABEL_NODE]: n },
        binds: s.binds,
      }).then((c) => placement.nodes.set(n, c)),
    ),
  );
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Removes a placement's services and containers, and its network when `withNetwork`. */
export async function unplace(s: DockerSettings, p: Placement, withNetwork: boolean): Promise<void> {
  if (p.services) await removeServices(s.docker, p.services.values());
  await removeContainers(p.nodes.values());
  if (withNetwork) {
    // Swarm removes a service's containers asynchronously; the network stays busy until they're gone.
    for (let i = 0; i < 50; i++) {
      try {
        await s.docker.getNetwork(p.network).remove();
        break;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}
