/**
 * Warm starts of `xen` nodes: the first cold boot's machine is saved as a template, and later nodes load it
 * (seconds) instead of booting (a minute or two under TCG). A template loads only into the same QEMU, machine and
 * image, so its name hashes all three.
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { EnvironmentSpec } from '../types.js';
import { startVm } from './boot.js';
import { vmConfig, type QemuXenContext } from './context.js';
import { nodeConfig, type VmNode } from './node.js';
import { qemuArgs, type VmConfig, type XenVm } from './vm.js';
import { XenlabError } from '../../errors/index.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/qemu-xen');

/**
 * A saved state loads only into the same QEMU, machine and image: the template's name hashes all three. Machines of
 * one shape (RAM, NIC count, disk sizes) share a template: their taps, MACs, disk files and disk names are not part
 * of it (the guest gets its MACs and addresses after the load, see node.ts).
 */
const stateKey = (ctx: QemuXenContext, cfg: VmConfig): string => {
  const shape: VmConfig = {
    ...cfg,
    runDir: '/',
    ...(cfg.nics
      ? { nics: cfg.nics.map((_n, j) => ({ id: `nic${String(j)}`, tap: `t${String(j)}`, mac: '' })) }
      : {}),
    ...(cfg.disks
      ? {
          disks: cfg.disks.map((d, k) => ({
            name: `d${String(k)}`,
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
        ctx.image.key,
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
  join(ctx.stateDir, 'templates', `${ctx.image.key}-${stateKey(ctx, cfg)}.state`);

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
  const template = templateOf(ctx, cfg);
  const fromTemplate = async (): Promise<XenVm | undefined> => {
    if (!existsSync(template)) return undefined;
    try {
      return await startVm(ctx, cfg, template, node);
    } catch (err) {
      // A template that no longer loads (QEMU upgraded in place, a torn file): boot cold and save a new one. One that
      // only loaded too slowly (a machine under heavy load) is kept for the next machine.
      log.info('a saved Xen template did not load; booting cold', {
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
      await vm.saveState(templateOf(ctx, vm.config), true);
      return vm;
    })
  );
}
