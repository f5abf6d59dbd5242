/**
 * One docker environment's state and the steps its sandbox is made of: finding the container of a node, `~/.xe` on
 * every node, freeing a node whose pids are all taken, hanging up terminals, and letting go of the environment
 * (destroy, or detach for a gateway restart).
 * @module
 */
import type Docker from 'dockerode';
import type { EnvironmentSpec, SandboxLimits, TerminalProcess } from '../types.js';
import type { DockerContext } from './context.js';
import { execRaw } from './exec.js';
import type { ExecTarget } from './exec.js';
import { DOCKER_HOME } from './hardening.js';
import { nodeNames, unplace } from './placement.js';
import type { Placement } from './placement.js';
import type { PoolLink } from './pool-link.js';
import { atPidsLimit, endLearnerProcesses, pidsUsage, recoveryNotice } from './recover.js';
import { TOOLS_BIN } from './tools.js';
import { learnerEnv, xeConfig } from '../pool-access.js';
import { XenlabError } from '../../errors/index.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/docker');

/** What one environment's sandbox holds. */
export interface EnvState {
  readonly spec: EnvironmentSpec;
  readonly limits: Required<SandboxLimits>;
  /** Its containers now (replaced by reset). */
  placement: Placement;
  /** Destroyed or detached: no more use. */
  destroyed: boolean;
  readonly terminals: Set<TerminalProcess>;
  /** Environment variables of shells and checks. */
  readonly env: Record<string, string>;
  readonly names: readonly string[];
  /** The link to the learner's pool (on this host only). */
  readonly link: PoolLink | undefined;
  /** Pid recoveries run one at a time: the last one queued. */
  recovering: Promise<string | undefined>;
}

/** The state of a new sandbox on `placement`. */
export function newEnvState(
  ctx: DockerContext,
  spec: EnvironmentSpec,
  limits: Required<SandboxLimits>,
  placement: Placement,
  link: PoolLink | undefined,
): EnvState {
  return {
    spec,
    limits,
    placement,
    destroyed: false,
    terminals: new Set(),
    env: learnerEnv(DOCKER_HOME, ctx.onHost ? [TOOLS_BIN] : [], spec, link),
    names: nodeNames(spec),
    link,
    recovering: Promise.resolve(undefined),
  };
}

/** The container (and shell environment) of a node; the first node when none is named. */
export function target(st: EnvState, node: string | undefined): ExecTarget {
  if (st.destroyed) throw new XenlabError('SANDBOX_ERR_DESTROYED', `environment ${st.spec.id} was destroyed`);
  const name = node ?? st.names[0] ?? 'main';
  const container = st.placement.nodes.get(name);
  if (!container)
    throw new XenlabError('SANDBOX_ERR_NO_NODE', `environment ${st.spec.id} has no node '${name}'`);
  return { container, env: st.env };
}

/** Ends every terminal of the environment. */
export function hangupAll(st: EnvState): void {
  for (const t of st.terminals) t.kill();
  st.terminals.clear();
}

/** `~/.xe` on every node (homes are tmpfs: fresh containers need it again). */
export async function writeXeConfigs(st: EnvState): Promise<void> {
  if (!st.spec.pool || !st.link) return;
  const text = xeConfig(st.spec.pool, st.link);
  for (const n of st.names) {
    const r = await execRaw(target(st, n), ['sh', '-c', `umask 077 && cat > ${DOCKER_HOME}/.xe`], {
      timeoutMs: 10_000,
      input: Buffer.from(text),
    });
    if (r.code !== 0)
      throw new XenlabError(
        'SANDBOX_ERR_SETUP',
        `writing ~/.xe on ${n} failed: ${r.stderr.toString().trim()}`,
      );
  }
}

/** Frees a node whose pids are all taken (a fork bomb) before a terminal opens on it; one at a time. */
export function freePids(
  ctx: DockerContext,
  st: EnvState,
  container: Docker.Container,
): Promise<string | undefined> {
  st.recovering = st.recovering.then(async () => {
    const usage = await pidsUsage(container, st.limits.pids, ctx.onHost);
    if (!usage || !atPidsLimit(usage)) return undefined;
    const how = await endLearnerProcesses(container, usage.limit, ctx.onHost);
    // A restart emptied the tmpfs home, ~/.xe with it.
    if (how === 'restarted')
      await writeXeConfigs(st).catch((err: unknown) => {
        log.warn('rewriting ~/.xe after a restart failed', { environmentId: st.spec.id, err });
      });
    return recoveryNotice(how, usage.limit);
  });
  return st.recovering;
}

/** Removes the environment: its containers, network and pool link. */
export async function destroyEnvironment(ctx: DockerContext, st: EnvState): Promise<void> {
  if (st.destroyed) return;
  st.destroyed = true;
  ctx.live.delete(st.spec.id);
  st.terminals.clear();
  await st.link?.close();
  await unplace(ctx, st.placement, true);
}

/** Lets go of the environment for a gateway restart. */
export async function detachEnvironment(ctx: DockerContext, st: EnvState): Promise<void> {
  if (st.destroyed) return;
  // The containers (and the learner's files in them) keep running; a later create() adopts them.
  st.destroyed = true;
  ctx.live.delete(st.spec.id);
  hangupAll(st);
  await st.link?.close();
}
