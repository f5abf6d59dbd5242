/**
 * Learners' environments: durable, shared by a learner's tabs, surviving dropped connections and restarts.
 * @module
 */
export {
  EnvironmentManager,
  poolStateOf,
  provisionPlayground,
  type EnvironmentManagerOptions,
  type EnvironmentNotice,
  type LiveEnvironment,
  type Provisioned,
  type Provisioner,
  type XapiEndpoint,
} from './environments.js';
export { SharedTerminal, SCROLLBACK_BYTES, type Viewer } from './shared-terminal.js';
export { FlowControl } from './flow.js';
