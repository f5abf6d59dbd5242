/**
 * Warm starts of `xen` and `storage` nodes: the first cold boot's machine is saved as a template, and later nodes
 * load it (seconds) instead of booting (a minute or two for Xen under TCG, ~14 s for a storage node). A template
 * loads only into the same QEMU, machine and image, so its name hashes all three. The template holds no identity:
 * each node gets its own after the load (xen: node.ts's guestNetworkScript; storage: storage-up).
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { EnvironmentSpec } from '../types.js';
import { startVm } from './boot.js';
import { vmConfig, type QemuXenContext } from './context.js';
import type { StorageImage } from './image.js';
import { nodeConfig, type NodeLayout, type VmNode } from './node.js';
import { qemuArgs, type VmBoot, type VmConfig, type XenVm } from './vm.js';
import { XenlabError } from '../../errors/index.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/qemu-xen');

/**
 * A saved state loads only into the same QEMU, machine and image: the template's name hashes all three. Machines of
 * one shape (RAM, NIC count, disk sizes) share a template: their taps, MACs and disk files are not part of it (the
 * guest gets its MACs and addresses after the load, see node.ts); xen nodes' disk names are not either, storage
 * nodes' are (`keepDiskNames`: /init looks for the one named `state`).
 */
const stateKey = (ctx: QemuXenContext, imageKey: string, cfg: VmConfig, keepDiskNames = false): string => {
  const shape: VmConfig = {
    ...cfg,
    runDir: '/',
    ...(cfg.nics
      ? { nics: cfg.nics.map((_n, j) => ({ id: `nic${String(j)}`, tap: `t${String(j)}`, mac: '' })) }
      : {}),
    ...(cfg.disks
      ? {
          disks: cfg.disks.map((d, k) => ({
            name: keepDiskNames ? d.name : `d${String(k)}`,
            file: `/d${String(k)}`,
            sizeMb: d.sizeMb,
          })),
        }
      : {}),
  };
  return createHash('sha256')
    .update(
      JSON.stringify([
        ctx.version,
        imageKey,
        qemuArgs(shape),
        // (disk sizes are not on the command line; a machine without disks keeps the key it always had)
        ...(shape.disks ? [shape.disks.map((d) => d.sizeMb)] : []),
      ]),
    )
    .digest('hex')
    .slice(0, 16);
};

/** The template file of machines of configuration `cfg`. */
const templateOf = (ctx: QemuXenContext, cfg: VmConfig): string =>
  join(ctx.stateDir, 'templates', `${ctx.image.key}-${stateKey(ctx, ctx.image.key, cfg)}.state`);

/** Where the template of this driver's xen nodes is saved (it exists after the first cold boot). */
export const templateFile = (ctx: QemuXenContext): string =>
  templateOf(ctx, vmConfig(ctx, '/', { kind: 'image', hostname: ctx.hostname }));

/** How long bringing up a xen node takes now: loading the template, or a cold boot. */
export const bootEstimate = (ctx: QemuXenContext): number =>
  ctx.warm && existsSync(templateFile(ctx))
    ? ctx.bootTimes.estimate('restore')
    : ctx.bootTimes.estimate(`cold-${ctx.accel}`);

/** Brings up a xen node: from `incoming` when given, else from the template (saving one after a cold boot). */
export async function bootXenNode(
  ctx: QemuXenContext,
  spec: EnvironmentSpec,
  node: VmNode,
  runDir: string,
  incoming: string | undefined,
): Promise<XenVm> {
  const cfg = nodeConfig(ctx, node, runDir, { kind: 'image', hostname: ctx.hostname });
  if (incoming !== undefined) return startVm(ctx, cfg, incoming, node);
  if (!ctx.warm) return ctx.queue.run(() => startVm(ctx, cfg, undefined, node));
  return warmStart(ctx, spec, node, cfg, (c) => templateOf(ctx, c));
}

/**
 * Loads the template of `cfg`'s shape (`templateFor`); when there is none (or it no longer loads), boots cold and
 * saves one, the machine running on.
 */
