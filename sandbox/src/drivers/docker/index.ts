/**
 * The `docker` sandbox driver: each environment is one hardened container per node on its own private network,
 * on a local or remote engine (dockerode), optionally from a warm pool, or as swarm services spread over several
 * machines. See the files beside this one for each concept (client, image, hardening, networks, pool, swarm).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type {
  EnvironmentSpec,
  ExecOptions,
  Sandbox,
  SandboxDriver,
  SandboxLimits,
  SandboxSnapshot,
  TerminalProcess,
} from '../types.js';
import { LABEL_NODE, LABEL_POOL, connectEngine, containerName, encodeEnvId, pingEngine } from './client.js';
import type { EngineOptions } from './client.js';
import { findEnvironment, listEnvironments, removeContainers, startContainer } from './containers.js';
import { attachTerminal, execRaw, execText } from './exec.js';
import type { ExecTarget } from './exec.js';
import { DOCKER_HOME, resolveLimits, updatableLimits } from './hardening.js';
import { LAB_IMAGE } from './image.js';
import { createEnvNetwork, hostFirewall, removeNetwork } from './networks.js';
import { openPoolLink, type PoolLink } from './pool-link.js';
import { WarmPool } from './pool.js';
import type { WarmPoolStats } from './pool.js';
import {
  createNodeService,
  findSwarmEnvironment,
  listSwarmEnvironments,
  removeServices,
  requireSwarmManager,
  serviceContainer,
} from './swarm.js';
import type { SwarmOptions } from './swarm.js';
import { TOOLS_BIN, toolBinds } from './tools.js';
import { atPidsLimit, endLearnerProcesses, pidsUsage, recoveryNotice } from './recover.js';
import { environmentsOnEngine, removeEnvironment, removeStalePool } from './orphans.js';
import type { OrphanFilter } from './orphans.js';
import { learnerEnv, xeConfig } from '../pool-access.js';
import { XenlabError } from '../../errors/index.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/docker');

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

/** One environment's containers and how they were placed. */
interface Placement {
  nodes: Map<string, Docker.Container>;
  network: string;
  /** Swarm services by node, in swarm mode. */
  services?: Map<string, string>;
}

interface PooledContainer {
  container: Docker.Container;
  network: string;
  dispose(): Promise<void>;
}

/** A sandbox, and the step that points `xe` in it at the pool (run at creation, after reset and restore). */
type DockerSandbox = Sandbox & { writeXeConfigs(): Promise<void> };

const nodeNames = (spec: EnvironmentSpec) =>
  spec.nodes && spec.nodes.length > 0 ? spec.nodes.map((n) => n.name) : ['main'];

