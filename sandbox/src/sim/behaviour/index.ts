/**
 * The simulator's behaviour modules: what XAPI does beyond storing records. Core merges their handlers (by wire
 * method name) over its generic implicit ones and calls every `afterChange` after generic setters and creates.
 * @module
 */
import type { SimBehaviour } from '../contract.js';
import { cloneBehaviour } from './clone.js';
import { hostBehaviour } from './host.js';
import { metricsModel } from './metrics.js';
import { networkBehaviour } from './network.js';
import { storageBehaviour } from './storage.js';
import { vmBehaviour } from './vm.js';

/** Every behaviour module, in the order core should merge them (later ones win on a name clash; there are none). */
export const behaviours: readonly SimBehaviour[] = [
  vmBehaviour,
  cloneBehaviour,
  storageBehaviour,
  networkBehaviour,
  hostBehaviour,
  { handlers: {}, metrics: metricsModel },
];

export { vmOperationError, vmAllowedOperations, allowedPowerStates } from './vm-lifecycle.js';
export { chooseHost, hostFreeMemory, bootHereError } from './placement.js';
