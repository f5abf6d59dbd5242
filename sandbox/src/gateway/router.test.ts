import { IncomingMessage, type ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../protocol/index.js';
import { createRouter, type Route } from './router.js';

/** A request and a response that records what was answered. */
function call(method: string) {
  const answer: { status?: number; headers?: Record<string, string>; body?: string | undefined } = {};
  const res = {
    writeHead(status: number, headers: Record<string, string>) {
      answer.status = status;
      answer.headers = headers;
      return res;
    },
    end(body?: string) {
      answer.body = body;
      return res;
    },
  };
  const req = new IncomingMessage(new Socket());
  req.method = method;
  return { req, res: res as unknown as ServerResponse, answer };
}

const hit: string[] = [];
const routes: Route[] = [
  { methods: ['POST'], path: '/api/ticket', handle: () => hit.push('ticket') },
  { methods: ['GET', 'HEAD'], path: '/resume', handle: () => hit.push('resume page') },
  { methods: ['POST'], path: '/resume', handle: () => hit.push('resume post') },
  { methods: ['GET'], path: '/api/staff/room', handle: () => hit.push('room') },
];

describe('the router', () => {
  it('calls the handler of the path and method', () => {
    hit.length = 0;
    const route = createRouter(routes);
    for (const [method, path] of [
      ['POST', '/api/ticket'],
      ['HEAD', '/resume'],
      ['POST', '/resume'],
    ] as const) {
      const { req, res } = call(method);
      expect(route(req, res, path)).toBe(true);
    }
    expect(hit).toEqual(['ticket', 'resume page', 'resume post']);
  });

  it('answers 405 with Allow for a known path asked with another method', () => {
    const { req, res, answer } = call('PUT');
    expect(createRouter(routes)(req, res, '/resume')).toBe(true);
    expect(answer.status).toBe(405);
    expect(answer.headers?.Allow).toBe('GET, HEAD, POST');
    expect(JSON.parse(answer.body ?? '')).toEqual({
      code: 'GATEWAY_ERR_METHOD_NOT_ALLOWED',
      message: 'use GET, HEAD, POST',
    });
    expect(GatewayError.METHOD_NOT_ALLOWED).toBe('GATEWAY_ERR_METHOD_NOT_ALLOWED');
  });

  it('leaves an unknown path to the next in line, unless a gate owns it (404)', () => {
    const route = createRouter(routes, [{ prefix: '/api/staff/', admit: () => true }]);
    expect(route(call('GET').req, call('GET').res, '/labs/')).toBe(false);
    const { req, res, answer } = call('GET');
    expect(route(req, res, '/api/staff/nothing')).toBe(true);
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body ?? '')).toEqual({ code: GatewayError.NOT_FOUND, message: 'not found' });
    expect(GatewayError.NOT_FOUND).toBe('GATEWAY_ERR_NOT_FOUND');
  });

  it('asks the gate first, for known and unknown paths alike', () => {
    hit.length = 0;
    const route = createRouter(routes, [{ prefix: '/api/staff/', admit: () => false }]);
    for (const path of ['/api/staff/room', '/api/staff/nothing']) {
      const { req, res, answer } = call('GET');
      expect(route(req, res, path)).toBe(true);
      expect(answer.status).toBeUndefined();
    }
    expect(hit).toEqual([]);
  });

  it('refuses two routes for one method and path', () => {
    expect(() => createRouter([...routes, { methods: ['GET'], path: '/resume', handle: () => 0 }])).toThrow(
      /two routes for GET \/resume/,
    );
  });
});
