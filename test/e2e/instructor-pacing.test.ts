// The instructor paces the room (issue #16), in Chromium, with learners in other browser contexts: a locked lab's
// page waits ("This lab opens when your instructor unlocks it") and opens by itself once unlocked, without a reload;
// "everyone to lab N" shows a link on the learners' pages (pushed to pages with a terminal, polled by the others);
// the countdown runs in every terminal bar and says "Time's up"; the room shows time per task, the room's median,
// and who looks stuck (from grading history written with old times).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLearnerLocalDriver } from '../../sandbox/src/drivers/local/learner-tools.js';
import { createGateway, type Gateway } from '../../sandbox/src/gateway/index.js';
import { migrateGrading } from '../../sandbox/src/grading/store.js';
import type { InstructorRoom } from '../../sandbox/src/protocol/index.js';
import { Learners } from '../../sandbox/src/store/index.js';
import { launchBrowser } from '../helpers/browser.js';
import { siteDir } from './lab-harness.js';

/** Lab 2: locked, then the lab the room is sent to. */
const LAB = 'the-xenapi';
let gateway: Gateway;
let dataDir: string;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let learner: BrowserContext;
let labPage: Page;
let instructor: Page;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-e2e-pacing-'));
  gateway = await createGateway({
    port: 0,
    siteDir,
    dataDir,
    driver: createLearnerLocalDriver({ toolBinDir: join(dataDir, 'bin') }),
    labPollMs: 300,
  });
  ({ browser, close: closeBrowser } = await launchBrowser());
  learner = await browser.newContext();
  labPage = await learner.newPage();
  instructor = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  await instructor.goto(gateway.instructorUrl);
  await instructor.locator('.room-pacing-table tbody tr').first().waitFor({ timeout: 15_000 });
});
afterAll(async () => {
  await closeBrowser();
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const labRow = (lab: string) => instructor.locator(`.room-pacing-table tr[data-lab="${lab}"]`);
const terminalState = (page: Page) => page.locator('xenlab-terminal').first().getAttribute('data-state');

describe('a locked lab', () => {
  it('waits with a clear word instead of a terminal, and opens by itself once unlocked', async () => {
    await labRow(LAB).locator('.room-lab-lock').click();
    await expect.poll(() => labRow(LAB).getAttribute('data-locked')).toBe('true');
    expect(await labRow(LAB).locator('.room-lab-state').textContent()).toMatch(/^Locked/);

    await labPage.goto(`${gateway.url}/labs/${LAB}/`);
    await expect.poll(() => terminalState(labPage), { timeout: 15_000 }).toBe('locked');
    const locked = labPage.locator('.lab-terminal-panel:not([hidden]) .xt-locked');
    expect(await locked.isVisible()).toBe(true);
    expect(await locked.textContent()).toContain('This lab opens when your instructor unlocks it');
    expect(await labPage.locator('.lab-terminal-panel:not([hidden]) .xt-screen').isVisible()).toBe(false);
    // The task panel says so too, and no environment was made.
    await expect
      .poll(() => labPage.locator('.lab-live').textContent(), { timeout: 10_000 })
      .toContain('This lab opens when your instructor unlocks it');
    expect(gateway.db.prepare('SELECT count(*) AS n FROM environments WHERE lab_id = ?').get(LAB)).toEqual({
      n: 0,
    });
    if (process.env.XENLAB_SCREENSHOTS)
      await labPage.screenshot({ path: `${process.env.XENLAB_SCREENSHOTS}/lab-locked.png` });

    // Unlocked: the same page (no reload) opens its terminal within a poll or two.
    await labPage.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    await labRow(LAB).locator('.room-lab-lock').click();
    await expect.poll(() => labRow(LAB).getAttribute('data-locked')).toBe('false');
    await expect.poll(() => terminalState(labPage), { timeout: 45_000, interval: 250 }).toBe('open');
    expect(await labPage.locator('.lab-terminal-panel:not([hidden]) .xt-locked').isVisible()).toBe(false);
    expect(await labPage.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );
    await expect.poll(() => labPage.locator('.lab-live').textContent(), { timeout: 15_000 }).toBe('Live');
  }, 90_000);
});

describe('everyone to lab N', () => {
  it('shows a link on every learner page, pushed or polled, except the lab’s own', async () => {
    const lesson = await learner.newPage();
    await lesson.goto(`${gateway.url}/getting-started/`);
    await expect.poll(() => terminalState(lesson), { timeout: 30_000 }).toBe('open');
    const reading = await learner.newPage();
    await reading.goto(`${gateway.url}/reference/xe/`);
    expect(await reading.locator('xenlab-terminal').count()).toBe(0);

    await labRow(LAB).locator('.room-lab-move').click();
    await expect.poll(() => instructor.locator('.room-move-text').textContent()).toMatch(/Lab 2: The XenAPI/);
    const banner = (page: Page) => page.locator('.room-banner');
    // Pushed on the lesson's terminal socket: at once.
    await expect.poll(() => banner(lesson).isVisible(), { timeout: 5_000 }).toBe(true);
    expect(await banner(lesson).locator('.room-banner-text').textContent()).toBe(
      'Your instructor moved the room to Lab 2: The XenAPI —',
    );
    expect(await banner(lesson).locator('.room-banner-go').getAttribute('href')).toBe(`/labs/${LAB}/`);
    expect(new URL(lesson.url()).pathname).toBe('/getting-started/');
    // Polled by a page without a terminal.
    await expect.poll(() => banner(reading).isVisible(), { timeout: 30_000, interval: 250 }).toBe(true);
    // Not on the lab's own page (it got the same push).
    await labPage.waitForTimeout(500);
    expect(await banner(labPage).isVisible()).toBe(false);
    if (process.env.XENLAB_SCREENSHOTS)
      await lesson.screenshot({ path: `${process.env.XENLAB_SCREENSHOTS}/room-banner.png` });

    // Go takes the learner there; dismissed, it stays away on the learner's other pages.
    await banner(reading).locator('.room-banner-dismiss').click();
    expect(await banner(reading).isVisible()).toBe(false);
    await lesson.reload();
    await expect.poll(() => terminalState(lesson), { timeout: 30_000 }).toBe('open');
    await lesson.waitForTimeout(500);
    expect(await banner(lesson).isVisible()).toBe(false);
    await reading.close();
    await lesson.close();
  }, 90_000);
});

describe('the countdown', () => {
  it('runs in every terminal bar, reaches pages opened later, says “Time’s up”, and stops', async () => {
    await instructor.locator('.room-timer-form input[name="minutes"]').fill('15');
    await instructor.locator('.room-timer-form input[name="label"]').fill('Lab 2');
    await instructor.locator('.room-timer-form button[type="submit"]').click();
    await expect
      .poll(() => instructor.locator('.room-timer-text').textContent(), { timeout: 5_000 })
      .toMatch(/^Lab 2: 1[45]:\d\d left \(of 15:00\)$/);

    const timer = labPage.locator('.lab-terminal-panel:not([hidden]) .xt-timer');
    await expect.poll(() => timer.isVisible(), { timeout: 5_000 }).toBe(true);
    const read = async () => {
      const t = (await timer.locator('.xt-timer-time').textContent()) ?? '';
      const m = /^(\d\d):(\d\d)$/.exec(t);
      if (!m) throw new Error(`not mm:ss: ${t}`);
      return Number(m[1]) * 60 + Number(m[2]);
    };
    expect(await timer.locator('.xt-timer-label').textContent()).toBe('Lab 2');
    const first = await read();
    expect(first).toBeGreaterThan(14 * 60);
    expect(first).toBeLessThanOrEqual(15 * 60);
    await expect.poll(read, { timeout: 5_000, interval: 250 }).toBeLessThanOrEqual(first - 2);

    // A page opened during the countdown shows it (what is left, not 15:00).
    const late = await learner.newPage();
    await late.goto(`${gateway.url}/getting-started/`);
    const lateTimer = late.locator('xenlab-terminal .xt-timer');
    await expect.poll(() => lateTimer.isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await lateTimer.locator('.xt-timer-time').textContent()).toMatch(/^14:\d\d$/);
    if (process.env.XENLAB_SCREENSHOTS)
      await labPage.screenshot({ path: `${process.env.XENLAB_SCREENSHOTS}/terminal-countdown.png` });

    // A short one (shorter than the form offers: the endpoint takes seconds) runs out.
    const status = await instructor.evaluate(() =>
      fetch('/api/instructor/timer', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ seconds: 3, label: '' }),
      }).then((r) => r.status),
    );
    expect(status).toBe(200);
    await expect
      .poll(() => timer.locator('.xt-timer-time').textContent(), { timeout: 15_000, interval: 250 })
      .toBe("Time's up");
    expect(await timer.getAttribute('data-state')).toBe('up');

    await instructor.locator('.room-timer-stop').click();
    await expect.poll(() => timer.isVisible(), { timeout: 5_000 }).toBe(false);
    await expect.poll(() => lateTimer.isVisible(), { timeout: 5_000 }).toBe(false);
    await late.close();
  }, 90_000);
});

