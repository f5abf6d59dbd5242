import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalDriver } from '../../../sandbox/src/drivers/local/index.js';
import { createGateway, type Gateway } from '../../../sandbox/src/gateway/index.js';
import { CLOSE, PATHS } from '../../../sandbox/src/protocol/index.js';
import { fetchTicket, openTerminal, tryUpgrade } from '../../helpers/terminal-client.js';

let gateway: Gateway;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-gw-'));
  gateway = await createGateway({
    port: 0,
    dataDir,
    driver: createLocalDriver({ jail: 'auto' }),
    ticketTtlMs: 1_000,
  });
});
afterAll(async () => {
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a terminal through the gateway', () => {
  it('echoes what the learner types, from a real shell', async () => {
    const t = await openTerminal(gateway.url);
    t.type('echo "sum=$((6*7))"\r');
    await t.waitFor(/sum=42/);
    t.close();
  });

  it('resizes the pty: stty size follows term.resize', async () => {
    const t = await openTerminal(gateway.url, { cols: 80, rows: 24 });
    t.type('stty size\r');
    await t.waitFor(/^24 80$/m);
    t.send({ type: 'term.resize', cols: 132, rows: 43 });
    t.type('stty size\r');
    await t.waitFor(/^43 132$/m);
    t.close();
  });

  it('stops `yes` within 200 ms of Ctrl-C, with output kept in check by flow control', async () => {
    const t = await openTerminal(gateway.url);
    t.type('yes xenlab-flood\r');
    await t.until((c) => c.bytes > 2_000_000, 15_000, '2 MB of yes output');
    const sentAt = performance.now();
    t.type('\x03');
    t.output = '';
    t.type('echo stopped-$((1+1))\r');
    await t.waitFor(/stopped-2/, 5_000);
    const elapsed = performance.now() - sentAt;
    expect(elapsed).toBeLessThan(200);
    t.close();
  });

  it('pauses the shell when the browser stops acknowledging output (memory stays bounded)', async () => {
    const t = await openTerminal(gateway.url);
    t.autoAck = false;
    t.type('yes 0123456789\r');
    // Without acks the gateway may have at most the high watermark plus one batch in flight.
    await t.until((c) => c.bytes > 100_000, 10_000, 'some output');
    const before = t.bytes;
    await new Promise((r) => setTimeout(r, 500));
    expect(t.bytes - before).toBeLessThan(400_000);
    expect(t.bytes).toBeLessThan(600_000);
    t.autoAck = true;
    t.ack();
    await t.until((c) => c.bytes > before + 1_000_000, 10_000, 'output to resume after the ack');
    t.type('\x03');
    t.close();
  });

  it('answers a malformed control message with an error and keeps the terminal', async () => {
    const t = await openTerminal(gateway.url);
    t.ws.send('{"type":"term.resize","cols":"wide"}');
    t.ws.send('not json at all');
    await t.until((c) => c.messages.filter((m) => m.type === 'error').length >= 2, 5_000, 'two errors');
    const err = t.messages.find((m) => m.type === 'error');
    expect(err).toMatchObject({ code: 'GATEWAY_ERR_BAD_MESSAGE' });
    t.type('echo still-$((2*3))\r');
    await t.waitFor(/still-6/);
    t.close();
  });

  it('closes an oversized frame with 1009 and keeps the shell for the learner to come back to', async () => {
    const t = await openTerminal(gateway.url);
    t.type('export KEPT=yes-$((40+2))\r');
    t.ws.send(Buffer.alloc(200 * 1024, 0x61));
    await t.until((c) => c.closed !== undefined, 5_000, 'close');
    expect(t.closed?.code).toBe(CLOSE.TOO_BIG);
    const again = await openTerminal(gateway.url, { cookie: t.cookie });
    again.type('echo "kept=$KEPT"\r');
    await again.waitFor(/^kept=yes-42$/m);
    again.close();
  });

  it('gives each browser its own home directory', async () => {
    const a = await openTerminal(gateway.url);
    const b = await openTerminal(gateway.url);
    a.type('echo secret-a > ~/mine.txt; echo written\r');
    await a.waitFor(/^written$/m);
    b.type('cat ~/mine.txt 2>&1 | head -1; echo checked\r');
    await b.waitFor(/^checked$/m);
    expect(b.output).not.toContain('secret-a');
    expect(b.output).toMatch(/No such file/);
    a.close();
    b.close();
  });
});

describe('the session cookie', () => {
  it('comes with the page, so the links a page opens at once belong to one learner', async () => {
    const count = () => (gateway.db.prepare('SELECT count(*) AS n FROM learners').get() as { n: number }).n;
    const page = await fetch(`${gateway.url}/labs/anatomy-of-a-pool/`);
    const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).toMatch(/^xenlab_sid=/);
    expect(page.headers.get('set-cookie')).toContain('HttpOnly');
    // An asset, or a page asked for with the cookie, sets none.
    expect((await fetch(`${gateway.url}/_astro/app.js`)).headers.get('set-cookie')).toBeNull();
    expect((await fetch(`${gateway.url}/`, { headers: { cookie } })).headers.get('set-cookie')).toBeNull();
    // The terminal and the lab panel ask for tickets together: one learner, not two.
    const before = count();
    const ask = () => fetch(`${gateway.url}${PATHS.ticket}`, { method: 'POST', headers: { cookie } });
    const answers = await Promise.all([ask(), ask()]);
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    expect(count()).toBe(before + 1);
  });
});

