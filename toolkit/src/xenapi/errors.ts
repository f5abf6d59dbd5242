import { ERRORS } from './generated/errors.js';

/**
 * An error XAPI returned (`Status: Failure` over XML-RPC, `error` over JSON-RPC, or a failed task's `error_info`).
 * `code` and `params` are passed through unchanged; `named` maps the datamodel's parameter names
 * (ocaml/idl/datamodel_errors.ml, spelled exactly as there, e.g. `vm`, `expected`, `actual` or `Master IP address`)
 * to the values.
 * @example
 * try {
 *   await client.call('VM.start', vm, false, false);
 * } catch (err) {
 *   if (err instanceof XapiError && err.code === 'VM_BAD_POWER_STATE') console.log(err.named.actual); // 'running'
 * }
 */
export class XapiError extends Error {
  readonly code: string;
  readonly params: readonly string[];
  readonly named: Readonly<Record<string, string>>;
  /** The method whose call failed, when known. */
  readonly method: string | undefined;

  constructor(code: string, params: readonly string[] = [], method?: string) {
    const spec = ERRORS[code];
    const names = spec?.params ?? [];
    const named: Record<string, string> = {};
    names.forEach((name, i) => {
      const value = params[i];
      if (value !== undefined) named[name] = value;
    });
    const where = method ? ` (${method})` : '';
    super(
      `${code}${params.length ? ` [${params.join(', ')}]` : ''}${where}${spec?.doc ? `: ${spec.doc}` : ''}`,
    );
    this.name = 'XapiError';
    this.code = code;
    this.params = [...params];
    this.named = named;
    this.method = method;
  }

  /** Builds an XapiError from XAPI's `[CODE, param, …]` list (ErrorDescription, JSON-RPC v1 error, task error_info). */
  static fromDescription(description: unknown, method?: string): XapiError {
    const list = Array.isArray(description) ? description.map((x) => stringify(x)) : [stringify(description)];
    const [code = 'INTERNAL_ERROR', ...params] = list;
    return new XapiError(code, params, method);
  }
}

function stringify(x: unknown): string {
  if (typeof x === 'string') return x;
  if (x === null || x === undefined) return '';
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') return String(x);
  return JSON.stringify(x);
}

/**
 * Stable codes of the client's own (non-XAPI) errors:
 * - `XENAPI_ERR_HTTP` — the server answered with an HTTP status other than 200 (e.g. 500 on a malformed body);
 * - `XENAPI_ERR_BAD_RESPONSE` — the body is not a XAPI reply (not XML-RPC / JSON-RPC, or no Status/result);
 * - `XENAPI_ERR_CONNECTION` — the connection failed (refused, reset, DNS, TLS — e.g. a self-signed certificate
 *   without `allowUnauthorized: true`);
 * - `XENAPI_ERR_TIMEOUT` — no complete reply within `timeoutMs`;
 * - `XENAPI_ERR_ABORTED` — the call was cancelled (e.g. an event watcher was stopped);
 * - `XENAPI_ERR_BAD_ARGUMENT` — the client was given unusable options or arguments;
 * - `XENAPI_ERR_TOO_MANY_REDIRECTS` — HOST_IS_SLAVE redirects did not end at a coordinator.
 * @example
 * if (err instanceof XapiClientError && err.code === ClientErrorCode.CONNECTION) console.error('host unreachable');
 */
export const ClientErrorCode = {
  HTTP: 'XENAPI_ERR_HTTP',
  BAD_RESPONSE: 'XENAPI_ERR_BAD_RESPONSE',
  CONNECTION: 'XENAPI_ERR_CONNECTION',
  TIMEOUT: 'XENAPI_ERR_TIMEOUT',
  ABORTED: 'XENAPI_ERR_ABORTED',
  BAD_ARGUMENT: 'XENAPI_ERR_BAD_ARGUMENT',
  TOO_MANY_REDIRECTS: 'XENAPI_ERR_TOO_MANY_REDIRECTS',
} as const;
/** One of {@link ClientErrorCode}. */
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/**
 * A failure of the client or the transport itself (not an API error): see {@link ClientErrorCode}.
 * @example
 * catch (err) { if (err instanceof XapiClientError && err.code === 'XENAPI_ERR_TIMEOUT') retryLater(); }
 */
export class XapiClientError extends Error {
  readonly code: ClientErrorCode;
  /** HTTP status for `XENAPI_ERR_HTTP`. */
  readonly status: number | undefined;

  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'XapiClientError';
    this.code = code;
    this.status = options?.status;
  }
}
