// Issue #11 (1): no request takes the room down. Every endpoint is asked for and then abandoned mid-headers and
// mid-body, bodies run over the limit, a body dribbles past the request timeout, and a handler that throws is
// answered 500: the gateway logs, answers /api/health, and no rejection or exception escapes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_PATH, PATHS } from '../../sandbox/src/protocol/index.js';
import { fetchTicket } from '../helpers/terminal-client.js';
import {
  health,
  rawSocket,
  sleep,
  startGateway,
  untilClosed,
  watchCrashes,
  type TestGateway,
} from './gateway-helpers.js';

let t: TestGateway;
let watch: ReturnType<typeof watchCrashes>;
let learnerCookie = '';
let instructorCookie = '';
const REQUEST_TIMEOUT_MS = 800;

beforeAll(async () => {
  watch = watchCrashes();
  t = await startGateway({
    limits: { requestTimeoutMs: REQUEST_TIMEOUT_MS, headersTimeoutMs: REQUEST_TIMEOUT_MS },
  });
  learnerCookie = (await fetchTicket(t.gateway.url)).cookie;
  const link = await fetch(t.gateway.instructorUrl, { redirect: 'manual' });
  instructorCookie = (link.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
}, 30_000);

afterAll(async () => {
  watch.stop();
  await t.stop();
});

const host = () => `127.0.0.1:${String(t.gateway.port)}`;
const paths = () => [
  ...new Set([...Object.values(PATHS), LAB_PATH, '/', '/labs/', '/nope.html', '/api/health']),
];
const cookies = () => [learnerCookie, instructorCookie].filter(Boolean).join('; ');

/** Sends `text` on a new connection, then cuts it off. */
async function sendAndAbort(text: string): Promise<void> {
  const s = await rawSocket(t.gateway.port);
  s.on('error', () => undefined);
  s.write(text);
  await sleep(30);
  s.destroy();
}

describe('a request abandoned half-way', () => {
  it('mid-body, on every endpoint (POST, with the learner and instructor cookies), ends only itself', async () => {
    for (const path of paths()) {
      await sendAndAbort(
        `POST ${path} HTTP/1.1\r\nHost: ${host()}\r\nOrigin: ${t.gateway.url}\r\nCookie: ${cookies()}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"code": "',
      );
    }
    await sleep(100);
    expect(await health(t.gateway.url)).toBe(200);
    expect(watch.crashes).toEqual([]);
  });

  it('mid-headers, on every endpoint and every WebSocket upgrade, ends only itself', async () => {
    for (const path of paths()) {
      await sendAndAbort(`GET ${path} HTTP/1.1\r\nHost: ${host()}\r\nCookie: ${cookies()}\r\nX-Half: `);
      await sendAndAbort(
        `GET ${path}?token=x HTTP/1.1\r\nHost: ${host()}\r\nOrigin: ${t.gateway.url}\r\nUpgrade: websocket\r\n` +
          'Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
    }
    await sleep(100);
    expect(await health(t.gateway.url)).toBe(200);
    expect(watch.crashes).toEqual([]);
  });
});

describe('bodies and time are bounded', () => {
  it('a body that dribbles past the request timeout is cut off (408), and the room carries on', async () => {
    const s = await rawSocket(t.gateway.port);
    s.write(
      `POST ${PATHS.join} HTTP/1.1\r\nHost: ${host()}\r\nOrigin: ${t.gateway.url}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"co',
    );
    const end = await untilClosed(s, REQUEST_TIMEOUT_MS * 4 + 2_000);
    expect(end.closed).toBe(true);
    expect(end.data).toMatch(/^HTTP\/1\.1 408/);
    expect(await health(t.gateway.url)).toBe(200);
    expect(watch.crashes).toEqual([]);
  });

  it('an oversized body is refused with 413 without reading it all', async () => {
    const res = await fetch(`${t.gateway.url}${PATHS.join}`, {
      method: 'POST',
      headers: { Origin: t.gateway.url, 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: 'x'.repeat(100_000) }),
    }).catch(() => null);
    if (res) expect(res.status).toBe(413);
    expect(await health(t.gateway.url)).toBe(200);
    expect(watch.crashes).toEqual([]);
  });

  it('a handler that throws is answered 500 and logged; the next request is served', async () => {
    // The store is closed under the gateway: every handler that touches it throws.
    const db = t.gateway.db;
    const prepare = db.prepare.bind(db);
    db.prepare = () => {
      throw new Error('disk on fire');
    };
    try {
      const me = await fetch(`${t.gateway.url}${PATHS.me}`, { headers: { cookie: learnerCookie } });
      expect(me.status).toBe(500);
      expect(await me.json()).toMatchObject({ code: 'GATEWAY_ERR_INTERNAL' });
      const join = await fetch(`${t.gateway.url}${PATHS.join}`, {
        method: 'POST',
        headers: { Origin: t.gateway.url, cookie: learnerCookie },
        body: '{}',
      });
      expect(join.status).toBe(500);
    } finally {
      db.prepare = prepare;
    }
    expect(t.errors.length).toBeGreaterThanOrEqual(2);
    expect(await health(t.gateway.url)).toBe(200);
    expect(watch.crashes).toEqual([]);
  });
});
