import { ClientErrorCode, XapiClientError, XapiError } from './errors.js';
import { HttpPoster, snippet, type HttpReply } from './http-post.js';
import type { CallOptions, Transport, TransportOptions } from './transport.js';
import { decodeMethodResponse, encodeMethodCall } from './xmlrpc-codec.js';

/** Decodes an XML-RPC reply: always HTTP 200 + `{Status: Success, Value}` or `{Status: Failure, ErrorDescription}`. */
export async function parseXmlRpcReply(reply: HttpReply, method: string): Promise<unknown> {
  if (reply.status !== 200) {
    throw new XapiClientError(
      ClientErrorCode.HTTP,
      `HTTP ${reply.status} from XML-RPC call ${method}: ${snippet(reply.body)}`,
      { status: reply.status },
    );
  }
  let value: unknown;
  try {
    value = await decodeMethodResponse(reply.body);
  } catch (err) {
    throw new XapiClientError(
      ClientErrorCode.BAD_RESPONSE,
      `Reply to ${method} is not XML-RPC (${err instanceof Error ? err.message : String(err)}): ${snippet(reply.body)}`,
      { cause: err },
    );
  }
  if (value !== null && typeof value === 'object' && 'Status' in value) {
    const v = value as { Status: unknown; Value?: unknown; ErrorDescription?: unknown };
    if (v.Status === 'Success') return v.Value;
    if (v.Status === 'Failure') throw XapiError.fromDescription(v.ErrorDescription, method);
  }
  // XAPI answers system.listMethods with the bare array, no Status struct (ocaml/xapi/api_server.ml `callback`).
  if (method === 'system.listMethods' && Array.isArray(value)) return value;
  throw new XapiClientError(
    ClientErrorCode.BAD_RESPONSE,
    `Reply to ${method} has no XAPI Status: ${snippet(reply.body)}`,
  );
}

/**
 * XML-RPC over HTTP(S) `POST` to the URL's path (`/` by default), the protocol every XAPI version speaks.
 * @example
 * const t = createXmlRpcTransport(new URL('https://xcp-host/'), { allowUnauthorized: true });
 */
export function createXmlRpcTransport(
  url: URL,
  options: TransportOptions = {},
  poster?: HttpPoster,
): Transport {
  const http = poster ?? new HttpPoster(options);
  const endpoint = new URL(url.pathname === '' ? '/' : url.pathname, url);
  return {
    kind: 'xml-rpc',
    url,
    async call(method: string, params: readonly unknown[], callOptions?: CallOptions) {
      const reply = await http.post(endpoint, 'text/xml', encodeMethodCall(method, params), callOptions);
      return parseXmlRpcReply(reply, method);
    },
    close() {
      http.close();
    },
  };
}
