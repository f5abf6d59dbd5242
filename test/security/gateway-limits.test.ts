// Issue #11 (3, 4, 5): what one address or one learner can take is bounded. Connections are capped in all and per
// address (the rest refused at once, the room still served), silent and idle sockets are closed, new learners per
// address per minute and live environments per learner are capped with a clear error, and 404s are not cached.
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PATHS } from '../../sandbox/src/protocol/index.js';
import { fetchTicket, openTerminal, tryUpgrade, type TerminalClient } from '../helpers/terminal-client.js';
import { health, rawSocket, sleep, startGateway, untilClosed, type TestGateway } from './gateway-helpers.js';

let t: TestGateway | undefined;
const sockets: Socket[] = [];
const terminals: TerminalClient[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of terminals.splice(0)) c.close();
  await t?.stop();
  t = undefined;
});

/** A TCP connection from a given loopback address (Linux answers on all of 127/8). */
const from = (port: number, localAddress: string) =>
  new Promise<Socket>((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress }, () => {
      resolve(s);
    });
    s.on('error', reject);
  });

describe('connections', () => {
  it('are capped per address and in all; the ones over a cap are refused, the room is served after', async () => {
    t = await startGateway({
      limits: {
        maxConnections: 15,
        maxConnectionsPerIp: 10,
        headersTimeoutMs: 1_500,
        requestTimeoutMs: 3_000,
      },
    });
    const port = t.gateway.port;
    for (let i = 0; i < 10; i++) sockets.push(await rawSocket(port));
    const overIp = await rawSocket(port);
    sockets.push(overIp);
    const over = await untilClosed(overIp, 2_000);
    expect(over.closed).toBe(true);
    expect(over.data).toMatch(/^HTTP\/1\.1 503/);
    // Another address still gets in, up to the cap in all.
    for (let i = 0; i < 5; i++) sockets.push(await from(port, '127.0.0.2'));
    const overAll = await from(port, '127.0.0.3');
    sockets.push(overAll);
    expect((await untilClosed(overAll, 2_000)).closed).toBe(true);
    expect(t.gateway.connections).toBe(15);
    // The idle ones were accepted, not answered: they are still open now.
    expect(sockets.slice(0, 10).every((s) => !s.destroyed)).toBe(true);
    // Sockets that never send a request are closed after the headers timeout; then a normal request is served.
    const idle = await Promise.all(sockets.slice(0, 10).map((s) => untilClosed(s, 5_000)));
    expect(idle.every((r) => r.closed)).toBe(true);
    await sleep(100);
    expect(await health(t.gateway.url)).toBe(200);
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    t = await startGateway({ limits: { keepAliveTimeoutMs: 300, headersTimeoutMs: 5_000 } });
    const s = await rawSocket(t.gateway.port);
    sockets.push(s);
    s.write(`GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:${String(t.gateway.port)}\r\n\r\n`);
    const end = await untilClosed(s, 4_000);
    expect(end.data).toMatch(/^HTTP\/1\.1 200/);
    expect(end.closed).toBe(true);
  });

  it('defaults let a room of 200 learners with 4 sockets each share one address', async () => {
    t = await startGateway();
    const { DEFAULT_LIMITS } = await import('../../sandbox/src/gateway/limits.js');
    expect(DEFAULT_LIMITS.maxConnectionsPerIp).toBeGreaterThanOrEqual(800);
    expect(DEFAULT_LIMITS.maxConnections).toBeGreaterThanOrEqual(DEFAULT_LIMITS.maxConnectionsPerIp);
    expect(DEFAULT_LIMITS.newLearnersPerIpPerMinute).toBeGreaterThanOrEqual(200);
  });
});

describe('new learners and environments', () => {
  it('one address makes at most N new learners a minute (429, GATEWAY_ERR_RATE_LIMITED); known ones carry on', async () => {
    t = await startGateway({ limits: { newLearnersPerIpPerMinute: 5 } });
    const cookies: string[] = [];
    for (let i = 0; i < 5; i++) cookies.push((await fetchTicket(t.gateway.url)).cookie);
    const res = await fetch(`${t.gateway.url}${PATHS.ticket}`, {
      method: 'POST',
      headers: { Origin: t.gateway.url },
    });
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ code: 'GATEWAY_ERR_RATE_LIMITED' });
    const join = await fetch(`${t.gateway.url}${PATHS.join}`, {
      method: 'POST',
      headers: { Origin: t.gateway.url },
      body: '{}',
    });
    expect(join.status).toBe(403);
    expect(await join.json()).toMatchObject({ code: 'GATEWAY_ERR_RATE_LIMITED' });
    // A learner who already has an identity is not held back.
    expect((await fetchTicket(t.gateway.url, cookies[0])).token).toBeTruthy();
  });

  it('a learner has at most N environments running; one no page shows makes room, else a clear refusal', async () => {
    t = await startGateway({ limits: { liveEnvironmentsPerLearner: 2 } }, true);
    const a = await openTerminal(t.gateway.url, { lab: 'playground' });
    terminals.push(a);
    const b = await openTerminal(t.gateway.url, { cookie: a.cookie, lab: 'scratch-b' });
    terminals.push(b);
    await a.waitFor(/\$ $/m, 15_000);
    await b.waitFor(/\$ $/m, 15_000);
    // Both have a page open: a third is refused before any WebSocket exists.
    const { token } = await fetchTicket(t.gateway.url, a.cookie);
    const ws = `${t.gateway.url.replace(/^http/, 'ws')}${PATHS.terminal}?lab=scratch-c&token=${encodeURIComponent(token)}`;
    const refused = await tryUpgrade(ws, { Origin: t.gateway.url, Cookie: a.cookie });
    expect(refused.status).toBe(429);
    expect(refused.body).toContain('GATEWAY_ERR_TOO_MANY_ENVIRONMENTS');
    expect(t.gateway.environments.live).toBe(2);
    // The learner closes one page: the next lab takes its place (files kept, it comes back on the next visit).
    b.close();
    await sleep(300);
    const c = await openTerminal(t.gateway.url, { cookie: a.cookie, lab: 'scratch-c' });
    terminals.push(c);
    c.type('echo third-up\r');
    await c.waitFor(/^third-up$/m, 15_000);
    expect(t.gateway.environments.live).toBe(2);
  });
});

describe('the static site cache', () => {
  it('keeps no 404s: 5000 random missing paths leave it as it was', async () => {
    t = await startGateway();
    const url = t.gateway.url;
    await (await fetch(`${url}/`)).arrayBuffer();
    const before = t.gateway.staticCacheEntries;
    expect(before).toBeGreaterThan(0);
    let next = 0;
    const worker = async () => {
      while (next < 5000) {
        const i = next++;
        const res = await fetch(`${url}/nope-${String(i)}-${Math.random().toString(36).slice(2)}/x.html`);
        await res.arrayBuffer();
        expect(res.status).toBe(404);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(t.gateway.staticCacheEntries).toBeLessThanOrEqual(before + 1);
  }, 60_000);
});
