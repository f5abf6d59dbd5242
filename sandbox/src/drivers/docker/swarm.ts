/**
 * Swarm mode: each node of an environment is a one-replica service, so a room spreads over every machine of the
 * swarm. Services use `dnsrr` endpoints: these kernels have no IPVS, so swarm's virtual IPs (and the routing mesh)
 * don't work, while DNS round robin does (docker-engine.md, "Swarm"). Terminals and checks then go to the task's
 * container through the engine of the machine it landed on.
 * @module
 */
import { createHash } from 'node:crypto';
import type Docker from 'dockerode';
import type { SandboxLimits } from '../types.js';
import { LABEL, LABEL_ENV, LABEL_NODE } from './client.js';
import { DOCKER_HOME } from './hardening.js';
import { XenlabError } from '../../errors/index.js';

/** Swarm-mode options. */
export interface SwarmOptions {
  /**
   * Engines of the other machines, by swarm node hostname, to reach tasks that land there (exec happens on the
   * machine running the container). The manager's engine serves its own tasks.
   */
  readonly engines?: Readonly<Record<string, Docker>>;
  /** Longest wait for a service's task to run (image pull attempts and scheduling), ms. */
  readonly startTimeoutMs?: number;
}

/** Fails with a clear error unless the engine is a swarm manager. */
export async function requireSwarmManager(docker: Docker): Promise<void> {
  const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
  if (info.Swarm?.LocalNodeState !== 'active' || info.Swarm.ControlAvailable !== true) {
    throw new XenlabError(
      'SANDBOX_ERR_NO_SWARM',
      'swarm mode needs a swarm manager (docker swarm init --advertise-addr <this host>)',
    );
  }
}

/**
 * Service names allow letters, digits and dashes, at most 63 characters; environment ids don't fit, so the name
 * is a hash and the id lives in a label.
 */
export function serviceName(envId: string, node: string): string {
  const h = createHash('sha256').update(envId).digest('hex').slice(0, 16);
  const safeNode = node.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 30);
  return `xenlab-${h}-${safeNode}`;
}

export interface SwarmNodeRequest {
  readonly envId: string;
  readonly node: string;
  readonly image: string;
  readonly hostname: string;
  readonly network: string;
  readonly limits: Required<SandboxLimits>;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * Creates one node's service with the same hardening as a plain container where the swarm API (1.41) has it:
 * all capabilities dropped, read-only root, tmpfs home and /tmp, memory/pids/CPU limits, init, no logs.
 * Swarm has no tmpfs uid option, so the home is mode 1777 (only the learner ever logs in). Swarm 1.41 has no
 * no-new-privileges either; the image has no setuid binaries (its Dockerfile strips them) to make up for it.
 */
export async function createNodeService(docker: Docker, req: SwarmNodeRequest): Promise<string> {
  const memory = req.limits.memoryMb * 1024 * 1024;
  const name = serviceName(req.envId, req.node);
  const labels = { [LABEL]: '1', [LABEL_ENV]: req.envId, [LABEL_NODE]: req.node, ...req.labels };
  await docker.createService({
    Name: name,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: req.image,
        Command: ['sleep', 'infinity'],
        Hostname: req.hostname,
        Labels: labels,
        ReadOnly: true,
        Init: true,
        StopSignal: 'SIGKILL',
        CapabilityDrop: ['ALL'],
        Sysctls: { 'net.ipv4.ping_group_range': '0 2147483647' },
        Mounts: [
          {
            Type: 'tmpfs',
            Target: DOCKER_HOME,
            TmpfsOptions: { SizeBytes: req.limits.diskMb * 1048576, Mode: 0o1777 },
          },
          {
            Type: 'tmpfs',
            Target: '/tmp',
            TmpfsOptions: { SizeBytes: Math.max(16, req.limits.diskMb / 4) * 1048576, Mode: 0o1777 },
          },
          { Type: 'tmpfs', Target: '/run', TmpfsOptions: { SizeBytes: 8 * 1048576, Mode: 0o755 } },
        ],
      } as unknown as Docker.ContainerSpec,
      Resources: {
        Limits: {
          MemoryBytes: memory,
          NanoCPUs: Math.round(req.limits.cpus * 1e9),
          Pids: req.limits.pids,
        },
      },
      RestartPolicy: { Condition: 'none' },
      LogDriver: { Name: 'none' },
      Networks: [{ Target: req.network, Aliases: [req.node] }],
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: 'dnsrr' },
  } as Docker.CreateServiceOptions);
  return name;
}

/** Waits for the service's task to run; returns its container on the engine of the machine it runs on. */
export async function serviceContainer(
  docker: Docker,
  service: string,
  options: SwarmOptions = {},
): Promise<Docker.Container> {
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  let last = 'no task yet';
  for (;;) {
    const tasks = (await docker.listTasks({ filters: JSON.stringify({ service: [service] }) })) as {
      NodeID?: string;
      Status?: { State?: string; Err?: string; ContainerStatus?: { ContainerID?: string } };
    }[];
    for (const t of tasks) {
      const state = t.Status?.State ?? '?';
      last = `${state}${t.Status?.Err ? `: ${t.Status.Err}` : ''}`;
      const id = t.Status?.ContainerStatus?.ContainerID;
      if (state === 'running' && id) {
        const node = t.NodeID
          ? ((await docker.getNode(t.NodeID).inspect()) as { Description?: { Hostname?: string } })
          : undefined;
        const host = node?.Description?.Hostname;
        const engine = (host ? options.engines?.[host] : undefined) ?? docker;
        return engine.getContainer(id);
      }
      if (['failed', 'rejected', 'shutdown', 'complete'].includes(state)) {
        throw new XenlabError('SANDBOX_ERR_START', `service ${service} did not start (${last})`);
      }
    }
    if (Date.now() > deadline)
      throw new XenlabError('SANDBOX_ERR_START', `service ${service} not running in time (${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Removes services, ignoring ones already gone. */
export async function removeServices(docker: Docker, names: Iterable<string>): Promise<void> {
  await Promise.all(
    [...names].map(
      (n) =>
        docker
          .getService(n)
          .remove()
          .catch(() => undefined), // deliberate: already gone
    ),
  );
}

/** Environment ids with services in the swarm (optionally only those carrying a label). */
export async function listSwarmEnvironments(docker: Docker, label?: string): Promise<string[]> {
  const filters = { label: [`${LABEL}=1`, ...(label ? [label] : [])] };
  const services = await docker.listServices({ filters: JSON.stringify(filters) });
  const ids = new Set<string>();
  for (const s of services) {
    const id = s.Spec?.Labels?.[LABEL_ENV];
    if (id !== undefined) ids.add(id);
  }
  return [...ids];
}

/** The services of one environment, by node. */
export async function findSwarmEnvironment(docker: Docker, envId: string): Promise<Map<string, string>> {
  const services = await docker.listServices({
    filters: JSON.stringify({ label: [`${LABEL}=1`, `${LABEL_ENV}=${envId}`] }),
  });
  const out = new Map<string, string>();
  for (const s of services) {
    const node = s.Spec?.Labels?.[LABEL_NODE];
    if (node !== undefined && s.Spec?.Name) out.set(node, s.Spec.Name);
  }
  return out;
}
