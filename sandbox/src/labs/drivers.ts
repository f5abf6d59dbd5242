/**
 * The sandbox driver a lab names (`environment.driver`), set up for labs. Loaded on demand, so proving a
 * local lab never touches Docker or QEMU.
 * @module
 */
import type { SandboxDriver } from '../drivers/types.js';
import { createLabLocalDriver } from './environment.js';

/**
 * Creates the driver a lab asks for; rejects when it cannot run on this machine (no Docker, no QEMU).
 * @example
 * const driver = await createDriverForLab(lab.manifest.environment.driver);
 */
export async function createDriverForLab(name: string): Promise<SandboxDriver> {
  switch (name) {
    case 'local':
      return createLabLocalDriver({ jail: 'auto' });
    case 'docker': {
      const { createDockerDriver } = await import('../drivers/docker/index.js');
      return createDockerDriver();
    }
    case 'qemu-xen': {
      const { createQemuXenDriver } = await import('../drivers/qemu-xen/index.js');
      return createQemuXenDriver();
    }
    default:
      throw new Error(`LAB_ERR_NO_DRIVER: no sandbox driver named ${name} in this build`);
  }
}
