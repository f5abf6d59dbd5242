/**
 * Running labs: a learner's lab environment (simulator with the lab's scenario, sandbox on the driver the lab
 * names, parameters, setup, grader), the provisioner the gateway's environment manager calls, and the lab drivers.
 * Arrows point one way: lab-runtime uses labs (manifests), grading, sessions, drivers and sim; none of them use it.
 * @module
 */
export {
  createLabEnvironment,
  createLabLocalDriver,
  LabEnvironmentError,
  TOOLKIT_DIR,
} from './environment.js';
export type { LabEnvironment, LabEnvironmentOptions } from './environment.js';
export { createLabProvisioner } from './provisioner.js';
export type { LabProvisioner, LabProvisionerOptions } from './provisioner.js';
export { createDriverForLab, createLabDriverRegistry } from './drivers.js';
export { proveLab } from './prove.js';
export type { ProveResult } from './prove.js';
