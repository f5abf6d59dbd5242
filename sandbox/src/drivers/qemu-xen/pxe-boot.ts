/**
 * Powering on a `pxe` node: QEMU PXE-boots it from a staged copy of the TFTP folder the learner's
 * `~/pxe/dnsmasq.conf` names. A configuration that failed is not booted again until it changes.
 * @module
 */
import { join } from 'node:path';
import { JAIL_HOME } from '../local/index.js';
import type { EnvironmentSpec } from '../types.js';
import { startVm } from './boot.js';
import { vmConfig, type QemuXenContext } from './context.js';
import type { VmNode } from './node.js';
import { PXE_CONFIG, pxeStamp, readPxeConfig, stageTftpRoot } from './pxe.js';
import type { XenVm } from './vm.js';
import { XenlabError } from '../../errors/index.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/qemu-xen');

/** Boots a pxe node from the learner's configuration (or loads its saved state, `incoming`). */
export async function bootPxeNode(
  ctx: QemuXenContext,
  spec: EnvironmentSpec,
  node: VmNode,
  runDir: string,
  incoming: string | undefined,
): Promise<XenVm> {
  const pxe = readPxeConfig(spec.home, JAIL_HOME);
  // Checks run every few seconds and power the host on; a configuration that did not boot is not tried
  // again until it changes (or the learner presses Enter on the host's console), or every poll would
  // start another doomed boot of minutes.
  const stamp = pxeStamp(spec.home, pxe.tftpRoot);
  const retry = node.retryRequested;
  node.retryRequested = false;
  if (incoming === undefined && !retry && node.failedBoot?.stamp === stamp) {
    throw new Error(`${node.failedBoot.message}\n(unchanged configuration: not booting it again)`);
  }
  try {
    // QEMU (root) serves a copy: a link in the learner's folder serves a file only from the Xen image.
    const served = join(runDir, 'tftp');
    const skipped = stageTftpRoot(pxe.tftpRoot, served, [ctx.image.dir]);
    if (skipped.some((f) => f === pxe.bootfile))
      throw new XenlabError(
        'SANDBOX_ERR_PXE_CONFIG',
        `~/${PXE_CONFIG}: dhcp-boot names ${pxe.bootfile}, which is a link to nothing, or to a file outside your home and $XENLAB_XEN_IMAGE`,
      );
    const vm = await startVm(
      ctx,
      vmConfig(ctx, runDir, { kind: 'pxe', tftpRoot: served, bootfile: pxe.bootfile }),
      incoming,
      node,
    );
    node.failedBoot = undefined;
    if (incoming === undefined)
      log.info('a PXE boot came up', { environmentId: spec.id, node: node.name, bootfile: pxe.bootfile });
    return vm;
  } catch (err) {
    const message = (err as Error).message;
    node.failedBoot = { stamp, message };
    log.info('a PXE boot failed', {
      environmentId: spec.id,
      node: node.name,
      bootfile: pxe.bootfile,
      reason: message.split('\n')[0],
    });
    throw err;
  }
}
