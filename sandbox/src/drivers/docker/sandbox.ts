/**
 * The `Sandbox` a docker environment is used through: terminals and checks in its containers, and the steps of
 * environment.ts and snapshots.ts behind the rest.
 * @module
 */
import type { EnvironmentSpec, ExecOptions, Sandbox, SandboxLimits, SandboxSnapshot } from '../types.js';
import type { DockerContext } from './context.js';
import {
  destroyEnvironment,
  detachEnvironment,
  freePids,
  newEnvState,
  target,
  writeXeConfigs,
} from './environment.js';
import type { EnvState } from './environment.js';
import { attachTerminal, execText } from './exec.js';
import type { Placement } from './placement.js';
import type { PoolLink } from './pool-link.js';
import { resetEnvironment, restoreHomes, snapshotHomes } from './snapshots.js';

/** A sandbox, and the step that points `xe` in it at the pool (run at creation, after reset and restore). */
export type DockerSandbox = Sandbox & { writeXeConfigs(): Promise<void> };

/** A terminal on a node, kept in the environment's set until it ends; a fork-bombed node is freed first. */
function openTerminal(
  ctx: DockerContext,
  st: EnvState,
  size: { cols: number; rows: number },
  node: string | undefined,
) {
  const where = target(st, node);
  const t = attachTerminal(
    where,
    size,
    () => st.terminals.delete(t),
    () => freePids(ctx, st, where.container),
  );
  st.terminals.add(t);
  return t;
}

/** The sandbox of an environment placed on `placement`. */
export function makeSandbox(
  ctx: DockerContext,
  spec: EnvironmentSpec,
  limits: Required<SandboxLimits>,
  placement: Placement,
  link: PoolLink | undefined,
): DockerSandbox {
  const st = newEnvState(ctx, spec, limits, placement, link);
  return {
    id: spec.id,
    nodes: st.names,
    pool: link ? { host: link.host, port: link.port } : undefined,
    writeXeConfigs: () => writeXeConfigs(st),
    attachTerminal: (size, node) => openTerminal(ctx, st, size, node),
    exec(argv, opts: ExecOptions = {}) {
      return execText(target(st, opts.node), argv, {
        user: opts.root ? 'root' : 'learner',
        timeoutMs: opts.timeoutMs ?? ctx.execTimeoutMs,
        ...(opts.input === undefined ? {} : { input: opts.input }),
      });
    },
    reset: () => resetEnvironment(ctx, st),
    snapshot: () => snapshotHomes(ctx, st),
    restore: (snap: SandboxSnapshot) => restoreHomes(st, snap),
    destroy: () => destroyEnvironment(ctx, st),
    detach: () => detachEnvironment(ctx, st),
  };
}
