// A learner's own progress through a real gateway (GET /api/progress, the progress page's data): the task a learner
// does shows up with its points and when, bound to their session cookie; another learner sees only their own, a
// browser that is no learner gets nothing (and no cookie), and no parameter reaches someone else's record.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLearnerLocalDriver } from '../../../sandbox/src/drivers/local/learner-tools.js';
import { createGateway, type Gateway } from '../../../sandbox/src/gateway/index.js';
import { PATHS, ProgressResponse, type MeResponse } from '../../../sandbox/src/protocol/index.js';
import { fetchTicket, openTerminal, type TerminalClient } from '../../helpers/terminal-client.js';

let gateway: Gateway;
let dataDir: string;
let ada: TerminalClient;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-progress-'));
  gateway = await createGateway({
    port: 0,
    dataDir,
    driver: createLearnerLocalDriver({ toolBinDir: join(dataDir, 'bin') }),
    labPollMs: 300,
  });
  ada = await openTerminal(gateway.url, { lab: 'anatomy-of-a-pool', terminal: 'shell' });
}, 60_000);

afterAll(async () => {
  ada.close();
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const progress = async (cookie?: string, query = '') => {
  const res = await fetch(`${gateway.url}${PATHS.progress}${query}`, {
    headers: cookie ? { cookie } : {},
  });
  const body: unknown = await res.json();
  return { res, body: ProgressResponse.parse(body) };
};
const meOf = async (cookie: string) =>
  (await (await fetch(`${gateway.url}${PATHS.me}`, { headers: { cookie } })).json()) as MeResponse;

describe('GET /api/progress', () => {
  it('answers a browser that is no learner with nobody and nothing, and makes it no learner', async () => {
    const { res, body } = await progress();
    expect(res.status).toBe(200);
    expect(body).toEqual({ learner: null, labs: {} });
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-store');
    // A cookie the gateway never gave is nobody too.
    expect((await progress('xenlab_session=not-a-session')).body).toEqual({ learner: null, labs: {} });
  });

  it('shows a task the moment the learner passes it: passed, its points, when', async () => {
    const me = await meOf(ada.cookie);
    const before = await progress(ada.cookie);
    expect(before.body.learner).toEqual({ id: me.learner?.id, name: null });
    expect(before.body.labs['anatomy-of-a-pool']?.tasks['name-the-pool']?.passed ?? false).toBe(false);

    const started = Date.now();
    ada.type('xe pool-param-set uuid=$(xe pool-list --minimal) name-label=$LAB_POOL_NAME; echo renamed\r');
    await ada.waitFor(/^renamed$/m, 15_000);
    const deadline = Date.now() + 15_000;
    let lab = before.body.labs['anatomy-of-a-pool'];
    while (Date.now() < deadline && !lab?.tasks['name-the-pool']?.passed) {
      await new Promise((r) => setTimeout(r, 200));
      lab = (await progress(ada.cookie)).body.labs['anatomy-of-a-pool'];
    }
    const task = lab?.tasks['name-the-pool'];
    expect(task).toMatchObject({ passed: true, points: 10 });
    expect(task?.passedAt).toBeGreaterThanOrEqual(started - 1000);
    expect(task?.passedAt).toBeLessThanOrEqual(Date.now());
    expect(lab?.score).toBe(10);
    // Tasks not passed earn nothing.
    for (const t of Object.values(lab?.tasks ?? {}).filter((x) => !x.passed)) expect(t.points).toBe(0);
  });

  it('gives another learner only their own record, whatever the query asks for', async () => {
    const { cookie: bob } = await fetchTicket(gateway.url); // a second browser: a new self-paced learner
    const adaId = (await meOf(ada.cookie)).learner?.id;
    const bobId = (await meOf(bob)).learner?.id;
    expect(bobId).toBeTruthy();
    expect(bobId).not.toBe(adaId);
    for (const query of ['', `?learner=${String(adaId)}`, `?id=${String(adaId)}`]) {
      const { body } = await progress(bob, query);
      expect(body).toEqual({ learner: { id: bobId, name: null }, labs: {} });
    }
    // And Ada's own is still hers.
    expect((await progress(ada.cookie)).body.labs['anatomy-of-a-pool']?.score).toBe(10);
  });

  it('takes GET only (405 with Allow)', async () => {
    const res = await fetch(`${gateway.url}${PATHS.progress}`, {
      method: 'POST',
      headers: { cookie: ada.cookie, Origin: gateway.url },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
  });
});
