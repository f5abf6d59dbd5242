/**
 * Machine faults of qemu-xen labs (`machine-power-off`/`-on`, `link-down`/`-up`, `disk-errors`/`disk-ok`): played
 * by the environment's sandbox (the driver pulls the plug, drops a NIC's link, makes a data disk fail), while every
 * other kind still goes to the simulator. The fault player (faults.ts) needs nothing else: buttons, timers, task
 * triggers and the record work the same.
 * @module
 */
import type { MachineFault, Sandbox } from '../drivers/types.js';
import { XenlabError } from '../errors/index.js';
import { MACHINE_FAULT_KINDS, type Fault } from '../labs/schema.js';
import { FaultError, type FaultApplier } from './faults.js';

/** Whether fault `f` plays on a machine (the driver) rather than in the simulator. */
export const isMachineFault = (f: Fault): f is Fault & MachineFault =>
  (MACHINE_FAULT_KINDS as readonly string[]).includes(f.kind);

/**
 * An applier that sends machine faults to the sandbox (`sandbox()`: the environment's, once it exists) and the rest
 * to `simulator`. Rejects with a {@link FaultError}: `LAB_ERR_FAULT_UNSUPPORTED` when the sandbox's driver has no
 * machines, `LAB_ERR_FAULT` (with the driver's message) when the fault cannot be played.
 * @example
 * const apply = machineFaultApplier(simFaultApplier(sim, client), () => sandbox);
 */
export function machineFaultApplier(
  simulator: FaultApplier,
  sandbox: () => Sandbox | undefined,
): FaultApplier {
  return async (f) => {
    if (!isMachineFault(f)) return simulator(f);
    const box = sandbox();
    if (!box?.machineFault)
      throw new FaultError(
        'LAB_ERR_FAULT_UNSUPPORTED',
        `"${f.kind}" plays on the machines of a qemu-xen environment; this environment has none`,
      );
    try {
      await box.machineFault({ kind: f.kind, target: f.target });
    } catch (e) {
      const code = e instanceof XenlabError ? ` (${e.code})` : '';
      throw new FaultError('LAB_ERR_FAULT', `${f.kind} ${f.target}: ${(e as Error).message}${code}`);
    }
  };
}
