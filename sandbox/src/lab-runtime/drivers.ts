/**
 * The sandbox driver a lab names (`environment.driver`), from the one driver registry (`drivers/index.ts`) that
 * the gateway uses too. Loaded on demand, so proving a local lab never touches Docker or QEMU.
 * @module
 */
import { createDriverRegistry } from '../drivers/index.js';
import type { DriverRegistry, DriverRegistryOptions } from '../drivers/index.js';
import type { SandboxDriver } from '../drivers/types.js';
import { createLabLocalDriver } from './environment.js';

/**
 * A registry set up for labs outside the gateway (`xenlab lab test`): the local driver is the lab variant
 * (`createLabLocalDriver`: the toolkit read-only in the jail, `xe` and `xenlab-tools` on PATH).
 */
export function createLabDriverRegistry(options: DriverRegistryOptions = {}): DriverRegistry {
  return createDriverRegistry({ local: () => createLabLocalDriver({ jail: 'auto' }), ...options });
}

let shared: DriverRegistry | undefined;

/**
 * Creates (once per process, then shares) the driver a lab asks for; rejects with a `DriverUnavailableError`
 * saying why and what to do when it cannot run on this machine (no Docker, no QEMU, no image).
 * @example
 * const driver = await createDriverForLab(lab.manifest.environment.driver);
 */
export function createDriverForLab(name: string): Promise<SandboxDriver> {
  shared ??= createLabDriverRegistry();
  return shared.get(name);
}
