import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../../../toolkit/src/xenapi/index.js';
import { createLocalDriver } from '../../../sandbox/src/drivers/local/index.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../../sandbox/src/gateway/index.js';
import { openStore } from '../../../sandbox/src/store/index.js';
import { openTerminal } from '../../helpers/terminal-client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'xenlab-sessions-'));
  cleanups.push(() => {
    rmSync(d, { recursive: true, force: true });
  });
  return d;
}

async function gatewayOn(dataDir: string, extra: Partial<GatewayOptions> = {}): Promise<Gateway> {
  const g = await createGateway({ port: 0, dataDir, driver: createLocalDriver(), ...extra });
  cleanups.push(() => g.close());
  return g;
}

/** The learner's `~/.xe`, as `xe` reads it. */
function xeConfig(learnerEnvHome: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(join(learnerEnvHome, '.xe'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('=', 2) as [string, string]),
  );
}

describe('a dropped connection', () => {
  it('resumes the same shell with only the missing output replayed', async () => {
    const g = await gatewayOn(tempDir());
    const a = await openTerminal(g.url);
    a.type('X=kept; echo "first-$((1+1))"\r');
    await a.waitFor(/^first-2$/m);
    const { instance } = a.ready;
    const seen = a.bytes + a.ready.offset;
    a.close();
    await a.until((c) => c.closed !== undefined);

    // While nobody watches, the shell keeps running and its output is kept.
    const b = await openTerminal(g.url, { cookie: a.cookie, resume: { instance, offset: seen } });
    expect(b.ready.instance).toBe(instance);
    expect(b.ready.offset).toBe(seen);
    b.type('echo "second-$X"\r');
    await b.waitFor(/^second-kept$/m);
    expect(b.plain).not.toContain('first-2');
    b.close();
  });

  it('gives a new page the whole scrollback', async () => {
    const g = await gatewayOn(tempDir());
    const a = await openTerminal(g.url);
    a.type('echo "history-$((3*3))"\r');
    await a.waitFor(/^history-9$/m);
    a.close();
    const b = await openTerminal(g.url, { cookie: a.cookie });
    await b.waitFor(/^history-9$/m);
    expect(b.ready.offset).toBe(0);
    b.close();
  });

  it('lets two tabs of one learner watch and type into the same shell', async () => {
    const g = await gatewayOn(tempDir());
    const a = await openTerminal(g.url);
    const b = await openTerminal(g.url, { cookie: a.cookie });
    a.type('echo "from-a-$((5+5))"\r');
    await b.waitFor(/^from-a-10$/m);
    b.type('echo "from-b-$((6+6))"\r');
    await a.waitFor(/^from-b-12$/m);
    a.close();
    b.close();
  });

  it('ends the shell after the grace period, and the next visit starts a new one', async () => {
    const g = await gatewayOn(tempDir(), { graceMs: 300 });
    const a = await openTerminal(g.url);
    const { instance } = a.ready;
    a.close();
    await expect.poll(() => g.terminals, { timeout: 5_000 }).toBe(0);
    const b = await openTerminal(g.url, { cookie: a.cookie });
    expect(b.ready.instance).not.toBe(instance);
    b.close();
  });
});

describe('idle environments', () => {
  it('warn with a countdown, and are culled unless the learner is back', async () => {
    const g = await gatewayOn(tempDir(), { idleMs: 1_500, warnMs: 1_000 });
    const t = await openTerminal(g.url);
    await t.until((c) => c.messages.some((m) => m.type === 'env.idle'), 5_000, 'env.idle');
    const idle = t.messages.find((m) => m.type === 'env.idle');
    expect(idle?.type === 'env.idle' && idle.cullAt).toBeGreaterThan(Date.now() - 100);
    t.send({ type: 'env.extend' });
    await t.until((c) => c.messages.some((m) => m.type === 'env.active'), 5_000, 'env.active');
    await t.until((c) => c.messages.some((m) => m.type === 'env.culled'), 10_000, 'env.culled');
    expect(g.environments.live).toBe(0);
    // Coming back brings the environment up again, with a word about it.
    const back = await openTerminal(g.url, { cookie: t.cookie });
    expect(back.ready.notice).toMatch(/Welcome back/);
    back.close();
  });
});

