/**
 * Bringing a qemu-xen environment up: its run folder and nodes (machines, and the local workbench), then its
 * machines started — resumed as they were saved when an earlier gateway detached it, else xen nodes booted (pxe
 * nodes wait to be powered on) — while the page of the learner waiting follows the boot.
 * @module
 */
import { existsSync, mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createLearnerLocalDriver } from '../local/learner-tools.js';
import type { EnvironmentSpec, NodeSpec, Sandbox } from '../types.js';
import { createPrivateNetwork, hostsLines, planNic, removeNetns, type NicPlan } from './network.js';
import { diskFileName, moveSparse } from './saved-states.js';
import { STORAGE_NODE_MEMORY_MB } from './storage-node.js';
import { HOSTNAME_RE, machineShape, XEN_SCHEDULERS } from './vm.js';
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
  /** The network namespace of its private network (bridges, taps), when it has one. */
  readonly netns: string | undefined;
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

const NODE_KINDS: readonly NodeKind[] = ['xen', 'storage', 'pxe', 'local'];
const DISK_NAME_RE = /^[a-z0-9][a-z0-9-]{0,19}$/;

/** The kind of each node (checked), and the NICs of each machine on the private network (when there is one). */
function planNodes(specs: readonly NodeSpec[]): {
  kinds: Map<string, NodeKind>;
  nics: Map<string, NicPlan[]>;
} {
  const kinds = new Map<string, NodeKind>();
  for (const n of specs) {
    const image = n.image ?? 'xen';
    if (!(NODE_KINDS as readonly string[]).includes(image)) {
      throw new XenlabError(
        'SANDBOX_ERR_BAD_NODE',
        `node ${n.name}: image must be ${NODE_KINDS.join(', ')}, not ${image}`,
      );
    }
    if (!HOSTNAME_RE.test(n.name) || n.name.length > 32)
      throw new XenlabError('SANDBOX_ERR_BAD_NODE', `node name "${n.name}" is not a hostname`);
    if (kinds.has(n.name)) throw new XenlabError('SANDBOX_ERR_BAD_NODE', `two nodes are named ${n.name}`);
    kinds.set(n.name, image as NodeKind);
    const disks = n.disks ?? [];
    for (const d of disks) {
      if (!DISK_NAME_RE.test(d.name) || !Number.isInteger(d.sizeMb) || d.sizeMb < 1 || d.sizeMb > 16_384)
        throw new XenlabError(
          'SANDBOX_ERR_BAD_NODE',
          `node ${n.name}: bad data disk ${d.name} (${String(d.sizeMb)} MiB)`,
        );
    }
    if (new Set(disks.map((d) => d.name)).size !== disks.length)
      throw new XenlabError('SANDBOX_ERR_BAD_NODE', `node ${n.name}: two data disks have the same name`);
    if (n.nics !== undefined && (!Number.isInteger(n.nics) || n.nics < 0 || n.nics > 4))
      throw new XenlabError('SANDBOX_ERR_BAD_NODE', `node ${n.name}: nics is 0 to 4`);
    if ((n.numaNodes !== undefined || n.xenScheduler !== undefined) && image !== 'xen')
      throw new XenlabError(
        'SANDBOX_ERR_BAD_NODE',
        `node ${n.name}: numaNodes and xenScheduler are for xen machines`,
      );
    if (n.xenScheduler !== undefined && !(XEN_SCHEDULERS as readonly string[]).includes(n.xenScheduler))
      throw new XenlabError(
        'SANDBOX_ERR_BAD_NODE',
        `node ${n.name}: xenScheduler is one of ${XEN_SCHEDULERS.join(', ')}`,
      );
  }
  // xen and storage machines share a private network when there are two or more, or a node asks for NICs; pxe
  // nodes keep QEMU's own network (it serves their TFTP).
  const onNet = specs.filter((n) => kinds.get(n.name) === 'xen' || kinds.get(n.name) === 'storage');
  const networked = onNet.length >= 2 || onNet.some((n) => (n.nics ?? 0) > 0);
  const nics = new Map<string, NicPlan[]>();
  if (networked)
    onNet.forEach((n, i) => {
      nics.set(
        n.name,
        Array.from({ length: n.nics ?? 1 }, (_x, j) => planNic(i, j)),
      );
    });
  return { kinds, nics };
}

