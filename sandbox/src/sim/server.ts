/**
 * The HTTP face of the simulator, laid out like xapi's (ocaml/xapi/xapi.ml `common_http_handlers`): XML-RPC on `/`,
 * `/RPC2` and any unmatched POST path (xapi matches handlers by longest prefix), JSON-RPC v1/v2 on `/jsonrpc`, metrics
 * on `/rrd_updates`, `/host_rrd`, `/vm_rrd`, import/export (`/export`, `/import`, `/export_raw_vdi`… in transfer/),
 * CORS preflight, and our own control API under `/_xenlab/`. Plain HTTP, or HTTPS given a key and certificate.
 * Hardening (perf-security.md §E): body cap before parsing, body and header time limits, XML depth/entity limits
 * in xml.ts, Maps for struct members, and no input can throw past a handler.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Server as TlsServer } from 'node:https';
import { XapiFailure } from './contract.js';
import { jsonOf, jsonToLoose, parseXmlRpcCall, xmlOf } from './codec.js';
import type { Loose } from './codec.js';
import type { CallResult, Engine } from './engine.js';
import { XmlParseError, escapeXml } from './xml.js';

/** Body size cap (xapi's own limit for XML-RPC bodies is larger; 1 MiB is plenty for any API call). */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Time allowed to receive a whole request body (slow-drip defence). */
export const BODY_TIMEOUT_MS = 10_000;

/** Extra routes mounted beside the XenAPI (metrics, control API). Return true when handled. */
export type ExtraRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

/** Request limits (defaults: {@link MAX_BODY_BYTES}, {@link BODY_TIMEOUT_MS}). */
export interface ServerLimits {
  readonly maxBodyBytes?: number;
  readonly bodyTimeoutMs?: number;
  /**
   * Host header names accepted besides IP literals. When undefined and the server listens on loopback, only
   * `localhost` is accepted, so DNS rebinding cannot turn a web page into a client of a learner's simulator.
   */
  readonly allowedHosts?: readonly string[];
  /** Concurrent connections (default 512); more are refused. */
  readonly maxConnections?: number;
  /** Set by startSimulator: whether the listening address is loopback. */
  readonly loopback?: boolean;
}

/** What the server calls around XenAPI calls. */
export interface ServerHooks {
  /**
   * Called after every XenAPI call, before its answer is sent: makes the call's changes durable (synchronous; a
   * throw turns the answer into `INTERNAL_ERROR`, since the change could not be saved).
   */
  readonly beforeAnswer?: () => void;
}

/** DNS-rebinding defence: on loopback, the Host header must be an IP literal or an allowed name. */
function hostAllowed(req: IncomingMessage, limits: ServerLimits): boolean {
  if (!limits.loopback && limits.allowedHosts === undefined) return true;
  const raw = req.headers.host;
  if (raw === undefined) return true; // HTTP/1.0 clients send none; a browser always does
  const name = raw.startsWith('[') ? raw.slice(1, raw.indexOf(']')) : raw.replace(/:\d+$/, '');
  if (/^[\d.]+$/.test(name) || name.includes(':')) return true;
  return (limits.allowedHosts ?? ['localhost']).includes(name.toLowerCase());
}

/** A PEM key and certificate: the server then speaks HTTPS (a host's port 443). */
export interface ServerTls {
  readonly key: string;
  readonly cert: string;
}

/** Creates the HTTP (or, given `tls`, HTTPS) server for an engine. */
export function createApiServer(
  engine: Engine,
  extra: readonly ExtraRoute[],
  limits: ServerLimits = {},
  hooks: ServerHooks = {},
  tls?: ServerTls,
): Server | TlsServer {
  // No whole-request deadline (imports may take minutes): every body reader keeps its own (readBody's, and the
  // transfer endpoints' idle deadline); headers still have 10 s.
  const options = { requestTimeout: 0, headersTimeout: 10_000, keepAliveTimeout: 30_000 };
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(engine, extra, limits, hooks, req, res).catch((e: unknown) => {
      // Last line of defence: nothing a client sends may crash the process.
      if (!res.headersSent) internalError(res, e instanceof Error ? e.message : String(e));
      else res.destroy();
    });
  };
  const server = tls
    ? createTlsServer({ ...options, key: tls.key, cert: tls.cert }, listener)
    : createServer(options, listener);
  // Bound file descriptors per simulator (200 of them may share a box); real clients use a handful each.
  server.maxConnections = limits.maxConnections ?? 512;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