/** Checks an environment's node list: unique DNS-label names. */
function checkNodes(spec: EnvironmentSpec): void {
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
  const firewall = options.hostFirewall ?? 'require';
  if (firewall !== 'off') {
    const state = hostFirewall(firewall === 'apply');
    if (!state.ok) {
      throw new XenlabError(
        'SANDBOX_ERR_HOST_REACHABLE',
        `${state.message}; use hostFirewall: 'apply' (as root) or set the rules up yourself`,
      );
    }
  }
  const swarm = options.swarm === true ? {} : options.swarm === false ? undefined : options.swarm;
  if (swarm) await requireSwarmManager(docker);
  const image = options.image ?? LAB_IMAGE;
  const defaults = resolveLimits(options.limits);
  const labels = { ...options.labels };
  const labelFilter = Object.entries(labels)[0];
  const snapshotDir = options.snapshotDir ?? join(tmpdir(), 'xenlab-docker-snapshots');
  const driverId = randomBytes(4).toString('hex');
  const onHost =
    options.onHost ?? (!swarm && (docker.modem as { socketPath?: unknown }).socketPath !== undefined);
  const binds = onHost ? toolBinds() : [];

  const live = new Map<string, Sandbox>();
  const creating = new Map<string, Promise<Sandbox>>();
  /** Orphans being removed: a create() of one waits for that, then starts afresh. */
  const culling = new Map<string, Promise<void>>();
  /** When this driver first saw each environment it didn't make (orphans.ts). */
  const firstSeen = new Map<string, number>();
  let orphanMs = options.orphanMs ?? 60 * 60_000;
  const startedAt = Date.now();

  const pool =
    options.pool && options.pool > 0 && !swarm
      ? new WarmPool<PooledContainer>(async () => {
          const network = await createEnvNetwork(docker, {
            egress: options.egress === true,
            labels: { ...labels, [LABEL_POOL]: driverId },
            ...(options.subnetPool ? { subnetPool: options.subnetPool } : {}),
          });
          try {
            const container = await startContainer(docker, {
              name: `xenlab-pool-${driverId}-${randomBytes(4).toString('hex')}`,
              image,
              hostname: 'xenlab',
              network,
              aliases: ['main'],
              limits: defaults,
              labels: { ...labels, [LABEL_POOL]: driverId },
              binds,
            });
            return {
              container,
              network,
              dispose: async () => {
                await removeContainers([container]);
                await removeNetwork(docker, network);
              },
            };
          } catch (err) {
            await removeNetwork(docker, network);
            throw err;
          }
        }, options.pool)
      : undefined;

  /** Cold start: a network and one container (or service) per node. */
  const place = async (spec: EnvironmentSpec, limits: Required<SandboxLimits>, network?: string) => {
    const names = nodeNames(spec);
    const single = spec.nodes === undefined || spec.nodes.length === 0;
    const imageOf = (n: string) => spec.nodes?.find((x) => x.name === n)?.image ?? image;
    const net =
      network ??
      (await createEnvNetwork(docker, {
        egress: options.egress === true,
        overlay: swarm !== undefined,
        labels,
        ...(options.subnetPool ? { subnetPool: options.subnetPool } : {}),
      }));
    const placement: Placement = { nodes: new Map(), network: net };
    try {
      if (swarm) {
        placement.services = new Map();
        for (const n of names) {
          placement.services.set(
            n,
            await createNodeService(docker, {
              envId: spec.id,
              node: n,
              image: imageOf(n),
              hostname: single ? 'xenlab' : n,
              network: net,
              limits,
              labels,
            }),
          );
        }
        for (const [n, s] of placement.services)
          placement.nodes.set(n, await serviceContainer(docker, s, swarm));
      } else {
        const started = await Promise.allSettled(
          names.map((n) =>
            startContainer(docker, {
              name: containerName(spec.id, n),
              image: imageOf(n),
              hostname: single ? 'xenlab' : n,
              network: net,
              aliases: [n],
              limits,
              labels: { ...labels, [LABEL_NODE]: n },
              binds,
            }).then((c) => placement.nodes.set(n, c)),
          ),
        );
        const failed = started.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      }
    } catch (err) {
      await unplace(placement, network === undefined);
      throw err;
    }
    return placement;
  };

  const unplace = async (p: Placement, withNetwork: boolean) => {
    if (p.services) await removeServices(docker, p.services.values());
    await removeContainers(p.nodes.values());
    if (withNetwork) {
      // Swarm removes a service's containers asynchronously; the network stays busy until they're gone.
      for (let i = 0; i < 50; i++) {
        try {
          await docker.getNetwork(p.network).remove();
          break;
        } catch (err) {
          if ((err as { statusCode?: number }).statusCode === 404) break;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
  };

  /** A warm container for this environment, renamed to it and fitted to its limits; undefined on a miss. */
  const claim = async (
    spec: EnvironmentSpec,
    limits: Required<SandboxLimits>,
  ): Promise<Placement | undefined> => {
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
  };

  /** Re-attaches to an environment left running by an earlier gateway; undefined when there is none. */
  const adopt = async (spec: EnvironmentSpec): Promise<Placement | undefined> => {
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
  };

  const shellEnv = (spec: EnvironmentSpec, link: PoolLink | undefined): Record<string, string> =>
    learnerEnv(DOCKER_HOME, onHost ? [TOOLS_BIN] : [], spec, link);

  const makeSandbox = (
    spec: EnvironmentSpec,
    limits: Required<SandboxLimits>,
    initial: Placement,
    link: PoolLink | undefined,
  ): DockerSandbox => {
    let placement = initial;
    let destroyed = false;
    const terminals = new Set<TerminalProcess>();
    const env = shellEnv(spec, link);
    const names = nodeNames(spec);
    const target = (node: string | undefined): ExecTarget => {
      if (destroyed) throw new XenlabError('SANDBOX_ERR_DESTROYED', `environment ${spec.id} was destroyed`);
      const name = node ?? names[0] ?? 'main';
      const container = placement.nodes.get(name);
      if (!container)
        throw new XenlabError('SANDBOX_ERR_NO_NODE', `environment ${spec.id} has no node '${name}'`);
      return { container, env };
    };
    /** Frees a node whose pids are all taken (a fork bomb) before a terminal opens on it; one at a time. */
    let recovering: Promise<string | undefined> = Promise.resolve(undefined);
    const freePids = (container: Docker.Container) => {
      recovering = recovering.then(async () => {
        const usage = await pidsUsage(container, limits.pids, onHost);
        if (!usage || !atPidsLimit(usage)) return undefined;
        const how = await endLearnerProcesses(container, usage.limit, onHost);
        // A restart emptied the tmpfs home, ~/.xe with it.
        if (how === 'restarted')
          await writeXeConfigs().catch((err: unknown) => {
            log.warn('rewriting ~/.xe after a restart failed', { environmentId: spec.id, err });
          });
        return recoveryNotice(how, usage.limit);
      });
      return recovering;
    };
    const hangupAll = () => {
      for (const t of terminals) t.kill();
      terminals.clear();
    };
    /** `~/.xe` on every node (homes are tmpfs: fresh containers need it again). */
    const writeXeConfigs = async () => {
      if (!spec.pool || !link) return;
      const text = xeConfig(spec.pool, link);
      for (const n of names) {
        const r = await execRaw(target(n), ['sh', '-c', `umask 077 && cat > ${DOCKER_HOME}/.xe`], {
          timeoutMs: 10_000,
          input: Buffer.from(text),
        });
        if (r.code !== 0)
          throw new XenlabError(
            'SANDBOX_ERR_SETUP',
            `writing ~/.xe on ${n} failed: ${r.stderr.toString().trim()}`,
          );
      }
    };
    const sandbox: DockerSandbox = {
      id: spec.id,
      nodes: names,
      pool: link ? { host: link.host, port: link.port } : undefined,
      writeXeConfigs,
      attachTerminal(size, node) {
        const where = target(node);
        const t = attachTerminal(
          where,
          size,
          () => terminals.delete(t),
          () => freePids(where.container),
        );
        terminals.add(t);
        return t;
      },
      exec(argv, opts: ExecOptions = {}) {
        return execText(target(opts.node), argv, {
          user: opts.root ? 'root' : 'learner',
          timeoutMs: opts.timeoutMs ?? options.execTimeoutMs ?? 30_000,
          ...(opts.input === undefined ? {} : { input: opts.input }),
        });
      },
      async reset() {
        target(undefined);
        hangupAll();
        // Fresh containers on the same network: files, processes and any damage the learner did all go.
        const old = placement;
        await unplace({ ...old, nodes: old.nodes }, false);
        placement = await place(spec, limits, old.network);
        await writeXeConfigs();
      },
      async snapshot() {
        target(undefined);
        const createdAt = new Date().toISOString();
        const ref = join(snapshotDir, `${encodeEnvId(spec.id)}-${Date.now().toString(36)}`);
        mkdirSync(ref, { recursive: true, mode: 0o700 });
        for (const n of names) {
          const r = await execRaw(target(n), ['tar', '-C', DOCKER_HOME, '-cf', '-', '.'], {
            timeoutMs: 120_000,
            cap: (limits.diskMb + 16) * 1048576,
          });
          if (r.code !== 0) {
            throw new XenlabError(
              'SANDBOX_ERR_SNAPSHOT',
              `tar of ${n}'s home failed: ${r.stderr.toString().trim()}`,
            );
          }
          writeFileSync(join(ref, `${n}.tar`), r.stdout, { mode: 0o600 });
        }
        return { driver: 'docker', id: spec.id, ref, createdAt };
      },
      async restore(snap: SandboxSnapshot) {
        if (snap.driver !== 'docker' || !existsSync(snap.ref)) {
          throw new XenlabError('SANDBOX_ERR_BAD_SNAPSHOT', `${snap.ref} is not a docker snapshot`);
        }
        hangupAll();
        for (const f of readdirSync(snap.ref)) {
          const n = f.replace(/\.tar$/, '');
          if (!names.includes(n)) continue;
          const r = await execRaw(
            target(n),
            ['sh', '-c', `find ${DOCKER_HOME} -mindepth 1 -delete 2>/dev/null; tar -C ${DOCKER_HOME} -xf -`],
            { timeoutMs: 120_000, input: readFileSync(join(snap.ref, f)) },
          );
          if (r.code !== 0) {
            throw new XenlabError(
              'SANDBOX_ERR_SNAPSHOT',
              `restoring ${n}'s home failed: ${r.stderr.toString().trim()}`,
            );
          }
        }
        // The snapshot's ~/.xe names the pool's address of its day.
        await writeXeConfigs();
      },
      async destroy() {
        if (destroyed) return;
        destroyed = true;
        live.delete(spec.id);
        terminals.clear();
        await link?.close();
        await unplace(placement, true);
      },
      async detach() {
        if (destroyed) return;
        // The containers (and the learner's files in them) keep running; a later create() adopts them.
        destroyed = true;
        live.delete(spec.id);
        hangupAll();
        await link?.close();
      },
    };
    return sandbox;
  };

  const createOnce = async (spec: EnvironmentSpec): Promise<Sandbox> => {
    checkNodes(spec);
    const limits = resolveLimits({ ...defaults, ...spec.limits });
    const adopted = await adopt(spec);
    const placement = adopted ?? (await claim(spec, limits)) ?? (await place(spec, limits));
    let link: PoolLink | undefined;
    try {
      if (spec.pool && onHost) link = await openPoolLink(docker, placement.network, spec.pool.port);
      const sandbox = makeSandbox(spec, limits, placement, link);
      await sandbox.writeXeConfigs();
      live.set(spec.id, sandbox);
      return sandbox;
    } catch (err) {
      await link?.close();
      // A half-made environment goes; an adopted one stays for the next try.
      if (!adopted) await unplace(placement, true);
      throw err;
    }
  };

  const cullOrphans = async (filter: OrphanFilter = {}): Promise<string[]> => {
    if (filter.olderThanMs !== undefined) orphanMs = filter.olderThanMs;
    const now = Date.now();
    const removed: string[] = [];
    const ids = await environmentsOnEngine(docker, labels, swarm !== undefined);
    const present = new Set(ids);
    for (const id of firstSeen.keys()) if (!present.has(id)) firstSeen.delete(id);
    for (const id of ids) {
      if (live.has(id) || creating.has(id) || culling.has(id)) continue;
      const seen = firstSeen.get(id) ?? now;
      firstSeen.set(id, seen);
      const wanted = filter.keep ? filter.keep(id) : true;
      if (wanted && (orphanMs <= 0 || now - seen < orphanMs)) continue;
      const gone = removeEnvironment(docker, id, labels, swarm !== undefined, onHost)
        .catch((err: unknown) => {
          log.warn('removing an orphaned environment failed (tried again next sweep)', {
            environmentId: id,
            err,
          });
        })
        .finally(() => {
          culling.delete(id);
          firstSeen.delete(id);
        });
      culling.set(id, gone);
      await gone;
      removed.push(id);
    }
    return removed;
  };
  // First look now, so an earlier gateway's environments get their window from this start.
  const orphanTimer =
    orphanMs > 0
      ? setInterval(
          () => {
            void cullOrphans().catch((err: unknown) => {
              log.warn('looking for orphaned environments failed', { err });
            });
          },
          Math.min(Math.max(orphanMs / 2, 500), 5 * 60_000),
        )
      : undefined;
  orphanTimer?.unref();
  if (orphanMs > 0)
    void cullOrphans().catch((err: unknown) => {
      log.warn('looking for orphaned environments failed', { err });
    });
  // Warm containers an earlier gateway made are never claimed by anyone.
  if (!swarm) void removeStalePool(docker, labels, driverId, startedAt).catch(() => 0);

  return {
    name: 'docker',
    jailed: true,
    notice: undefined,
    docker,
    get pool() {
      return pool?.stats;
    },
    poolReady: (ms) => pool?.ready(ms) ?? Promise.resolve(),
    create(spec) {
      const existing = live.get(spec.id);
      if (existing) return Promise.resolve(existing);
      // Two tabs opening the same environment at once share one start.
      let p = creating.get(spec.id);
      if (!p) {
        const cull = culling.get(spec.id);
        p = (cull ? cull.then(() => createOnce(spec)) : createOnce(spec)).finally(() =>
          creating.delete(spec.id),
        );
        creating.set(spec.id, p);
      }
      return p;
    },
    async list() {
      const label = labelFilter ? `${labelFilter[0]}=${labelFilter[1]}` : undefined;
      return swarm ? listSwarmEnvironments(docker, label) : listEnvironments(docker, label);
    },
    cullOrphans,
    async close() {
      if (orphanTimer) clearInterval(orphanTimer);
      await pool?.close();
    },
  };
}
