/**
 * Labs as code: the manifest schema, the loader with friendly errors, the JSON schema, scaffolding, per-learner
 * parameters. Running a lab (environment, provisioner, drivers, the prover behind `xenlab lab test`) lives in
 * ../lab-runtime.
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
export { deriveParams, paramEnv, placeholders, render, renderDeep } from './params.js';
export type { Params } from './params.js';
export { UNTIL_STOPPED, isShellBlock, solutionBlocks } from './solution-blocks.js';
export type { SolutionBlock } from './solution-blocks.js';