describe('refusing upgrades before any shell exists', () => {
  const wsUrl = (token: string) =>
    `${gateway.url.replace(/^http/, 'ws')}${PATHS.terminal}?token=${encodeURIComponent(token)}`;

  it('refuses a foreign Origin even with a valid ticket and cookie', async () => {
    const { token, cookie } = await fetchTicket(gateway.url);
    const before = gateway.spawned;
    const r = await tryUpgrade(wsUrl(token), { Origin: 'https://evil.example', Cookie: cookie });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'GATEWAY_ERR_BAD_ORIGIN' });
    const nullOrigin = await tryUpgrade(wsUrl(token), { Origin: 'null', Cookie: cookie });
    expect(nullOrigin.status).toBe(403);
    expect(gateway.spawned).toBe(before);
  });

  it('refuses a missing token', async () => {
    const { cookie } = await fetchTicket(gateway.url);
    const before = gateway.spawned;
    const r = await tryUpgrade(`${gateway.url.replace(/^http/, 'ws')}${PATHS.terminal}`, {
      Origin: gateway.url,
      Cookie: cookie,
    });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'GATEWAY_ERR_NO_TOKEN' });
    expect(gateway.spawned).toBe(before);
  });

  it('refuses an expired token', async () => {
    const { token, cookie } = await fetchTicket(gateway.url);
    await new Promise((r) => setTimeout(r, 1_100)); // the test gateway's tickets live 1 s
    const before = gateway.spawned;
    const r = await tryUpgrade(wsUrl(token), { Origin: gateway.url, Cookie: cookie });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'GATEWAY_ERR_TOKEN_EXPIRED' });
    expect(gateway.spawned).toBe(before);
  });

  it('refuses a replayed token and one used with another browser session', async () => {
    const { token, cookie } = await fetchTicket(gateway.url);
    const other = await fetchTicket(gateway.url);
    const stolen = await tryUpgrade(wsUrl(token), { Origin: gateway.url, Cookie: other.cookie });
    expect(stolen.status).toBe(401);
    expect(JSON.parse(stolen.body)).toMatchObject({ code: 'GATEWAY_ERR_BAD_TOKEN' });
    const first = await tryUpgrade(wsUrl(token), { Origin: gateway.url, Cookie: cookie });
    expect(first.status).toBe(101);
    const again = await tryUpgrade(wsUrl(token), { Origin: gateway.url, Cookie: cookie });
    expect(again.status).toBe(401);
    expect(JSON.parse(again.body)).toMatchObject({ code: 'GATEWAY_ERR_TOKEN_REUSED' });
  });

  it('guards the lab channel like terminals: no ticket or a foreign origin is refused', async () => {
    const { token, cookie } = await fetchTicket(gateway.url);
    const lab = `${gateway.url.replace(/^http/, 'ws')}/ws/lab?lab=anatomy-of-a-pool`;
    expect((await tryUpgrade(lab, { Origin: gateway.url, Cookie: cookie })).status).toBe(401);
    const foreign = await tryUpgrade(`${lab}&token=${encodeURIComponent(token)}`, {
      Origin: 'https://evil.example',
      Cookie: cookie,
    });
    expect(foreign.status).toBe(403);
  });

  it('refuses a Host it does not serve (DNS rebinding)', async () => {
    const { token, cookie } = await fetchTicket(gateway.url);
    const r = await tryUpgrade(wsUrl(token), {
      Origin: 'http://rebind.example',
      Host: 'rebind.example',
      Cookie: cookie,
    });
    expect(r.status).toBe(403);
  });
});

describe('the local jail', () => {
  it('runs the shell as an unprivileged learner, with the system read-only and its own pid namespace', async () => {
    const jailDir = mkdtempSync(join(tmpdir(), 'xenlab-jail-'));
    const jailed = await createGateway({
      port: 0,
      dataDir: jailDir,
      driver: createLocalDriver({ jail: 'required' }),
    });
    try {
      const t = await openTerminal(jailed.url);
      expect(t.messages.find((m) => m.type === 'term.ready')).toMatchObject({ jailed: true });
      t.type(
        'id -un; touch /usr/xenlab-probe 2>&1 | sed "s/^.*: //"; ls /proc | grep -c "^[0-9]"; ls ' +
          jailDir +
          ' 2>&1 | head -1; echo probe-done\r',
      );
      await t.waitFor(/^probe-done$/m);
      const lines = t.plain.split('\n');
      const at = lines.findIndex((l) => l === 'learner');
      expect(at).toBeGreaterThan(-1);
      expect(lines[at + 1]).toBe('Read-only file system');
      // Only the jail's own processes are visible (bwrap, bash, the pipeline), not the host's.
      expect(Number(lines[at + 2])).toBeLessThan(10);
      // The gateway's data folder (other learners' homes) does not exist inside the jail.
      expect(lines[at + 3]).toMatch(/No such file or directory/);
      t.close();
    } finally {
      await jailed.close();
      rmSync(jailDir, { recursive: true, force: true });
    }
  });
});
