/**
 * What earlier gateways left on the engine, and taking it away.
 *
 * Environments outlive a gateway restart on purpose (the next gateway adopts them on the learner's next visit), but
 * one nobody comes back to would otherwise run forever: a crashed gateway never culls, and the next one only knows
 * the environments it is asked for. The driver lists the environments on the engine (its own labels only), gives
 * each one it didn't create or adopt an idle window from when it first saw it, and removes it after that, or at once
 * when the gateway says no record wants it (gone, or culled). Warm-pool containers of an earlier gateway go at once
 * (they are never adopted). Homes are tmpfs, so the files go with the container, as when a live environment is
 * culled (`destroy`).
 * @module
 */
import type Docker from 'dockerode';
import { ENV_PREFIX, LABEL, LABEL_ENV, LABEL_POOL, parseContainerName } from './client.js';
import { removeContainers } from './containers.js';
import type { DockerContext } from './context.js';
import { removeNetwork } from './networks.js';
import { bridgeOf, dropStaleRules } from './pool-link.js';
import { findSwarmEnvironment, removeServices } from './swarm.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/docker');

/** Which unclaimed environments {@link DockerDriver.cullOrphans} removes. */
export interface OrphanFilter {
  /**
   * Whether a record still wants the environment (its learner may come back): it then gets `olderThanMs` from when
   * this driver first saw it. Without it every environment is wanted.
   */
  readonly keep?: (envId: string) => boolean;
  /** The idle window, ms (the driver's `orphanMs` by default); also becomes the driver's window from then on. */
  readonly olderThanMs?: number;
}

const labelFilters = (labels: Readonly<Record<string, string>>) => [
  `${LABEL}=1`,
  ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
];

/** Ids of the environments on the engine carrying all of `labels` (stopped containers included). */
export async function environmentsOnEngine(
  docker: Docker,
  labels: Readonly<Record<string, string>>,
  swarm: boolean,
): Promise<string[]> {
  const filters = JSON.stringify({ label: labelFilters(labels) });
  const ids = new Set<string>();
  if (swarm) {
    for (const s of await docker.listServices({ filters })) {
      const id = s.Spec?.Labels?.[LABEL_ENV];
      if (id !== undefined) ids.add(id);
    }
    return [...ids];
  }
  for (const info of await docker.listContainers({ all: true, filters })) {
    const parsed = parseContainerName(info.Names[0] ?? '');
    if (parsed) ids.add(parsed.envId);
  }
  return [...ids];
}

