/**
 * Bringing a qemu-xen environment up: its run folder and nodes (machines, and the local workbench), then its
 * machines started — resumed as they were saved when an earlier gateway detached it, else xen nodes booted (pxe
 * nodes wait to be powered on) — while the page of the learner waiting follows the boot.
 * @module
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createLearnerLocalDriver } from '../local/learner-tools.js';
import type { EnvironmentSpec, Sandbox } from '../types.js';
import { makeRunBase } from './cleanup.js';
import { safe, type QemuXenContext } from './context.js';
import { makeNode, type NodeKind, type VmNode } from './node.js';
import { makeSandbox } from './sandbox.js';
import { hibernation, readHibernation } from './saved-states.js';
import { templateFile } from './warm.js';
import { XenlabError } from '../../errors/index.js';

/** One environment of the driver. */
export interface QemuEnv {
  readonly spec: EnvironmentSpec;
  /** Its run folder (one folder per machine inside). */
  readonly runBase: string;
  /** Its machines (xen and pxe nodes), by node name. */
  readonly vms: Map<string, VmNode>;
  readonly kinds: Map<string, NodeKind>;
  readonly nodeNames: string[];
  /** The learner's workbench, when a node is `local`. */
  readonly localSandbox: Sandbox | undefined;
  /** Destroyed or detached: no more use. */
  destroyed: boolean;
}

/** Creates environment `spec`: its nodes, then its machines up. */
export async function createSandbox(ctx: QemuXenContext, spec: EnvironmentSpec): Promise<Sandbox> {
  const env = await setUpNodes(ctx, spec);
  await bringUp(ctx, env);
  return makeSandbox(ctx, env);
}

/** The run folder, a node per spec (checked), and the local workbench when a node asks for one. */
async function setUpNodes(ctx: QemuXenContext, spec: EnvironmentSpec): Promise<QemuEnv> {
  const specs = spec.nodes && spec.nodes.length > 0 ? spec.nodes : [{ name: 'main' }];
  const runBase = makeRunBase();
  const vms = new Map<string, VmNode>();
  const kinds = new Map<string, NodeKind>();
  for (const n of specs) {
    const image = n.image ?? 'xen';
    if (image !== 'xen' && image !== 'pxe' && image !== 'local') {
      throw new XenlabError(
        'SANDBOX_ERR_BAD_NODE',
        `node ${n.name}: image must be xen, pxe or local, not ${image}`,
      );
    }
    const kind: NodeKind = image;
    if (kinds.has(n.name)) throw new XenlabError('SANDBOX_ERR_BAD_NODE', `two nodes are named ${n.name}`);
    kinds.set(n.name, kind);
    if (kind !== 'local') {
      const runDir = join(runBase, String(vms.size));
      mkdirSync(runDir);
      vms.set(n.name, makeNode(ctx, spec, n.name, kind, runDir));
    }
  }
  let localSandbox: Sandbox | undefined;
  if ([...kinds.values()].includes('local')) {
    // The learner's workbench: the image's boot files to serve, and the learner's commands (`xe`,
    // `xenlab-tools`) on PATH as every other driver gives them — labs call `xenlab-tools`, never a toolkit path.
    ctx.local ??= createLearnerLocalDriver({ readOnlyBinds: [ctx.image.dir] });
    localSandbox = await ctx.local.create({
      ...spec,
      env: {
        XENLAB_XEN_IMAGE: ctx.image.dir,
        ...spec.env,
      },
      nodes: [{ name: 'main' }],
    });
  }
  const nodeNames = specs.map((n) => n.name);
  return { spec, runBase, vms, kinds, nodeNames, localSandbox, destroyed: false };
}

/** Starts the machines that run from the start; on failure stops them all and removes the run folder. */
async function bringUp(ctx: QemuXenContext, env: QemuEnv): Promise<void> {
  const { spec, vms, runBase } = env;
  // A detached environment comes back as it was saved; otherwise xen nodes run from the start and pxe nodes wait
  // to be powered on.
  const saved = hibernation(ctx, spec.id);
  const was = readHibernation(saved);
  const resumes = was?.image === ctx.image.key ? new Set(was.running) : new Set<string>();
  const feedOff = followBoot(ctx, env, resumes);
  try {
    await Promise.all(
      [...vms.values()].map(async (n) => {
        if (resumes.has(n.name)) {
          try {
            await n.ensure(join(saved, `${safe(n.name)}.state`));
            n.say(`${n.name} was saved when the lab server stopped, and is back as it was`);
            return;
          } catch (err) {
            n.say(
              `${n.name} could not be brought back as saved (${(err as Error).message}); starting it afresh`,
            );
          }
        }
        if (n.kind === 'xen') await n.ensure();
      }),
    );
    if (was) rmSync(saved, { recursive: true, force: true });
  } catch (err) {
    await Promise.all([...vms.values()].map((n) => n.stop()));
    rmSync(runBase, { recursive: true, force: true });
    throw err;
  } finally {
    for (const off of feedOff) off();
    ctx.feeds.end(spec.id);
  }
}

/**
 * The page of a learner waiting for this environment follows the boot: what starts, an ETA, the console. Begins
 * the environment's feed; returns the unsubscribers of the consoles it follows.
 */
function followBoot(ctx: QemuXenContext, env: QemuEnv, resumes: ReadonlySet<string>): (() => void)[] {
  const { spec } = env;
  const booting = [...env.vms.values()].filter((n) => n.kind === 'xen' || resumes.has(n.name));
  const feedOff = booting.map((n) =>
    n.subscribe((d) => {
      ctx.feeds.console(spec.id, d);
    }),
  );
  if (booting.length > 0) {
    const restoring =
      booting.every((n) => resumes.has(n.name)) || (ctx.warm && existsSync(templateFile(ctx)));
    ctx.feeds.begin(
      spec.id,
      restoring
        ? 'starting the Xen host from its saved state'
        : `booting a Xen host (${ctx.accel === 'kvm' ? 'KVM' : 'software emulation'})`,
      restoring ? ctx.bootTimes.estimate('restore') : ctx.bootTimes.estimate(`cold-${ctx.accel}`),
    );
  }
  return feedOff;
}