/** The run folder, a node per spec (checked), its private network, and the local workbench when a node asks. */
async function setUpNodes(ctx: QemuXenContext, spec: EnvironmentSpec): Promise<QemuEnv> {
  const specs: readonly NodeSpec[] = spec.nodes && spec.nodes.length > 0 ? spec.nodes : [{ name: 'main' }];
  const { kinds, nics } = planNodes(specs);
  const storage = [...kinds.values()].includes('storage') ? ctx.storageImage() : undefined;
  const runBase = makeRunBase();
  // The run folder's unique name (xlq-XXXXXX) names the namespace: the orphan sweep finds both.
  const netns = nics.size > 0 ? basename(runBase) : undefined;
  const vms = new Map<string, VmNode>();
  const saved = hibernation(ctx, spec.id);
  try {
    if (netns !== undefined) createPrivateNetwork(netns, nics);
    const hosts = hostsLines(nics);
    for (const n of specs) {
      const kind = kinds.get(n.name);
      if (kind === undefined || kind === 'local') continue;
      const runDir = join(runBase, String(vms.size));
      mkdirSync(runDir);
      // Data disks: blank sparse files, or what a detached environment left (moved back).
      const wanted = kind === 'pxe' ? [] : (n.disks ?? []);
      const keptDisks = wanted.some((_d, k) => existsSync(join(saved, diskFileName(n.name, k))));
      const disks = wanted.map((d, k) => {
        const file = join(runDir, `disk-${String(k)}.img`);
        const kept = join(saved, diskFileName(n.name, k));
        if (existsSync(kept)) moveSparse(kept, file);
        else {
          writeFileSync(file, '');
          truncateSync(file, d.sizeMb * 1024 * 1024);
        }
        return { name: d.name, file, sizeMb: d.sizeMb };
      });
      const memoryMb = n.memoryMb ?? (kind === 'storage' ? STORAGE_NODE_MEMORY_MB : ctx.memoryMb);
      const node = makeNode(
        ctx,
        spec,
        n.name,
        kind,
        runDir,
        {
          memoryMb,
          nics: nics.get(n.name) ?? [],
          disks,
          netns,
          hosts,
          ...(n.numaNodes === undefined ? {} : { numaNodes: n.numaNodes }),
          ...(n.xenScheduler === undefined ? {} : { xenScheduler: n.xenScheduler }),
        },
        storage,
      );
      // A machine with a detached environment's disks boots with them (cold), never from a template.
      if (keptDisks) node.disksBlank = false;
      vms.set(n.name, node);
    }
  } catch (err) {
    if (netns !== undefined) removeNetns(netns);
    rmSync(runBase, { recursive: true, force: true });
    throw err;
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
  return { spec, runBase, netns, vms, kinds, nodeNames, localSandbox, destroyed: false };
}

/** Starts the machines that run from the start; on failure stops them all and removes the run folder. */
async function bringUp(ctx: QemuXenContext, env: QemuEnv): Promise<void> {
  const { spec, vms, runBase } = env;
  // A detached environment comes back as it was saved; otherwise xen nodes run from the start and pxe nodes wait
  // to be powered on.
  const saved = hibernation(ctx, spec.id);
  const was = readHibernation(saved);
  // Only into the same image, and a machine of the shape it was saved from (its NUMA nodes, Xen's scheduler).
  const resumes = new Set(
    was?.image === ctx.image.key
      ? was.running.filter((name) => {
          const n = vms.get(name);
          return n !== undefined && (was.shapes?.[name] ?? machineShape({})) === machineShape(n.layout);
        })
      : [],
  );
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
        if (n.kind !== 'pxe') await n.ensure();
      }),
    );
    if (was) rmSync(saved, { recursive: true, force: true });
  } catch (err) {
    await Promise.all([...vms.values()].map((n) => n.stop()));
    if (env.netns !== undefined) removeNetns(env.netns);
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
  const booting = [...env.vms.values()].filter((n) => n.kind !== 'pxe' || resumes.has(n.name));
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