async function warmStart(
  ctx: QemuXenContext,
  spec: EnvironmentSpec,
  node: VmNode,
  cfg: VmConfig,
  templateFor: (cfg: VmConfig) => string,
): Promise<XenVm> {
  const template = templateFor(cfg);
  const fromTemplate = async (): Promise<XenVm | undefined> => {
    if (!existsSync(template)) return undefined;
    try {
      const vm = await startVm(ctx, cfg, template, node);
      log.info('a machine started from its saved template', {
        environmentId: spec.id,
        node: node.name,
        template,
      });
      return vm;
    } catch (err) {
      // A template that no longer loads (QEMU upgraded in place, a torn file): boot cold and save a new one. One that
      // only loaded too slowly (a machine under heavy load) is kept for the next machine.
      log.info('a saved template did not load; booting cold', {
        environmentId: spec.id,
        template,
        err,
      });
      if (!(err instanceof XenlabError && err.code === 'QEMU_ERR_TIMEOUT')) rmSync(template, { force: true });
      return undefined;
    }
  };
  // Loads run in parallel; a cold boot holds its template's lock (across processes), so machines of one shape wait
  // for the first one's template instead of all booting cold, and machines of other shapes boot meanwhile.
  return (
    (await fromTemplate()) ??
    ctx.queue.runKeyed(basename(template), async () => {
      const made = await fromTemplate(); // another boot made it while this one waited
      if (made) return made;
      const vm = await startVm(ctx, cfg, undefined, node);
      // Named after the config it really booted with (auto mode may have fallen back from KVM to TCG).
      await vm.saveState(templateFor(vm.config), true);
      log.info('a machine was saved as a template', { environmentId: spec.id, node: node.name, template });
      return vm;
    })
  );
}

/** The template file of storage nodes of configuration `cfg` (booted with `template: true`). */
const storageTemplateOf = (ctx: QemuXenContext, image: StorageImage, cfg: VmConfig): string =>
  join(ctx.stateDir, 'templates', `storage-${image.key}-${stateKey(ctx, image.key, cfg, true)}.state`);

/** Where storage-up is in the storage image (sandbox/images/storage/node/up). */
export const STORAGE_UP = '/usr/local/lib/xenlab/storage-up';

/**
 * The arguments of storage-up (the kernel options of a cold boot without their `xenlab.` prefix) that give storage
 * node `name` its identity: its name, /etc/hosts, each NIC's MAC and address.
 */
export function storageIdentityArgs(name: string, layout: NodeLayout): string[] {
  return [
    `hostname=${name}`,
    ...layout.nics.flatMap((n, j) => {
      const suffix = j === 0 ? '' : String(j);
      return [`mac${suffix}=${n.mac}`, `ip${suffix}=${n.address}`];
    }),
    ...layout.hosts.filter((h) => h.name !== name).map((h) => `host=${h.name}@${h.address}`),
  ];
}

/**
 * Brings up a storage node: from `incoming` when given; a fresh one (blank data disks) from its shape's template
 * (booted with `xenlab.template=1`, saved after the first cold boot), then given its identity through the agent
 * (storage-up: name, addresses, the `state` disk, what /init does after the network); any other (powered on again
 * after a fault, `warm: false`) boots cold with its identity on the kernel command line and its disks as they are.
 */
export async function bootStorageNode(
  ctx: QemuXenContext,
  spec: EnvironmentSpec,
  node: VmNode,
  runDir: string,
  image: StorageImage,
  incoming: string | undefined,
): Promise<XenVm> {
  if (incoming !== undefined || !ctx.warm || !node.disksBlank) {
    const boot: VmBoot = {
      kind: 'storage',
      image,
      hostname: node.name,
      addresses: node.layout.nics.map((n) => n.address),
      hosts: node.layout.hosts.filter((h) => h.name !== node.name),
    };
    return startVm(ctx, nodeConfig(ctx, node, runDir, boot), incoming, node);
  }
  const cfg = nodeConfig(ctx, node, runDir, {
    kind: 'storage',
    image,
    hostname: 'storage',
    addresses: [],
    hosts: [],
    template: true,
  });
  const vm = await warmStart(ctx, spec, node, cfg, (c) => storageTemplateOf(ctx, image, c));
  const r = await vm.agent?.exec([STORAGE_UP, ...storageIdentityArgs(node.name, node.layout)], {
    timeoutMs: 60_000,
  });
  if (r?.code !== 0) {
    await vm.stop();
    throw new XenlabError(
      'SANDBOX_ERR_NETWORK',
      `${node.name}: giving the storage node its identity failed: ${r?.stderr.trim() ?? 'no agent'}`,
    );
  }
  return vm;
}
