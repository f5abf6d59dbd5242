// A room with a course code, in Chromium: learners who join by the instructor's link say their name first (the room
// and the CSV show it, not a random id); the instructor filters and sorts the room, sees a raised hand drawn (not an
// emoji the font may lack), and removes a learner (their environment ends, they leave the room).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLearnerLocalDriver } from '../../sandbox/src/drivers/local/learner-tools.js';
import { createGateway, type Gateway } from '../../sandbox/src/gateway/index.js';
import { firedFaults } from '../../sandbox/src/lab-runtime/faults-store.js';
import { launchBrowser } from '../helpers/browser.js';
import { siteDir } from './lab-harness.js';

const LAB = 'anatomy-of-a-pool';
let gateway: Gateway;
let dataDir: string;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let ada: BrowserContext;
let grace: BrowserContext;
let anon: BrowserContext;
let adaPage: Page;
let instructor: Page;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-e2e-room-'));
  gateway = await createGateway({
    port: 0,
    siteDir,
    dataDir,
    driver: createLearnerLocalDriver({ toolBinDir: join(dataDir, 'bin') }),
    labPollMs: 300,
    courseCode: 'XEN42',
  });
  ({ browser, close: closeBrowser } = await launchBrowser());
  ada = await browser.newContext();
  grace = await browser.newContext();
  anon = await browser.newContext();
  adaPage = await ada.newPage();
  instructor = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
});
afterAll(async () => {
  await closeBrowser();
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const rows = () => instructor.locator('.room-table tbody tr');
const names = () => instructor.locator('.room-table tbody th.name .name-text').allTextContents();
const learnerId = async (name: string): Promise<string> => {
  const id = await instructor
    .locator('.room-table tbody tr', { has: instructor.locator('.name-text', { hasText: name }) })
    .getAttribute('data-learner');
  if (!id) throw new Error(`${name} is not in the room`);
  return id;
};

describe('joining by the instructor’s link', () => {
  it('asks for a name, then goes where the link said', async () => {
    await adaPage.goto(`${gateway.url}/join?code=XEN42&to=/labs/${LAB}/`);
    expect(new URL(adaPage.url()).pathname).toBe('/welcome/');
    const input = adaPage.locator('.welcome-form input[name="name"]');
    expect(await input.isVisible()).toBe(true);
    await input.fill('Ada Lovelace');
    await adaPage.locator('.welcome-form button[type="submit"]').click();
    await expect.poll(() => new URL(adaPage.url()).pathname, { timeout: 10_000 }).toBe(`/labs/${LAB}/`);
    await expect
      .poll(() => adaPage.locator('xenlab-terminal').getAttribute('data-state'), { timeout: 30_000 })
      .toBe('open');
    const me = (await (await ada.request.get(`${gateway.url}/api/me`)).json()) as {
      learner: { name: string };
    };
    expect(me.learner.name).toBe('Ada Lovelace');
  });

  it('does not ask a learner whose link carries a name, and lets another skip', async () => {
    const g = await grace.newPage();
    await g.goto(`${gateway.url}/join?code=XEN42&name=Grace%20Hopper`);
    expect(new URL(g.url()).pathname).toBe('/');
    const a = await anon.newPage();
    await a.goto(`${gateway.url}/join?code=XEN42`);
    expect(new URL(a.url()).pathname).toBe('/welcome/');
    await a.locator('.welcome-skip').click();
    await expect.poll(() => new URL(a.url()).pathname).toBe('/');
  });

  it('shows the name in the room and in the CSV', async () => {
    // Ada does the first task, so the CSV has a row for her.
    await adaPage.locator('.lab-terminal-panel:not([hidden]) .xt-screen').click();
    await adaPage.keyboard.type('xe pool-param-set uuid=$(xe pool-list --minimal) name-label=$LAB_POOL_NAME');
    await adaPage.keyboard.press('Enter');
    await expect
      .poll(() => adaPage.locator(`.lab-task[data-task="name-the-pool"]`).getAttribute('data-pass'), {
        timeout: 30_000,
      })
      .toBe('true');
    await instructor.goto(gateway.instructorUrl);
    await expect.poll(() => rows().count(), { timeout: 15_000 }).toBe(3);
    expect(await names()).toEqual(expect.arrayContaining(['Ada Lovelace', 'Grace Hopper']));
    const csv = await (await instructor.request.get(`${gateway.url}/api/instructor/export.csv`)).text();
    expect(csv).toMatch(/"Ada Lovelace","anatomy-of-a-pool","name-the-pool"/);
  });
});

describe('the room', () => {
  it('filters by name, by lab and by “needs help”', async () => {
    await instructor.locator('.room-filter-name').fill('grace');
    await expect.poll(() => names()).toEqual(['Grace Hopper']);
    expect(await instructor.locator('.room-shown').textContent()).toBe('Showing 1 of 3 learners.');
    await instructor.locator('.room-filter-name').fill('');
    await expect.poll(() => rows().count()).toBe(3);

    await instructor.locator('.room-filter-lab').selectOption(LAB);
    await expect.poll(() => names()).toEqual(['Ada Lovelace']);
    expect(await instructor.locator('.room-table thead th[data-lab]').count()).toBe(1);
    await instructor.locator('.room-filter-lab').selectOption('');
    await expect.poll(() => rows().count()).toBe(3);

    const raised = await ada.request.post(`${gateway.url}/api/help`, {
      data: { lab: LAB, note: 'stuck on SRs' },
    });
    expect(raised.ok()).toBe(true);
    await instructor.locator('.room-filter-help').check();
    await expect.poll(() => names(), { timeout: 10_000 }).toEqual(['Ada Lovelace']);
    await instructor.locator('.room-filter-help').uncheck();
    await expect.poll(() => rows().count()).toBe(3);
  });

  it('draws the raised hand (an SVG with a label), not an emoji', async () => {
    const hand = instructor.locator('td.help[data-raised="true"]');
    await expect.poll(() => hand.count(), { timeout: 10_000 }).toBe(1);
    expect(await hand.locator('svg.room-hand').count()).toBe(1);
    expect(await hand.locator('svg.room-hand').getAttribute('aria-label')).toBe('Hand raised');
    const text = (await hand.textContent()) ?? '';
    expect(text).toMatch(/anatomy-of-a-pool .*stuck on SRs/);
    expect(text).not.toMatch(/\p{Extended_Pictographic}/u);
    const box = await hand.locator('svg.room-hand').boundingBox();
    expect(box?.width ?? 0).toBeGreaterThan(8);
  });

  it('sorts by name, progress and last activity', async () => {
    const sort = instructor.locator('.room-sort');
    await sort.selectOption('name');
    await expect
      .poll(async () => {
        const shown = await names();
        return (
          shown.join('|') ===
          [...shown].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' })).join('|')
        );
      })
      .toBe(true);
    await sort.selectOption('progress');
    await expect.poll(async () => (await names())[0]).toBe('Ada Lovelace');
    // Grace's browser is the latest to show a sign of life.
    await grace.request.get(`${gateway.url}/api/me`);
    await sort.selectOption('activity');
    await expect.poll(async () => (await names())[0], { timeout: 10_000 }).toBe('Grace Hopper');
    await sort.selectOption('help');
    await expect.poll(async () => (await names())[0]).toBe('Ada Lovelace');
  });

  it('scrolls sideways with the learner column kept in view', async () => {
    const wrap = instructor.locator('.room-table-wrap');
    expect(await wrap.getAttribute('tabindex')).toBe('0');
    expect(await wrap.getAttribute('role')).toBe('region');
    const first = await instructor.locator('.room-table tbody th.name').first().boundingBox();
    await wrap.evaluate((el) => {
      el.scrollLeft = el.scrollWidth;
    });
    const after = await instructor.locator('.room-table tbody th.name').first().boundingBox();
    expect(after?.x).toBeCloseTo(first?.x ?? -1, 0);
    if (process.env.XENLAB_SCREENSHOTS)
      await instructor.screenshot({ path: `${process.env.XENLAB_SCREENSHOTS}/instructor-room.png` });
    await wrap.evaluate((el) => {
      el.scrollLeft = 0;
    });
  });

  it('removes a learner: their environment ends and they leave the room', async () => {
    const adaId = await learnerId('Ada Lovelace');
    expect(gateway.labs.list().some((e) => e.learnerId === adaId)).toBe(true);
    // A fault she pulled in a lab (the record the lab panel's Events list reads) goes with her too.
    firedFaults(gateway.db);
    gateway.db
      .prepare(
        `INSERT INTO lab_faults_fired (learner, lab, fault, kind, fired_by, text, at)
         VALUES (?, 'lose-a-host', 'pull-the-plug', 'host-power-off', 'button', 'xcp-ng-02 lost power', ?)`,
      )
      .run(adaId, Date.now());
    expect(firedFaults(gateway.db, { learner: adaId })).toHaveLength(1);
    instructor.once('dialog', (d) => void d.accept());
    await instructor.locator(`tr[data-learner="${adaId}"] .room-remove`).click();
    await expect.poll(() => rows().count(), { timeout: 10_000 }).toBe(2);
    expect(await names()).not.toContain('Ada Lovelace');
    expect(gateway.labs.list().some((e) => e.learnerId === adaId)).toBe(false);
    expect(
      gateway.db.prepare('SELECT count(*) AS n FROM environments WHERE learner_id = ?').get(adaId),
    ).toEqual({
      n: 0,
    });
    expect(firedFaults(gateway.db, { learner: adaId })).toEqual([]);
    const csv = await (await instructor.request.get(`${gateway.url}/api/instructor/export.csv`)).text();
    expect(csv).not.toContain('Ada Lovelace');
    // Her browser is no longer in the course: it has to join again.
    const me = (await (await ada.request.get(`${gateway.url}/api/me`)).json()) as { learner: unknown };
    expect(me.learner).toBeNull();
    await expect
      .poll(() => adaPage.locator('xenlab-terminal').getAttribute('data-state'), { timeout: 30_000 })
      .not.toBe('open');
  });

  it('leaves the room as it was when the instructor cancels', async () => {
    instructor.once('dialog', (d) => void d.dismiss());
    const graceId = await learnerId('Grace Hopper');
    await instructor.locator(`tr[data-learner="${graceId}"] .room-remove`).click();
    await instructor.waitForTimeout(500);
    expect(await rows().count()).toBe(2);
  });

  it('answers 404 for a learner who is not there, and only to the instructor', async () => {
    const r = await instructor.request.post(`${gateway.url}/api/instructor/remove`, {
      data: { learner: 'nobody' },
    });
    expect(r.status()).toBe(404);
    const graceId = await learnerId('Grace Hopper');
    const bad = await grace.request.post(`${gateway.url}/api/instructor/remove`, {
      data: { learner: graceId },
    });
    expect(bad.status()).toBe(403);
    expect(await rows().count()).toBe(2);
  });
});
