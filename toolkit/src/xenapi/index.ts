/**
 * The typed XenAPI: generated datamodel tables and types, refs, and (as it lands) the client.
 * @module
 */
export { CLASSES, ENUMS } from './generated/datamodel.js';
export { ERRORS, type XapiErrorCode } from './generated/errors.js';
export type * from './generated/types.js';
export type { ClassSpec, DatamodelTable, FieldSpec, MessageSpec } from './datamodel-types.js';
export { OPAQUE_REF_NULL, type Ref, type XapiEvent, type EventBatch } from './types-base.js';
