import { HttpPoster } from './http-post.js';
import type { CallOptions, Transport, TransportOptions } from './transport.js';
import {
  createJsonRpcTransport,
  encodeJsonRpcCall,
  isJsonReply,
  parseJsonRpcReply,
} from './transport-json-rpc.js';
import { createXmlRpcTransport } from './transport-xml-rpc.js';

/**
 * Tries JSON-RPC (`POST /jsonrpc`) on the first call and keeps it when the reply is `application/json`; otherwise
 * (an old host without /jsonrpc answers with something else) falls back to XML-RPC for good and repeats the call.
 * This is npm xen-api's `auto` (vatesfr/xen-orchestra packages/xen-api, transports/auto.mjs).
 * @example
 * const t = createAutoTransport(new URL('http://127.0.0.1:8080/'));
 * await t.call('session.login_with_password', ['root', 'secret']);
 * t.kind; // 'json-rpc' on any current XAPI
 */
export function createAutoTransport(url: URL, options: TransportOptions = {}): Transport {
  const http = new HttpPoster(options);
  const endpoint = new URL('/jsonrpc', url);
  let chosen: Transport | undefined;
  let nextId = 1;
  const transport: Transport = {
    get kind() {
      return chosen?.kind ?? 'auto';
    },
    url,
    async call(method: string, params: readonly unknown[], callOptions?: CallOptions) {
      if (chosen) return chosen.call(method, params, callOptions);
      const reply = await http.post(
        endpoint,
        'application/json',
        encodeJsonRpcCall(method, params, nextId++),
        callOptions,
      );
      if (isJsonReply(reply)) {
        chosen ??= createJsonRpcTransport(url, options, http);
        return parseJsonRpcReply(reply, method);
      }
      chosen ??= createXmlRpcTransport(url, options, http);
      return chosen.call(method, params, callOptions);
    },
    close() {
      http.close();
    },
  };
  return transport;
}
