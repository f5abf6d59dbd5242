import type { CallOptions, HttpOptions } from './http-post.js';

export type { CallOptions, HttpOptions } from './http-post.js';

/**
 * How a call reaches XAPI. One implementation per file: `transport-xml-rpc.ts`, `transport-json-rpc.ts`,
 * `transport-auto.ts`. `call` takes wire-neutral arguments (see `wire-values.ts`), resolves to the reply's value
 * as decoded from the wire (no datamodel normalisation: XML-RPC ints are still strings here) and rejects with
 * `XapiError` for an API failure or `XapiClientError` for a transport failure.
 * @example
 * const t = createXmlRpcTransport(new URL('http://127.0.0.1:8080/'));
 * const session = await t.call('session.login_with_password', ['root', 'secret']);
 */
export interface Transport {
  /** `'xml-rpc'` or `'json-rpc'`; for `auto`, the protocol chosen so far (`'auto'` before the first call). */
  readonly kind: 'xml-rpc' | 'json-rpc' | 'auto';
  /** The server's base URL (where `HOST_IS_SLAVE` redirects are taken from). */
  readonly url: URL;
  call(method: string, params: readonly unknown[], options?: CallOptions): Promise<unknown>;
  /** Releases keep-alive sockets. */
  close(): void;
}

/**
 * Which wire protocol to speak.
 * @example
 * createClient({ url, user, password, transport: 'xml-rpc' satisfies TransportKind });
 */
export type TransportKind = 'auto' | 'json-rpc' | 'xml-rpc';

/**
 * Options shared by every transport factory.
 * @example
 * createJsonRpcTransport(new URL('https://xcp-host/'), { allowUnauthorized: true, timeoutMs: 10_000 });
 */
export type TransportOptions = HttpOptions;