/** Removes one environment's containers (or services), its network and its pool-link rule. */
export async function removeEnvironment(
  docker: Docker,
  envId: string,
  labels: Readonly<Record<string, string>>,
  swarm: boolean,
  onHost: boolean,
): Promise<void> {
  if (swarm) {
    const services = await findSwarmEnvironment(docker, envId);
    const networks = new Set<string>();
    for (const name of services.values()) {
      const spec = (await docker
        .getService(name)
        .inspect()
        .catch(() => undefined)) as  // deliberate: removed meanwhile
        { Spec?: { TaskTemplate?: { Networks?: { Target?: string }[] } } } | undefined;
      for (const n of spec?.Spec?.TaskTemplate?.Networks ?? []) if (n.Target) networks.add(n.Target);
    }
    await removeServices(docker, services.values());
    // The network stays busy until swarm has removed the tasks' containers.
    for (const n of networks) {
      for (let i = 0; i < 50; i++) {
        const gone = await docker
          .getNetwork(n)
          .remove()
          .then(
            () => true,
            (err: unknown) => (err as { statusCode?: number }).statusCode === 404,
          );
        if (gone) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return;
  }
  const filters = JSON.stringify({ label: labelFilters(labels), name: [ENV_PREFIX] });
  const containers = (await docker.listContainers({ all: true, filters })).filter(
    (c) => parseContainerName(c.Names[0] ?? '')?.envId === envId,
  );
  const networks = new Set(containers.flatMap((c) => Object.keys(c.NetworkSettings.Networks)));
  await removeContainers(containers.map((c) => docker.getContainer(c.Id)));
  for (const n of networks) {
    if (!n.startsWith('xenlab-')) continue;
    if (onHost) {
      const bridge = await bridgeOf(docker, n).catch(() => undefined); // deliberate: removed meanwhile
      if (bridge) dropStaleRules(bridge.iface);
    }
    await removeNetwork(docker, n);
  }
}

/**
 * Removes warm-pool containers (and their networks) made before `before` (ms) by drivers other than `driverId`;
 * returns how many.
 */
export async function removeStalePool(
  docker: Docker,
  labels: Readonly<Record<string, string>>,
  driverId: string,
  before: number,
): Promise<number> {
  const filters = JSON.stringify({ label: [...labelFilters(labels), LABEL_POOL] });
  // A claimed warm container keeps its pool label but has an environment's name: that one is an environment.
  const stale = (await docker.listContainers({ all: true, filters })).filter(
    (c) =>
      c.Labels[LABEL_POOL] !== driverId &&
      (c.Created + 1) * 1000 < before &&
      !(c.Names[0] ?? '').startsWith(`/${ENV_PREFIX}`),
  );
  await removeContainers(stale.map((c) => docker.getContainer(c.Id)));
  for (const n of new Set(stale.flatMap((c) => Object.keys(c.NetworkSettings.Networks)))) {
    if (n.startsWith('xenlab-')) await removeNetwork(docker, n);
  }
  return stale.length;
}

/**
 * {@link DockerDriver.cullOrphans}: removes the environments on the engine that this driver neither created nor
 * adopted, once their window has passed (or at once when `keep` says no record wants them); returns their ids.
 */
export async function cullOrphans(ctx: DockerContext, filter: OrphanFilter = {}): Promise<string[]> {
  if (filter.olderThanMs !== undefined) ctx.orphanMs = filter.olderThanMs;
  const { docker, labels, live, creating, culling, firstSeen, orphanMs } = ctx;
  const now = Date.now();
  const removed: string[] = [];
  const ids = await environmentsOnEngine(docker, labels, ctx.swarm !== undefined);
  const present = new Set(ids);
  for (const id of firstSeen.keys()) if (!present.has(id)) firstSeen.delete(id);
  for (const id of ids) {
    if (live.has(id) || creating.has(id) || culling.has(id)) continue;
    const seen = firstSeen.get(id) ?? now;
    firstSeen.set(id, seen);
    const wanted = filter.keep ? filter.keep(id) : true;
    if (wanted && (orphanMs <= 0 || now - seen < orphanMs)) continue;
    const gone = removeEnvironment(docker, id, labels, ctx.swarm !== undefined, ctx.onHost)
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
}

/**
 * Starts the driver's sweeps: orphans every half window (0.5 s to 5 min; none when the window is 0) and a first
 * look now, and an earlier gateway's warm containers at once. Returns the sweep timer to clear on close.
 */
export function startOrphanSweeps(ctx: DockerContext): NodeJS.Timeout | undefined {
  const sweep = () => {
    void cullOrphans(ctx).catch((err: unknown) => {
      log.warn('looking for orphaned environments failed', { err });
    });
  };
  // First look now, so an earlier gateway's environments get their window from this start.
  const timer =
    ctx.orphanMs > 0 ? setInterval(sweep, Math.min(Math.max(ctx.orphanMs / 2, 500), 5 * 60_000)) : undefined;
  timer?.unref();
  if (ctx.orphanMs > 0) sweep();
  // Warm containers an earlier gateway made are never claimed by anyone.
  if (!ctx.swarm)
    void removeStalePool(ctx.docker, ctx.labels, ctx.driverId, ctx.startedAt).catch((err: unknown) => {
      log.warn('removing an earlier gateway’s warm containers failed; the next start tries again', {
        err,
      });
    });
  return timer;
}