async function handle(
  engine: Engine,
  extra: readonly ExtraRoute[],
  limits: ServerLimits,
  hooks: ServerHooks,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (!hostAllowed(req, limits)) {
    res.writeHead(403, { 'content-type': 'text/plain', connection: 'close' });
    res.end('forbidden host\n');
    return;
  }
  const url = new URL(req.url ?? '/', 'http://sim.invalid');
  for (const route of extra) if (await route(req, res, url)) return;
  const path = url.pathname;
  if (req.method === 'OPTIONS') {
    // Real xapi grants `Access-Control-Allow-Origin: *` here; we deliberately do not (perf-security.md §E): any web
    // page could otherwise drive a learner's simulator with the well-known default password.
    res.writeHead(204, { allow: 'GET, POST, OPTIONS' });
    res.end();
    return;
  }
  if (req.method === 'GET' && (path === '/' || path === '/RPC2')) {
    const body =
      '<html><head><title>XenServer</title></head><body>This is a xenlab XenAPI simulator.</body></html>';
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  if (req.method !== 'POST') {
    notFound(res);
    return;
  }
  const body = await readBody(req, res, limits.maxBodyBytes, limits.bodyTimeoutMs);
  if (body === undefined) return;
  if (path === '/jsonrpc') await jsonRpc(engine, body, res, hooks);
  else await xmlRpc(engine, body, res, hooks);
}

/** The call's result once its changes are saved (or `INTERNAL_ERROR` when they could not be). */
function saved(r: CallResult, hooks: ServerHooks): CallResult {
  if (!hooks.beforeAnswer) return r;
  try {
    hooks.beforeAnswer();
    return r;
  } catch (e) {
    return {
      ok: false,
      code: 'INTERNAL_ERROR',
      params: [`xenlab: the pool could not be saved: ${e instanceof Error ? e.message : String(e)}`],
    };
  }
}

/** Reads the body with a size cap and a deadline; answers 413/408 itself and returns undefined then. */
export function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  cap = MAX_BODY_BYTES,
  timeoutMs = BODY_TIMEOUT_MS,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > cap) {
      tooLarge(res, cap);
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (v: string | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(v);
    };
    const timer = setTimeout(() => {
      if (!res.headersSent) {
        res.writeHead(408, { connection: 'close', 'content-type': 'text/plain' });
        res.end('request body too slow\n');
      }
      req.destroy();
      finish(undefined);
    }, timeoutMs);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > cap) {
        tooLarge(res, cap);
        req.destroy();
        finish(undefined);
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      finish(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', () => {
      finish(undefined);
    });
    req.on('close', () => {
      finish(undefined);
    });
  });
}

function tooLarge(res: ServerResponse, cap: number): void {
  if (res.headersSent) return;
  res.writeHead(413, { connection: 'close', 'content-type': 'text/plain' });
  res.end(`request body larger than ${cap} bytes\n`);
}

