/**
 * @xenlab/toolkit: the typed XenAPI client and its datamodel. Subpath entries: `@xenlab/toolkit/xenapi`.
 * @module
 */
export * from './xenapi/index.js';
