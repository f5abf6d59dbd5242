/**
 * Transport behaviour against servers the simulator cannot play: an old host without /jsonrpc, a broken server,
 * one that never answers, and HTTPS with a self-signed certificate. Each is a few lines of real HTTP(S) on port 0.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from './client.js';
import { XapiClientError } from './errors.js';
import { decodeMethodCall, encodeMethodResponse } from './xmlrpc-codec.js';

type Handler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void | Promise<void>;
const servers: (http.Server | https.Server)[] = [];

async function serve(
  handler: Handler,
  tls?: { key: Buffer; cert: Buffer },
  at: { host: string; port: number } = { host: '127.0.0.1', port: 0 },
): Promise<string> {
  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void handler(req, Buffer.concat(chunks), res));
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(at.port, at.host, resolve));
  const { port } = server.address() as AddressInfo;
  return `${tls ? 'https' : 'http'}://${at.host}:${port}/`;
}

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise((resolve) => s.close(resolve));
    }),
  );
});

/** An XML-RPC-only XAPI (before /jsonrpc existed): answers login and pool.get_all, 404 HTML elsewhere. */
const oldHost: Handler = async (req, body, res) => {
  if (req.url !== '/') {
    res.writeHead(404, { 'content-type': 'text/html' }).end('<html>404 Not Found</html>');
    return;
  }
  const { method } = await decodeMethodCall(body);
  const value = method === 'session.login_with_password' ? 'OpaqueRef:s1' : ['OpaqueRef:p1'];
  res
    .writeHead(200, { 'content-type': 'text/xml' })
    .end(encodeMethodResponse({ Status: 'Success', Value: value }));
};

describe('transports', () => {
  it('auto falls back to XML-RPC when /jsonrpc does not answer JSON, and stays there', async () => {
    const client = createClient({ url: await serve(oldHost), user: 'root', password: 'pw' });
    expect(client.transportKind).toBe('auto');
    expect(await client.call('pool.get_all')).toEqual(['OpaqueRef:p1']);
    expect(client.transportKind).toBe('xml-rpc');
    expect(client.sessionId).toBe('OpaqueRef:s1');
    await client.close();
  });

  it('follows HOST_IS_SLAVE from a pool member to the coordinator address it names', async () => {
    // Real XAPI names the coordinator by IP only (xenapi/NOTES.md §1.1), so the client keeps scheme and port: the
    // coordinator listens on 127.0.0.1:P, the member on 127.0.0.2:P (both loopback).
    const coordinator = await serve(oldHost);
    const port = Number(new URL(coordinator).port);
    const calls: string[] = [];
    const member = await serve(
      async (_req, body, res) => {
        calls.push((await decodeMethodCall(body)).method);
        const reply = { Status: 'Failure', ErrorDescription: ['HOST_IS_SLAVE', '127.0.0.1'] };
        res.writeHead(200, { 'content-type': 'text/xml' }).end(encodeMethodResponse(reply));
      },
      undefined,
      { host: '127.0.0.2', port },
    );
    const client = createClient({ url: member, user: 'root', password: 'pw', transport: 'xml-rpc' });
    expect(await client.call('pool.get_all')).toEqual(['OpaqueRef:p1']);
    expect(calls).toEqual(['session.login_with_password']);
    expect(client.url.href).toBe(coordinator);
    await client.close();
  });

  it('logs in once for concurrent first calls', async () => {
    const methods: string[] = [];
    const url = await serve(async (req, body, res) => {
      methods.push((await decodeMethodCall(body)).method);
      await oldHost(req, body, res);
    });
    const client = createClient({ url, user: 'root', password: 'pw', transport: 'xml-rpc' });
    await Promise.all(Array.from({ length: 5 }, () => client.call('pool.get_all')));
    expect(methods.filter((m) => m === 'session.login_with_password')).toHaveLength(1);
    expect(methods.filter((m) => m === 'pool.get_all')).toHaveLength(5);
    await client.close();
  });

  it('reports an HTTP 500 (XAPI on a malformed body) as XENAPI_ERR_HTTP with the status', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(500, { 'content-type': 'text/html' }).end('HTTP 500 internal server error');
    });
    const client = createClient({ url, user: 'root', password: 'pw', transport: 'xml-rpc' });
    const err: unknown = await client.login().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiClientError);
    expect(err).toMatchObject({ code: 'XENAPI_ERR_HTTP', status: 500 });
    await client.close();
  });

  it('reports a reply that is not XAPI as XENAPI_ERR_BAD_RESPONSE', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}');
    });
    const client = createClient({ url, user: 'root', password: 'pw', transport: 'json-rpc' });
    await expect(client.login()).rejects.toMatchObject({ code: 'XENAPI_ERR_BAD_RESPONSE' });
    await client.close();
  });

  it('gives up on a server that never answers after timeoutMs', async () => {
    const url = await serve(() => undefined);
    const client = createClient({ url, user: 'root', password: 'pw', transport: 'json-rpc', timeoutMs: 200 });
    await expect(client.login()).rejects.toMatchObject({ code: 'XENAPI_ERR_TIMEOUT' });
    await client.close();
  });

  it('reports a refused connection as XENAPI_ERR_CONNECTION', async () => {
    const url = await serve(oldHost);
    await new Promise((resolve) => servers.pop()?.close(resolve));
    const client = createClient({ url, user: 'root', password: 'pw' });
    await expect(client.login()).rejects.toMatchObject({ code: 'XENAPI_ERR_CONNECTION' });
    await client.close();
  });

  it('refuses bad options with XENAPI_ERR_BAD_ARGUMENT', () => {
    expect(() => createClient({ url: 'not a url', user: 'u', password: 'p' })).toThrow(/is not a URL/);
    expect(() => createClient({ url: 'ftp://h/', user: 'u', password: 'p' })).toThrow(XapiClientError);
  });

  it('talks HTTPS to a self-signed host only with allowUnauthorized', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenapi-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=xcp-host',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
      const tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
      const url = await serve((_req, body, res) => {
        const { method, id } = JSON.parse(body.toString()) as { method: string; id: number };
        const result = method === 'session.login_with_password' ? 'OpaqueRef:s2' : '';
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', result, id }));
      }, tls);
      const strict = createClient({ url, user: 'root', password: 'pw' });
      await expect(strict.login()).rejects.toMatchObject({ code: 'XENAPI_ERR_CONNECTION' });
      await strict.close();
      const lax = createClient({ url, user: 'root', password: 'pw', allowUnauthorized: true });
      expect(await lax.login()).toBe('OpaqueRef:s2');
      expect(lax.transportKind).toBe('json-rpc');
      await lax.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('xapi JSON with non-finite floats', () => {
  it('reads bare NaN and Infinity as numbers and leaves strings alone', async () => {
    const { parseXapiJson } = await import('./transport-json-rpc.js');
    expect(parseXapiJson('{"result":{"max":Infinity,"min":-Infinity,"v":NaN,"s":"Infinity"}}')).toEqual({
      result: { max: Infinity, min: -Infinity, v: NaN, s: 'Infinity' },
    });
    expect(() => parseXapiJson('{"x": nope}')).toThrow();
  });
});
