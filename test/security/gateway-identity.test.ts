// Issue #11 (2): a learner's identity is never lost. The session cookie is SameSite=Lax (a link from another site
// carries it), a navigation from another site never replaces it, and a resume link brings a learner's environment
// back in a fresh browser (one learner, a long code, wrong guesses limited), never by a GET alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATHS, type MeResponse } from '../../sandbox/src/protocol/index.js';
import { fetchTicket, openTerminal } from '../helpers/terminal-client.js';
import { startGateway, type TestGateway } from './gateway-helpers.js';

let t: TestGateway;

beforeAll(async () => {
  t = await startGateway({}, true);
}, 30_000);

afterAll(async () => {
  await t.stop();
});

const me = async (cookie: string): Promise<MeResponse> =>
  (await (await fetch(`${t.gateway.url}${PATHS.me}`, { headers: { cookie } })).json()) as MeResponse;
const cookieOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';

describe('the session cookie', () => {
  it('is SameSite=Lax, HttpOnly, set by a first page load from this site', async () => {
    const page = await fetch(`${t.gateway.url}/`, { headers: { 'Sec-Fetch-Site': 'none' } });
    expect(page.headers.get('set-cookie')).toMatch(/^xenlab_sid=[\w-]{22}; Path=\/; HttpOnly; SameSite=Lax;/);
  });

  it('is never replaced by a navigation from another site that arrives without it', async () => {
    const { cookie } = await fetchTicket(t.gateway.url);
    const who = (await me(cookie)).learner;
    expect(who).not.toBeNull();
    for (const path of ['/', '/labs/', '/getting-started/']) {
      const page = await fetch(`${t.gateway.url}${path}`, {
        headers: { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate' },
      });
      expect(page.headers.get('set-cookie')).toBeNull();
    }
    // With the cookie, nothing is set either, and the learner is who they were.
    const again = await fetch(`${t.gateway.url}/`, { headers: { cookie, 'Sec-Fetch-Site': 'cross-site' } });
    expect(again.headers.get('set-cookie')).toBeNull();
    expect((await me(cookie)).learner).toEqual(who);
  });

  it('refuses a state-changing POST that a browser says comes from another site', async () => {
    const { cookie } = await fetchTicket(t.gateway.url);
    for (const headers of [{ Origin: 'https://evil.example' }, { 'Sec-Fetch-Site': 'cross-site' }]) {
      const res = await fetch(`${t.gateway.url}${PATHS.join}`, {
        method: 'POST',
        headers: { cookie, 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({ code: '', name: 'Mallory' }),
      });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ code: 'GATEWAY_ERR_BAD_ORIGIN' });
    }
  });
});

describe('the resume link', () => {
  it('brings a learner and their files back in a fresh cookie jar; a GET alone switches nothing', async () => {
    const first = await openTerminal(t.gateway.url);
    first.type('echo kept-$((40+2)) > ~/resume-proof; echo written\r');
    await first.waitFor(/^written$/m, 15_000);
    first.close();
    const mine = await me(first.cookie);
    expect(mine.resume).toMatch(/^\/resume\?code=[\w-]{12}\.[\w-]{22}$/);
    const link = `${t.gateway.url}${mine.resume ?? ''}`;

    // A fresh browser opens the link: a page with a button, no cookie yet.
    const look = await fetch(link);
    expect(look.status).toBe(200);
    expect(look.headers.get('set-cookie')).toBeNull();
    expect(await look.text()).toContain('<form method="post" action="/resume">');
    // The button: a form POST from this site. Another site's form is refused.
    const code = new URL(link).searchParams.get('code') ?? '';
    const post = (origin: string) =>
      fetch(`${t.gateway.url}${PATHS.resume}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { Origin: origin, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ code }).toString(),
      });
    expect((await post('https://evil.example')).status).toBe(403);
    const ok = await post(t.gateway.url);
    expect(ok.status).toBe(303);
    const fresh = cookieOf(ok);
    expect(fresh).toMatch(/^xenlab_sid=/);
    expect(fresh).not.toBe(first.cookie);
    expect((await me(fresh)).learner).toEqual(mine.learner);

    const second = await openTerminal(t.gateway.url, { cookie: fresh });
    second.type('cat ~/resume-proof\r');
    await second.waitFor(/^kept-42$/m, 15_000);
    second.close();
    // The first browser is still that learner too.
    expect((await me(first.cookie)).learner).toEqual(mine.learner);
  });

  it('refuses codes that are not one, and a run of wrong guesses from one address', async () => {
    const { cookie } = await fetchTicket(t.gateway.url);
    const good = (await me(cookie)).resume ?? '';
    const id = new URL(good, t.gateway.url).searchParams.get('code')?.split('.')[0] ?? '';
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${t.gateway.url}${PATHS.resume}?code=${id}.${'A'.repeat(22)}`);
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 403)).toBe(true);
    expect(statuses.slice(10)).toEqual([429, 429]);
    // Limited: even the right code waits (a guesser can not tell a hit from the limit).
    expect((await fetch(`${t.gateway.url}${good}`)).status).toBe(429);
  });
});
