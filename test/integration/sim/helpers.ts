/** Shared helpers for the simulator integration tests: raw HTTP calls, so the exact bytes are what we assert. */
import { startSimulator } from '../../../sandbox/src/sim/index.js';
import type { RunningSimulator, SimulatorOptions } from '../../../sandbox/src/sim/index.js';

export { startSimulator };
export type { RunningSimulator };

/** Starts a fast simulator on a free port. */
export function start(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  return startSimulator({ port: 0, fast: true, ...options });
}

/** Escapes a string for an XML-RPC request. */
export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Builds an XML-RPC request from pre-encoded `<value>` strings. */
export function xmlCall(method: string, ...values: string[]): string {
  return `<?xml version="1.0"?><methodCall><methodName>${method}</methodName><params>${values
    .map((v) => `<param>${v}</param>`)
    .join('')}</params></methodCall>`;
}

/** `<value>s</value>`. */
export function v(s: string): string {
  return `<value>${esc(s)}</value>`;
}

/** POSTs a body and returns status, content type and text. */
export async function post(url: string, body: string, path = '/', headers: Record<string, string> = {}) {
  const res = await fetch(url + path, {
    method: 'POST',
    body,
    headers: { 'content-type': 'text/xml', ...headers },
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** A JSON-RPC v2 call; returns the parsed response. */
export async function jsonCall(
  url: string,
  method: string,
  params: unknown[],
  id: number | string = 1,
): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}/jsonrpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id }),
  });
  return (await res.json()) as Record<string, unknown>;
}

/** Logs in over JSON-RPC and returns the session ref. */
export async function login(url: string, user = 'root', password = 'xenlab'): Promise<string> {
  const r = await jsonCall(url, 'session.login_with_password', [user, password, '2.21', 'test']);
  if (typeof r.result !== 'string') throw new Error(`login failed: ${JSON.stringify(r)}`);
  return r.result;
}

/** A JSON-RPC call that must succeed; returns its result. */
export async function ok<T = unknown>(url: string, method: string, ...params: unknown[]): Promise<T> {
  const r = await jsonCall(url, method, params);
  if ('error' in r) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
  return r.result as T;
}

/** A JSON-RPC call that must fail; returns [code, ...params]. */
export async function fails(url: string, method: string, ...params: unknown[]): Promise<string[]> {
  const r = await jsonCall(url, method, params);
  const e = r.error as { message: string; data: string[] } | undefined;
  if (!e) throw new Error(`${method} unexpectedly succeeded: ${JSON.stringify(r.result)}`);
  return [e.message, ...e.data];
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 5000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await fn();
    if (r) return r;
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
