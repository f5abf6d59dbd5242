/**
 * The typed XenAPI: generated datamodel tables and types, refs, the client (`createClient`), its transports and codec.
 * @module
 */
export { CLASSES, ENUMS } from './generated/datamodel.js';
export { ERRORS, type XapiErrorCode } from './generated/errors.js';
export type * from './generated/types.js';
export type { ClassSpec, DatamodelTable, FieldSpec, MessageSpec } from './datamodel-types.js';
export { OPAQUE_REF_NULL, type Ref, type XapiEvent, type EventBatch } from './types-base.js';
export {
  createClient,
  type ClientOptions,
  type MethodArgs,
  type MethodName,
  type MethodResult,
  type XapiClient,
} from './client.js';
export { ClientErrorCode, XapiClientError, XapiError } from './errors.js';
export type { EventWatcher, WatchOptions } from './event-watcher.js';
export type { CallOptions, Transport, TransportKind, TransportOptions } from './transport.js';
export { createAutoTransport } from './transport-auto.js';
export { createJsonRpcTransport } from './transport-json-rpc.js';
export { createXmlRpcTransport } from './transport-xml-rpc.js';
export { decodeValue, encodeValue, findMessage, parseType, type TypeNode } from './normalise.js';
export { XapiDouble, formatXapiDate, parseXapiDate } from './wire-values.js';
export { decodeXmlRpcValue, encodeMethodCall, decodeMethodResponse } from './xmlrpc-codec.js';
