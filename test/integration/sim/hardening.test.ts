/**
 * Hostile input (perf-security.md §E): entity expansion, XXE, huge bodies, deep nesting, prototype pollution, slow
 * drip. Each gets a real error response and the simulator keeps serving everyone else.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { jsonCall, login, ok, post, start, v, xmlCall } from './helpers.js';
import type { RunningSimulator } from './helpers.js';

let sim: RunningSimulator;
let s: string;
beforeAll(async () => {
  sim = await start({ limits: { bodyTimeoutMs: 500 } });
  s = await login(sim.url);
});
afterAll(async () => {
  await sim.close();
});

async function stillServing(): Promise<void> {
  expect(await ok<string[]>(sim.url, 'pool.get_all', s)).toHaveLength(1);
}

test('billion laughs: a DOCTYPE with entities is refused with HTTP 500 before any expansion', async () => {
  const lol = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i ? i : ''};`.repeat(10)}">`).join('')}]>`;
  const r = await post(sim.url, `${lol}<methodCall><methodName>&lol9;</methodName><params/></methodCall>`);
  expect(r.status).toBe(500);
  expect(r.text).toContain('DOCTYPE');
  await stillServing();
});

test('XXE: an external entity is never resolved', async () => {
  const r = await post(
    sim.url,
    `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><methodCall><methodName>session.login_with_password</methodName><params><param><value>&xxe;</value></param><param><value>x</value></param></params></methodCall>`,
  );
  expect(r.status).toBe(500);
  expect(r.text).not.toContain('root:');
  await stillServing();
});

test('an undefined entity is a parse error, not an empty string', async () => {
  const r = await post(sim.url, xmlCall('VM.get_all', '<value>&nope;</value>'));
  expect(r.status).toBe(500);
});

test('a 100 MB body is refused with 413 without reading it all', async () => {
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  const status = await new Promise<number>((resolve, reject) => {
    const url = new URL(sim.url);
    const sock = connect(Number(url.port), url.hostname, () => {
      sock.write(
        `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`,
      );
      let sent = 0;
      const pump = (): void => {
        while (sent < 100 && sock.writable && sock.write(chunk)) sent++;
        if (sent < 100 && sock.writable) sock.once('drain', pump);
      };
      pump();
    });
    let data = '';
    sock.on('data', (d: Buffer) => {
      data += d.toString();
      const m = /^HTTP\/1\.1 (\d+)/.exec(data);
      if (m) {
        resolve(Number(m[1]));
        sock.destroy();
      }
    });
    sock.on('error', () => {
      const m = /^HTTP\/1\.1 (\d+)/.exec(data);
      if (m) resolve(Number(m[1]));
      else reject(new Error('connection failed without a status'));
    });
  });
  expect(status).toBe(413);
  await stillServing();
});

test('a chunked body over the cap is cut off too', async () => {
  const big = 'x'.repeat(2 * 1024 * 1024);
  const r = await fetch(sim.url, {
    method: 'POST',
    body: new Blob([big]).stream(),
    duplex: 'half',
  } as RequestInit).catch(() => undefined);
  if (r) expect(r.status).toBe(413);
  await stillServing();
});

test('100 000-deep XML nesting is a parse error (depth cap), not a stack overflow', async () => {
  // Short tags so that 100 000 levels still fit under the 1 MiB body cap.
  const deep = '<a>'.repeat(100_000) + '</a>'.repeat(100_000);
  const r = await post(sim.url, xmlCall('VM.get_all', deep));
  expect(r.status).toBe(500);
  expect(r.text).toContain('nesting deeper than');
  await stillServing();
});

test('100 000-deep JSON nesting is a 500 too', async () => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const res = await fetch(`${sim.url}/jsonrpc`, {
    method: 'POST',
    body: `{"jsonrpc":"2.0","method":"pool.get_all","params":${deep},"id":1}`,
  });
  expect(res.status).toBe(500);
  await stillServing();
});

test('__proto__ struct members stay plain map keys and pollute nothing', async () => {
  const [pool] = await ok<string[]>(sim.url, 'pool.get_all', s);
  const struct =
    '<value><struct><member><name>__proto__</name><value>polluted</value></member><member><name>constructor</name><value>x</value></member></struct></value>';
  const r = await post(sim.url, xmlCall('pool.set_other_config', v(s), v(pool ?? ''), struct));
  expect(r.text).toContain('<value>Success</value>');
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype.toString.call({})).toBe('[object Object]');
  const got = await post(sim.url, xmlCall('pool.get_other_config', v(s), v(pool ?? '')));
  expect(got.text).toContain('<member><name>__proto__</name><value>polluted</value></member>');
  const viaJson = await jsonCall(sim.url, 'pool.add_to_other_config', [s, pool, '__proto__', 'again']);
  expect(viaJson.error).toEqual({
    code: 1,
    message: 'MAP_DUPLICATE_KEY',
    data: ['pool', 'other_config', expect.any(String), '__proto__'],
  });
  const json = await fetch(`${sim.url}/jsonrpc`, {
    method: 'POST',
    body: `{"jsonrpc":"2.0","method":"pool.set_other_config","params":["${s}","${pool ?? ''}",{"__proto__":{"isAdmin":true}}],"id":1}`,
  });
  expect(json.status).toBe(200);
  expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  await stillServing();
});

test('a slow-drip body is cut off at the deadline and the server keeps serving', async () => {
  const url = new URL(sim.url);
  const t0 = Date.now();
  const closed = await new Promise<string>((resolve) => {
    const sock = connect(Number(url.port), url.hostname, () => {
      sock.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n<methodCall>');
      const drip = setInterval(() => {
        if (sock.writable) sock.write(' ');
      }, 50);
      let data = '';
      sock.on('data', (d: Buffer) => (data += d.toString()));
      sock.on('close', () => {
        clearInterval(drip);
        resolve(data);
      });
    });
  });
  expect(closed).toMatch(/^HTTP\/1\.1 408/);
  expect(Date.now() - t0).toBeLessThan(5000);
  await stillServing();
});

test('DNS rebinding: a loopback simulator refuses foreign Host names', async () => {
  const url = new URL(sim.url);
  const answer = await new Promise<string>((resolve) => {
    const sock = connect(Number(url.port), url.hostname, () => {
      const body = xmlCall('pool.get_all', v(s));
      sock.write(
        `POST / HTTP/1.1\r\nHost: attacker.example:${url.port}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
    let data = '';
    sock.on('data', (d: Buffer) => (data += d.toString()));
    sock.on('close', () => {
      resolve(data);
    });
  });
  expect(answer).toMatch(/^HTTP\/1\.1 403/);
  const viaLocalhost = await fetch(`http://localhost:${url.port}/jsonrpc`, {
    method: 'POST',
    body: JSON.stringify({ jsonrpc: '2.0', method: 'pool.get_all', params: [s], id: 1 }),
  }).catch(() => undefined);
  if (viaLocalhost) expect(viaLocalhost.status).toBe(200);
});

test('concurrent clients each get their own answers', async () => {
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      jsonCall(sim.url, 'session.login_with_password', ['root', i % 2 ? 'xenlab' : 'wrong'], i),
    ),
  );
  results.forEach((r, i) => {
    expect(r.id).toBe(i);
    if (i % 2) expect(r.result).toMatch(/^OpaqueRef:/);
    else expect(r.error).toMatchObject({ message: 'SESSION_AUTHENTICATION_FAILED' });
  });
});
