/**
 * The connection to a Docker engine, and the naming and labelling conventions every xenlab object follows.
 * @module
 */
import Docker from 'dockerode';
import { XenlabError } from '../../errors/index.js';

/** Every container, network and service xenlab makes carries this label, so cleanup can find all of them. */
export const LABEL = 'xenlab';
/** Label holding the environment id (services and containers of a claimed environment). */
export const LABEL_ENV = 'xenlab.env';
/** Label on warm-pool containers and their networks while they wait to be claimed. */
export const LABEL_POOL = 'xenlab.pool';
/** Label naming the node of a multi-node environment a container plays. */
export const LABEL_NODE = 'xenlab.node';

/** Where to find the engine: dockerode's own options (socketPath, host/port, TLS…); the local socket by default. */
export type EngineOptions = Docker.DockerOptions;

/** A dockerode client for the engine; the local unix socket unless told otherwise (`DOCKER_HOST` is honoured). */
export function connectEngine(options?: EngineOptions): Docker {
  return new Docker(options);
}

/** Resolves when the engine answers, or rejects with a clear, stable error code. */
export async function pingEngine(docker: Docker): Promise<void> {
  try {
    await docker.ping();
  } catch (err) {
    throw new XenlabError(
      'SANDBOX_ERR_NO_ENGINE',
      `the Docker engine does not answer (${(err as Error).message}); start dockerd or set DOCKER_HOST`,
      { cause: err },
    );
  }
}

/**
 * Encodes an environment id into the characters a container name allows ([A-Za-z0-9_.-]), reversibly, so that
 * a restarted gateway can list environments from container names alone (labels can not change after a warm-pool
 * container is claimed, names can).
 */
export function encodeEnvId(id: string): string {
  let out = '';
  for (const byte of Buffer.from(id, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9-]/.test(c) ? c : `_${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** Inverse of {@link encodeEnvId}; undefined when the text is not an encoding. */
export function decodeEnvId(text: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (c === '_') {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (/[A-Za-z0-9-]/.test(c)) bytes.push(c.charCodeAt(0));
    else return undefined;
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Name prefix of environment containers: `xenlab-env-<encoded id>.<node>`. */
export const ENV_PREFIX = 'xenlab-env-';

/** The container name of one node of an environment. */
export function containerName(envId: string, node: string): string {
  const name = `${ENV_PREFIX}${encodeEnvId(envId)}.${node}`;
  // Docker itself has no documented cap, but hostnames and DNS labels do; ids this long are a caller bug.
  if (name.length > 200)
    throw new XenlabError('SANDBOX_ERR_BAD_ID', `environment id too long (${envId.length} chars)`);
  return name;
}

/** Splits a container name made by {@link containerName}; undefined for any other container. */
export function parseContainerName(name: string): { envId: string; node: string } | undefined {
  const bare = name.startsWith('/') ? name.slice(1) : name;
  if (!bare.startsWith(ENV_PREFIX)) return undefined;
  const rest = bare.slice(ENV_PREFIX.length);
  const dot = rest.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const envId = decodeEnvId(rest.slice(0, dot));
  return envId === undefined ? undefined : { envId, node: rest.slice(dot + 1) };
}

/** Whether a dockerode error is the engine's 404 (no such container/network/image). */
export function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number } | null)?.statusCode === 404;
}

/**
 * Removes every container, service and network carrying `xenlab=1` (and, if given, a further label filter):
 * what tests run in `afterAll`, and what `xenlab image build --clean` offers. Errors on single objects are ignored
 * (another cleanup may have got there first).
 */
export async function removeLabelled(docker: Docker, extraLabel?: string): Promise<void> {
  const labels = [`${LABEL}=1`, ...(extraLabel ? [extraLabel] : [])];
  const filters = JSON.stringify({ label: labels });
  const services = await docker.listServices({ filters }).catch(() => []);
  await Promise.all(
    services.map(
      (s) =>
        docker
          .getService(s.ID)
          .remove()
          .catch(() => undefined), // deliberate: already gone
    ),
  );
  const containers = await docker.listContainers({ all: true, filters });
  await Promise.all(
    containers.map(
      (c) =>
        docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined), // deliberate: already gone (its service took it)
    ),
  );
  const networks = await docker.listNetworks({ filters });
  for (const n of networks)
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined); // deliberate: already gone
}