describe('time per task and the stuck signal', () => {
  it('shows each learner’s time on their task, the room’s median, and highlights who is stuck', async () => {
    const room = (await (
      await instructor.request.get(`${gateway.url}/api/instructor/room`)
    ).json()) as InstructorRoom;
    const lab = room.labs.find((l) => l.id === 'anatomy-of-a-pool');
    const [one, two] = lab?.tasks ?? [];
    if (!one || !two) throw new Error('anatomy-of-a-pool has fewer than two tasks');
    // History as the grader writes it, with old times: three learners took 2, 3 and 4 minutes on the first task;
    // one has been on it for 20 minutes (active 10 s ago); one has failed its Check 7 times in 3 minutes.
    migrateGrading(gateway.db);
    const learners = new Learners(gateway.db);
    const now = Date.now();
    const MIN = 60_000;
    const event = gateway.db.prepare(
      `INSERT INTO grading_events (learner, lab, task, check_id, pass, message, trigger, at)
       VALUES (?, 'anatomy-of-a-pool', ?, 'c', 0, NULL, 'poll', ?)`,
    );
    const task = gateway.db.prepare(
      `INSERT INTO grading_tasks (learner, lab, task, attempts, first_passed_at, points, updated_at)
       VALUES (?, 'anatomy-of-a-pool', ?, ?, ?, ?, ?)`,
    );
    const person = (name: string) => learners.join(`pacing-e2e-${name}`, null, name).id;
    for (const [name, took] of [
      ['Fast One', 2],
      ['Fast Two', 3],
      ['Fast Three', 4],
    ] as const) {
      const id = person(name);
      event.run(id, one.id, now - 40 * MIN);
      task.run(id, one.id, 0, now - (40 - took) * MIN, one.points, now - (40 - took) * MIN);
    }
    const slow = person('Slow Sam');
    event.run(slow, one.id, now - 20 * MIN);
    event.run(slow, one.id, now - 10_000);
    const guesser = person('Guessing Gus');
    event.run(guesser, one.id, now - 3 * MIN);
    task.run(guesser, one.id, 7, null, 0, now - 5_000);

    const row = (name: string) =>
      instructor.locator('.room-table tbody tr', {
        has: instructor.locator('.name-text', { hasText: name }),
      });
    await expect.poll(() => row('Slow Sam').count(), { timeout: 15_000 }).toBe(1);
    const oneCell = (name: string) =>
      row(name).locator(`td.task[data-lab="anatomy-of-a-pool"][data-task="${one.id}"]`);
    // The room's median for the first task, in its header: 3 minutes.
    const head = instructor.locator(
      `.room-table thead th.task-h[data-of-lab="anatomy-of-a-pool"][data-task="${one.id}"]`,
    );
    expect(await head.getAttribute('data-median-ms')).toBe(String(3 * MIN));
    expect(await head.locator('.median').textContent()).toBe('~3m');
    // Time on the current task: Slow Sam 20 minutes (to his last activity), the fast ones on task two.
    expect(await oneCell('Slow Sam').getAttribute('data-current')).toBe('true');
    expect(await oneCell('Slow Sam').textContent()).toMatch(/^(19|20)m$/);
    expect(await oneCell('Slow Sam').getAttribute('title')).toMatch(
      /on it for (19|20) minutes \(room median 3 minutes\)/,
    );
    expect(await row('Fast Two').locator(`td.task[data-task="${two.id}"]`).getAttribute('data-current')).toBe(
      'true',
    );
    expect(await oneCell('Fast Two').getAttribute('data-pass')).toBe('true');

    // Stuck: Slow Sam (more than twice the median, more than 5 minutes) and Guessing Gus (failed Checks); the fast
    // ones not; a badge, not the raised hand.
    expect(await row('Slow Sam').getAttribute('data-stuck')).toBe('true');
    expect(await oneCell('Slow Sam').getAttribute('data-stuck')).toBe('slow');
    expect(await row('Slow Sam').locator('.room-stuck').textContent()).toBe('Stuck');
    expect(await row('Slow Sam').locator('td.help').getAttribute('data-raised')).toBeNull();
    expect(await oneCell('Guessing Gus').getAttribute('data-stuck')).toBe('checks');
    expect(await row('Guessing Gus').locator('.room-stuck').getAttribute('title')).toMatch(
      /many failed Checks/,
    );
    expect(await row('Fast One').getAttribute('data-stuck')).toBeNull();
    expect(await instructor.locator('.room-status').textContent()).toMatch(/2 looking stuck/);

    // "Stuck first" puts the longest stuck on top.
    await instructor.locator('.room-sort').selectOption('stuck');
    await expect
      .poll(
        async () => (await instructor.locator('.room-table tbody th.name .name-text').allTextContents())[0],
      )
      .toBe('Slow Sam');
    if (process.env.XENLAB_SCREENSHOTS)
      await instructor.screenshot({
        path: `${process.env.XENLAB_SCREENSHOTS}/instructor-pacing.png`,
        fullPage: true,
      });
  });
});
