/**
 * Labs as code: the manifest schema, the loader with friendly errors, the JSON schema, scaffolding, lab
 * environments and the prover behind `xenlab lab test`.
 * @module
 */
export { LabManifest, defineLab } from './schema.js';
export type { Check, LabManifestInput, Task } from './schema.js';
export {
  LABS_DIR,
  LabError,
  LabErrorCode,
  listLabIds,
  loadAllLabs,
  loadLab,
  parseWithFriendlyErrors,
} from './loader.js';
export type { Lab, LabProblem } from './loader.js';
export { labJsonSchema, labJsonSchemaText } from './json-schema.js';
export { scaffoldLab } from './scaffold.js';
export {
  createLabEnvironment,
  createLabLocalDriver,
  LabEnvironmentError,
  TOOLKIT_DIR,
} from './environment.js';
export type { LabEnvironment, LabEnvironmentOptions } from './environment.js';
export { proveLab } from './prove.js';
export type { ProveResult } from './prove.js';
export { createLabProvisioner } from './provisioner.js';
export type { LabProvisioner, LabProvisionerOptions } from './provisioner.js';
export { createDriverForLab, createLabDriverRegistry } from './drivers.js';
