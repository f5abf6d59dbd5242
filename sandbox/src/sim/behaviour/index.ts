/**
 * The simulator's behaviour modules: what XAPI does beyond storing records. Core merges their handlers (by wire
 * method name) over its generic implicit ones and calls every `afterChange` after generic setters and creates.
 * @module
 */
import type { SimBehaviour } from '../contract.js';
import { applianceBehaviour } from './appliance.js';
import { cloneBehaviour } from './clone.js';
import { failHost, haBehaviour, healPartition, installHaHooks, partitionHosts, recoverHost } from './ha.js';
import { hostBehaviour } from './host.js';
import { creditHandlers } from './credit-params.js';
import { metricsModel } from './metrics.js';
import { crossPoolMigrationBehaviour } from './migrate-cross-pool.js';
import { networkBehaviour, setLinkState } from './network.js';
import { pluginsBehaviour } from './plugins.js';
import { poolBehaviour } from './pool.js';
import { rbacBehaviour } from './rbac.js';
import { detachSr, setSrFailed, storageBehaviour } from './storage.js';
import { drBehaviour } from './dr.js';
import { vdiPoolMigrateBehaviour } from './vdi-pool-migrate.js';
import { vmBehaviour } from './vm.js';
import { vifIpConfigBehaviour } from './vif-ip-config.js';
import { listWorkloads, setHog, setWorkload } from './workload.js';

/** Every behaviour module, in the order core should merge them (later ones win on a name clash; there are none). */
export const behaviours: readonly SimBehaviour[] = [
  vmBehaviour,
  cloneBehaviour,
  storageBehaviour,
  networkBehaviour,
  hostBehaviour,
  haBehaviour,
  poolBehaviour,
  pluginsBehaviour,
  rbacBehaviour,
  applianceBehaviour,
  drBehaviour,
  crossPoolMigrationBehaviour,
  vdiPoolMigrateBehaviour,
  vifIpConfigBehaviour,
  {
    handlers: creditHandlers,
    metrics: metricsModel,
    faults: {
      failHost,
      recoverHost,
      // Beside SimFaults' one-target faults: the control API's fault/partition and fault/heal (control.ts).
      ...{ partitionHosts, healPartition },
      failSr: (ctx, sr) => {
        setSrFailed(ctx.store, sr, true);
      },
      recoverSr: (ctx, sr) => {
        setSrFailed(ctx.store, sr, false);
      },
      detachSr: (ctx, sr) => {
        detachSr(ctx.store, sr);
      },
      pifLinkDown: (ctx, pif) => {
        setLinkState(ctx, pif, false);
      },
      pifLinkUp: (ctx, pif) => {
        setLinkState(ctx, pif, true);
      },
      vmHog: (ctx, vm, kind, level) => {
        setHog(ctx, vm, kind, level);
      },
      vmWorkload: setWorkload,
      workloads: listWorkloads,
    },
  },
];

installHaHooks();

export { vmOperationError, vmAllowedOperations, allowedPowerStates } from './vm-lifecycle.js';
export { chooseHost, hostFreeMemory, bootHereError } from './placement.js';
