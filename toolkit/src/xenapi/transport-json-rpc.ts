import { ClientErrorCode, XapiClientError, XapiError } from './errors.js';
import { HttpPoster, snippet, type HttpReply } from './http-post.js';
import type { CallOptions, Transport, TransportOptions } from './transport.js';
import { XapiDouble, formatXapiDate } from './wire-values.js';

/** JSON has one number type: doubles and ints both become numbers; dates travel in XAPI's string form. */
function toJsonValue(value: unknown): unknown {
  if (value instanceof XapiDouble) return value.value;
  if (value instanceof Date) return formatXapiDate(value);
  if (typeof value === 'bigint') {
    // Past 2^53 a JSON number would be rounded by JS; XAPI's int64_of_rpc also takes a digit string.
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  }
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJsonValue(v);
    return out;
  }
  return value === undefined ? null : value;
}

/** Encodes a JSON-RPC 2.0 request (XAPI `POST /jsonrpc`, ocaml/xapi/api_server.ml `jsoncallback`). */
export function encodeJsonRpcCall(method: string, params: readonly unknown[], id: number): string {
  return JSON.stringify({ jsonrpc: '2.0', method, params: toJsonValue(params), id });
}

/** True when a reply is JSON (what `auto` uses to choose JSON-RPC, like npm xen-api). */
export function isJsonReply(reply: HttpReply): boolean {
  return /^application\/json\b/i.test(reply.contentType);
}

/**
 * JSON as xapi writes it: Yojson prints non-finite floats as bare `NaN`, `Infinity` and `-Infinity` (e.g. the
 * `max` of a data source), which `JSON.parse` rejects. They are read as the numbers they mean; inside strings
 * nothing is touched.
 * @example
 * parseXapiJson('{"max":Infinity}') // { max: Infinity }
 */
export function parseXapiJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const marker = '@@xenlab-nonfinite:';
    const marked = text.replace(/"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)/g, (m, bare: string | undefined) =>
      bare === undefined ? m : `"${marker}${bare}"`,
    );
    if (marked === text) throw err;
    return JSON.parse(marked, (_k, v: unknown) =>
      typeof v === 'string' && v.startsWith(marker) ? Number(v.slice(marker.length)) : v,
    );
  }
}

/** Decodes a JSON-RPC reply, v2 (`error: {code, message: CODE, data: [params]}`) or v1 (`error: [CODE, …]`). */
export function parseJsonRpcReply(reply: HttpReply, method: string): unknown {
  if (reply.status !== 200) {
    throw new XapiClientError(
      ClientErrorCode.HTTP,
      `HTTP ${reply.status} from JSON-RPC call ${method}: ${snippet(reply.body)}`,
      { status: reply.status },
    );
  }
  let parsed: unknown;
  try {
    parsed = parseXapiJson(reply.body.toString('utf8'));
  } catch (err) {
    throw new XapiClientError(
      ClientErrorCode.BAD_RESPONSE,
      `Reply to ${method} is not JSON: ${snippet(reply.body)}`,
      {
        cause: err,
      },
    );
  }
  if (parsed === null || typeof parsed !== 'object') {
    throw new XapiClientError(
      ClientErrorCode.BAD_RESPONSE,
      `Reply to ${method} is not a JSON-RPC object: ${snippet(reply.body)}`,
    );
  }
  const obj = parsed as { result?: unknown; error?: unknown };
  if (obj.error !== undefined && obj.error !== null) {
    const e = obj.error;
    if (Array.isArray(e)) throw XapiError.fromDescription(e, method);
    if (typeof e === 'object') {
      const { message, data } = e as { message?: unknown; data?: unknown };
      const params: unknown[] = Array.isArray(data)
        ? (data as unknown[])
        : data === undefined || data === null
          ? []
          : [data];
      throw XapiError.fromDescription([message, ...params], method);
    }
    throw XapiError.fromDescription([e], method);
  }
  if (!('result' in obj)) {
    throw new XapiClientError(
      ClientErrorCode.BAD_RESPONSE,
      `Reply to ${method} has neither result nor error: ${snippet(reply.body)}`,
    );
  }
  return obj.result;
}

/**
 * JSON-RPC 2.0 over HTTP(S) `POST /jsonrpc` (XAPI ≥ 1.x of XenServer 7.3 era; numbers and booleans arrive typed).
 * @example
 * const t = createJsonRpcTransport(new URL('https://xcp-host/'), { allowUnauthorized: true });
 */
export function createJsonRpcTransport(
  url: URL,
  options: TransportOptions = {},
  poster?: HttpPoster,
): Transport {
  const http = poster ?? new HttpPoster(options);
  const endpoint = new URL('/jsonrpc', url);
  let nextId = 1;
  return {
    kind: 'json-rpc',
    url,
    async call(method: string, params: readonly unknown[], callOptions?: CallOptions) {
      const body = encodeJsonRpcCall(method, params, nextId++);
      const reply = await http.post(endpoint, 'application/json', body, callOptions);
      return parseJsonRpcReply(reply, method);
    },
    close() {
      http.close();
    },
  };
}