function notFound(res: ServerResponse): void {
  const body =
    '<html><body><h1>HTTP 404 not found</h1>The requested resource could not be found.</body></html>';
  res.writeHead(404, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** xapi's answer to an unparseable request: HTTP 500 and an HTML page naming the exception (http_svr.ml). */
export function internalError(res: ServerResponse, detail: string): void {
  const body =
    '<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and try again. ' +
    'If the problem persists, please contact your support representative.<h1> Additional information </h1>' +
    `${escapeXml(detail)}</body></html>`;
  // Status line and headers as xapi's http_svr.ml sends them (doc/content/xen-api/wire-protocol.md "Errors").
  res.writeHead(500, 'Internal Error', {
    'content-type': 'text/html',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
    'cache-control': 'no-cache, no-store',
  });
  res.end(body);
}

const XML_HEAD = '<?xml version="1.0"?><methodResponse><params><param>';
const XML_TAIL = '</param></params></methodResponse>';

/** The XML-RPC response bytes for a call result (ocaml-rpc xmlrpc.ml `add_response`). */
export function xmlResponse(r: CallResult): string {
  if (r.ok)
    return `${XML_HEAD}<value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name>${xmlOf(r.type, r.value)}</member></struct></value>${XML_TAIL}`;
  let desc = '';
  for (const s of [r.code, ...r.params]) desc += `<value>${escapeXml(s)}</value>`;
  return `${XML_HEAD}<value><struct><member><name>Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value><array><data>${desc}</data></array></value></member></struct></value>${XML_TAIL}`;
}

async function xmlRpc(engine: Engine, body: string, res: ServerResponse, hooks: ServerHooks): Promise<void> {
  let call;
  try {
    call = parseXmlRpcCall(body);
  } catch (e) {
    internalError(
      res,
      e instanceof XmlParseError ? `Xmlrpc.Parse_error("${e.message}")` : 'Xmlrpc.Parse_error',
    );
    return;
  }
  const r = saved(await engine.call(call.method, call.params), hooks);
  // xapi answers system.listMethods with the bare array, no Status/Value struct (api_server.ml `callback`): Python's
  // xmlrpc ServerProxy, which XenAPI.py hands `session.system.*` to, expects a plain value there.
  const text =
    call.method === 'system.listMethods' && r.ok
      ? `${XML_HEAD}${xmlOf(r.type, r.value)}${XML_TAIL}`
      : xmlResponse(r);
  if (res.destroyed) return;
  res.writeHead(200, {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The JSON-RPC response text (ocaml-rpc jsonrpc.ml `json_of_response`; v2 errors as xapi's api_server.ml). */
export function jsonResponse(r: CallResult, version: 1 | 2, id: string): string {
  if (version === 2)
    return r.ok
      ? `{"jsonrpc":"2.0","result":${jsonOf(r.type, r.value)},"id":${id}}`
      : `{"jsonrpc":"2.0","error":{"code":1,"message":${JSON.stringify(r.code)},"data":${JSON.stringify(r.params)}},"id":${id}}`;
  return r.ok
    ? `{"result":${jsonOf(r.type, r.value)},"error":null,"id":${id}}`
    : `{"result":null,"error":${JSON.stringify([r.code, ...r.params])},"id":${id}}`;
}

async function jsonRpc(engine: Engine, body: string, res: ServerResponse, hooks: ServerHooks): Promise<void> {
  let method: string;
  let params: readonly Loose[];
  let version: 1 | 2;
  let id: string;
  try {
    const parsed = jsonToLoose(JSON.parse(body));
    if (!(parsed instanceof Map)) throw new Error('Invalid request body');
    const req = parsed as ReadonlyMap<string, Loose>;
    const m = req.get('method');
    if (typeof m !== 'string') throw new Error("Invalid field 'method' in request body");
    method = m;
    const jv = req.get('jsonrpc');
    if (jv !== undefined && jv !== '2.0') throw new Error("Invalid field 'jsonrpc' in request body");
    version = jv === '2.0' ? 2 : 1;
    const p = req.get('params');
    if (Array.isArray(p)) params = p as readonly Loose[];
    else if (version === 2 && p instanceof Map)
      params = [p]; // rpclib: a v2 object is one Dict argument
    // A v2 call without params is a 500 Malformed_method_request in xapi (wire-protocol.md "Errors").
    else throw new Error("Invalid field 'params' in request body");
    const rawId = req.get('id');
    // Notifications (no id) are rejected (jsonrpc.ml version_id_and_call_of_string).
    if (typeof rawId === 'number' && Number.isInteger(rawId)) id = String(rawId);
    else if (typeof rawId === 'string') id = JSON.stringify(rawId);
    else throw new Error("Invalid field 'id' in request body");
  } catch (e) {
    internalError(res, `Jsonrpc.Malformed_method_request("${e instanceof Error ? e.message : String(e)}")`);
    return;
  }
  const r = saved(await engine.call(method, params), hooks);
  const text = jsonResponse(r, version, id);
  if (res.destroyed) return;
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Authenticates a non-RPC request (metrics) as xapi does: `session_id` query parameter, or HTTP basic auth.
 * Answers 401 itself and returns false when neither works.
 */
export function authorize(engine: Engine, req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const sid = url.searchParams.get('session_id');
  try {
    if (sid !== null) {
      engine.checkSession(sid);
      return true;
    }
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [user = '', ...rest] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      engine.checkPassword(user, rest.join(':'));
      return true;
    }
  } catch (e) {
    if (!(e instanceof XapiFailure)) throw e;
  }
  res.writeHead(401, { 'www-authenticate': 'Basic realm="xapi"', 'content-type': 'text/plain' });
  res.end('unauthorised\n');
  return false;
}