describe('a gateway restart', () => {
  it('loses nothing: files and the pool come back, and the shell is respawned with a notice', async () => {
    const dataDir = tempDir();
    const first = await gatewayOn(dataDir);
    const t = await openTerminal(first.url);
    t.type('echo "my notes" > ~/notes.txt; cat ~/.xe | grep -c password; echo written\r');
    await t.waitFor(/^written$/m);
    const env = [...(first.db.prepare('SELECT home FROM environments').all() as { home: string }[])][0];
    if (!env) throw new Error('no environment row');
    const xe = xeConfig(env.home);
    const client = createClient({
      url: `http://${xe.server}:${xe.port}`,
      user: xe.username ?? '',
      password: xe.password ?? '',
      transport: 'json-rpc',
    });
    await client.login();
    const [pool] = (await client.callRaw('pool.get_all')) as string[];
    await client.callRaw('pool.set_name_label', pool, 'my-pool-survives');
    await client.logout();
    t.close();
    await first.close();
    // The pool is kept in the gateway's database (object by object, pool_objects), not beside it in a file.
    const saved = openStore(join(dataDir, 'xenlab.db'));
    const row = saved.prepare('SELECT group_concat(record) AS state FROM pool_objects').get() as
      { state: string } | undefined;
    saved.close();
    expect(row?.state).toContain('my-pool-survives');
    expect(existsSync(join(env.home, '..', 'pool.json'))).toBe(false);

    const second = await gatewayOn(dataDir);
    const again = await openTerminal(second.url, { cookie: t.cookie });
    expect(again.ready.notice).toMatch(/Welcome back: this is a new shell/);
    again.type('cat ~/notes.txt; xe_port=$(grep ^port ~/.xe); echo "${xe_port}"; echo checked\r');
    await again.waitFor(/^checked$/m);
    expect(again.plain).toMatch(/^my notes$/m);
    const xe2 = xeConfig(env.home);
    const client2 = createClient({
      url: `http://${xe2.server}:${xe2.port}`,
      user: xe2.username ?? '',
      password: xe2.password ?? '',
      transport: 'json-rpc',
    });
    await client2.login();
    const [pool2] = (await client2.callRaw('pool.get_all')) as string[];
    expect(await client2.callRaw('pool.get_name_label', pool2)).toBe('my-pool-survives');
    await client2.logout();
    again.close();
  });
});

describe('learners are kept apart', () => {
  it("gives each learner their own pool, which another learner's credentials cannot open", async () => {
    const g = await gatewayOn(tempDir());
    const a = await openTerminal(g.url);
    const b = await openTerminal(g.url);
    const rows = g.db.prepare('SELECT home FROM environments ORDER BY created_at').all() as {
      home: string;
    }[];
    expect(rows).toHaveLength(2);
    const [xa, xb] = rows.map((r) => xeConfig(r.home));
    if (!xa || !xb) throw new Error('missing ~/.xe');
    expect(xa.port).not.toBe(xb.port);
    const intruder = createClient({
      url: `http://${xa.server}:${xa.port}`,
      user: xb.username ?? '',
      password: xb.password ?? '',
      transport: 'json-rpc',
    });
    await expect(intruder.login()).rejects.toMatchObject({ code: 'SESSION_AUTHENTICATION_FAILED' });
    a.close();
    b.close();
  });

  it('requires the course code when the instructor set one', async () => {
    const g = await gatewayOn(tempDir(), { courseCode: 'XEN42' });
    await expect(openTerminal(g.url)).rejects.toThrow(/403/);
    const res = await fetch(`${g.url}/api/join`, {
      method: 'POST',
      headers: { Origin: g.url, 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: 'WRONG' }),
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'GATEWAY_ERR_BAD_COURSE_CODE' });
    const ok = await fetch(`${g.url}/api/join`, {
      method: 'POST',
      headers: { Origin: g.url },
      body: JSON.stringify({ code: 'xen42', name: 'Ada' }),
    });
    expect(ok.status).toBe(200);
    const cookie = (ok.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const t = await openTerminal(g.url, { cookie });
    t.type('echo "joined-$((2+2))"\r');
    await t.waitFor(/^joined-4$/m);
    t.close();
  });

  it('lets a learner in with the instructor’s link, and lands them where the link says', async () => {
    const g = await gatewayOn(tempDir(), { courseCode: 'XEN42' });
    const wrong = await fetch(`${g.url}/join?code=NOPE`, { redirect: 'manual' });
    expect(wrong.status).toBe(403);
    expect(await wrong.text()).toContain('that course code is not right');
    const link = await fetch(`${g.url}/join?code=XEN42&name=Grace&to=/labs/anatomy-of-a-pool/`, {
      redirect: 'manual',
    });
    expect(link.status).toBe(303);
    expect(link.headers.get('location')).toBe('/labs/anatomy-of-a-pool/');
    const cookie = (link.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const me = await fetch(`${g.url}/api/me`, { headers: { cookie } });
    expect(await me.json()).toMatchObject({ learner: { name: 'Grace' } });
    const t = await openTerminal(g.url, { cookie });
    t.type('echo "via-link-$((3+3))"\r');
    await t.waitFor(/^via-link-6$/m);
    t.close();
    // Never a redirect off the site.
    for (const to of ['//evil.example/', 'https://evil.example/', '/\\evil.example']) {
      const r = await fetch(`${g.url}/join?code=XEN42&to=${encodeURIComponent(to)}`, {
        redirect: 'manual',
        headers: { cookie },
      });
      expect(r.headers.get('location')).toBe('/');
    }
  });
});

describe('without a jail', () => {
  it('serves one learner only, and says why to the next one', async () => {
    const g = await createGateway({
      port: 0,
      dataDir: tempDir(),
      driver: createLocalDriver({ jail: 'off' }),
    });
    cleanups.push(() => g.close());
    const owner = await openTerminal(g.url);
    expect(owner.ready.jailed).toBe(false);
    expect(owner.ready.notice).toMatch(/not jailed/);
    const res = await fetch(`${g.url}/api/ticket`, { method: 'POST', headers: { Origin: g.url } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'GATEWAY_ERR_SINGLE_USER' });
    // The owner keeps working, from another tab too.
    const again = await openTerminal(g.url, { cookie: owner.cookie });
    again.type('echo "owner-$((4+4))"\r');
    await again.waitFor(/^owner-8$/m);
    owner.close();
    again.close();
  });
});
