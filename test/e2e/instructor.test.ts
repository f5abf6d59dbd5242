// The instructor's page in Chromium, with a learner in another browser context (another person): the room fills in
// as the learner works, a broadcast appears above the learner's terminal, and the instructor watches the learner's
// terminal read-only.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, terminalText } from '../helpers/browser.js';
import { startLabGateway, type LabGateway } from './lab-harness.js';

let lg: LabGateway;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let learnerCtx: BrowserContext;
let instructorCtx: BrowserContext;
let learner: Page;
let instructor: Page;

beforeAll(async () => {
  lg = await startLabGateway({ pollMs: 300 });
  ({ browser, close: closeBrowser } = await launchBrowser());
  learnerCtx = await browser.newContext();
  instructorCtx = await browser.newContext();
  learner = await learnerCtx.newPage();
  instructor = await instructorCtx.newPage();
});
afterAll(async () => {
  await closeBrowser();
  await lg.close();
});

describe('the instructor page', () => {
  it('is closed to a browser that did not open the instructor link', async () => {
    await learner.goto(`${lg.gateway.url}/instructor/`);
    await expect
      .poll(() => learner.locator('.room-status').textContent(), { timeout: 15_000 })
      .toMatch(/^Instructors only/);
    expect(await learner.locator('.room-table tbody tr').count()).toBe(0);
  });

  it('shows a learner’s task done moments after they do it', async () => {
    await learner.goto(`${lg.gateway.url}/labs/anatomy-of-a-pool/`);
    await expect
      .poll(() => learner.locator('xenlab-terminal').getAttribute('data-state'), { timeout: 30_000 })
      .toBe('open');
    await instructor.goto(lg.gateway.instructorUrl);
    expect(new URL(instructor.url()).pathname).toBe('/instructor/');
    await expect.poll(() => instructor.locator('.room-table tbody tr').count(), { timeout: 15_000 }).toBe(1);
    const cell = instructor.locator('td.task[data-lab="anatomy-of-a-pool"][data-task="name-the-pool"]');
    expect(await cell.getAttribute('data-pass')).toBe('false');

    await learner.locator('.lab-terminal-panel:not([hidden]) .xt-screen').click();
    await learner.keyboard.type('xe pool-param-set uuid=$(xe pool-list --minimal) name-label=$LAB_POOL_NAME');
    await learner.keyboard.press('Enter');
    await expect.poll(() => cell.getAttribute('data-pass'), { timeout: 20_000 }).toBe('true');
    expect(await instructor.locator('td.score[data-lab="anatomy-of-a-pool"]').textContent()).toBe('10 / 90');
  });

  it('sends a message that appears above the learner’s terminal', async () => {
    await instructor.locator('.room-broadcast input').fill('Break until 10:30');
    await instructor.locator('.room-broadcast button').click();
    await expect
      .poll(() => instructor.locator('.room-broadcast-result').textContent(), { timeout: 10_000 })
      .toBe('Sent to 1 environments.');
    await expect
      .poll(() => learner.locator('.xt-banner-text').first().textContent(), { timeout: 10_000 })
      .toBe('Instructor: Break until 10:30');
    expect(await learner.locator('.xt-banner').first().isVisible()).toBe(true);
  });

  it('watches the learner’s terminal, read-only', async () => {
    await instructor.locator('.room-watch-btn').first().click();
    await expect
      .poll(() => instructor.locator('.room-watch xenlab-terminal').getAttribute('data-read-only'), {
        timeout: 15_000,
      })
      .toBe('true');
    await learner.locator('.lab-terminal-panel:not([hidden]) .xt-screen').click();
    await learner.keyboard.type('echo "seen-by-the-instructor-$((6*7))"');
    await learner.keyboard.press('Enter');
    await expect
      .poll(() => terminalText(instructor, '.room-watch xenlab-terminal'), { timeout: 15_000 })
      .toMatch(/^seen-by-the-instructor-42$/m);
    // Typing in the watching terminal reaches nobody.
    await instructor.locator('.room-watch .xt-screen').click();
    await instructor.keyboard.type('echo "typed-by-the-instructor-$((1+1))"');
    await instructor.keyboard.press('Enter');
    await learner.keyboard.type('echo "after-$((2+2))"');
    await learner.keyboard.press('Enter');
    await expect
      .poll(() => terminalText(learner, '.lab-terminal-panel:not([hidden]) xenlab-terminal'), {
        timeout: 15_000,
      })
      .toMatch(/^after-4$/m);
    expect(await terminalText(learner, '.lab-terminal-panel:not([hidden]) xenlab-terminal')).not.toMatch(
      /typed-by-the-instructor/,
    );
  });

  it('shows a learner’s raised hand and note, and clears it with Done', async () => {
    await learner.locator('.lab-terminal-panel:not([hidden]) .xt-help').click();
    await learner
      .locator('.lab-terminal-panel:not([hidden]) .xt-help-form input')
      .fill('my bond will not form');
    await learner.locator('.lab-terminal-panel:not([hidden]) .xt-help-form button').click();
    await expect
      .poll(
        () => learner.locator('.lab-terminal-panel:not([hidden]) .xt-help').getAttribute('aria-pressed'),
        {
          timeout: 10_000,
        },
      )
      .toBe('true');
    const hand = instructor.locator('td.help[data-raised="true"]');
    await expect
      .poll(() => hand.textContent(), { timeout: 10_000 })
      .toMatch(/anatomy-of-a-pool .*my bond will not form/);
    expect(await hand.locator('svg.room-hand').count()).toBe(1);
    await expect.poll(() => instructor.locator('.room-status').textContent()).toMatch(/1 asking for help/);
    await hand.locator('.room-help-done').click();
    await expect.poll(() => hand.count(), { timeout: 10_000 }).toBe(0);
  });
});
