/**
 * Environment containers on one engine: create+start (hardened, on the environment's network, the node name as
 * hostname and DNS alias), find them again by name after a gateway restart, remove them.
 * @module
 */
import type Docker from 'dockerode';
import type { SandboxLimits } from '../types.js';
import {
  ENV_PREFIX,
  LABEL,
  LABEL_NODE,
  containerName,
  encodeEnvId,
  isNotFound,
  parseContainerName,
} from './client.js';
import { hardenedHostConfig } from './hardening.js';
import { XenlabError } from '../../errors/index.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/docker');

export interface ContainerRequest {
  readonly name: string;
  readonly image: string;
  readonly hostname: string;
  readonly network: string;
  /** Names other nodes reach this one by. */
  readonly aliases: readonly string[];
  readonly limits: Required<SandboxLimits>;
  readonly labels: Readonly<Record<string, string>>;
  /** Read-only bind mounts (`host:container:ro`), the learner's tools. */
  readonly binds?: readonly string[];
}

/** Creates and starts one hardened container; removes it again when the start fails. */
export async function startContainer(docker: Docker, req: ContainerRequest): Promise<Docker.Container> {
  let container: Docker.Container;
  try {
    container = await docker.createContainer({
      name: req.name,
      Image: req.image,
      Hostname: req.hostname,
      Cmd: ['sleep', 'infinity'],
      User: 'root',
      Labels: { [LABEL]: '1', ...req.labels },
      StopSignal: 'SIGKILL',
      HostConfig: hardenedHostConfig(req.limits, req.network, req.binds),
      NetworkingConfig: { EndpointsConfig: { [req.network]: { Aliases: [...req.aliases] } } },
    });
  } catch (err) {
    if (isNotFound(err) && /image/i.test((err as Error).message)) {
      throw new XenlabError(
        'SANDBOX_ERR_NO_IMAGE',
        `image ${req.image} is not on the engine; build it with \`xenlab image build\``,
        { cause: err },
      );
    }
    throw err;
  }
  try {
    await container.start();
  } catch (err) {
    await container.remove({ force: true }).catch((removeErr: unknown) => {
      log.debug('removing a container that did not start failed', { err: removeErr });
    });
    throw err;
  }
  return container;
}

/** Force-removes containers, ignoring ones already gone. */
export async function removeContainers(containers: Iterable<Docker.Container>): Promise<void> {
  await Promise.all(
    [...containers].map(
      (c) => c.remove({ force: true, v: true }).catch(() => undefined) /* deliberate: already gone */,
    ),
  );
}

/** The running containers of one environment, by node, found by name (after a gateway restart). */
export async function findEnvironment(
  docker: Docker,
  envId: string,
): Promise<{
  nodes: Map<string, Docker.Container>;
  network: string | undefined;
  stopped: Docker.Container[];
}> {
  const prefix = `${ENV_PREFIX}${encodeEnvId(envId)}.`;
  const list = await docker.listContainers({ all: true, filters: JSON.stringify({ name: [prefix] }) });
  const nodes = new Map<string, Docker.Container>();
  const stopped: Docker.Container[] = [];
  let network: string | undefined;
  for (const info of list) {
    const parsed = parseContainerName(info.Names[0] ?? '');
    if (parsed?.envId !== envId) continue;
    const c = docker.getContainer(info.Id);
    if (info.State !== 'running') {
      stopped.push(c);
      continue;
    }
    nodes.set(parsed.node, c);
    network ??= Object.keys(info.NetworkSettings.Networks)[0];
  }
  return { nodes, network, stopped };
}

/** Ids of environments with containers on this engine (optionally only those carrying a label). */
export async function listEnvironments(docker: Docker, label?: string): Promise<string[]> {
  const filters: Record<string, string[]> = {
    name: [ENV_PREFIX],
    label: [`${LABEL}=1`, ...(label ? [label] : [])],
  };
  const list = await docker.listContainers({ filters: JSON.stringify(filters) });
  const ids = new Set<string>();
  for (const info of list) {
    const parsed = parseContainerName(info.Names[0] ?? '');
    if (parsed) ids.add(parsed.envId);
  }
  return [...ids];
}

export { containerName, LABEL_NODE };
