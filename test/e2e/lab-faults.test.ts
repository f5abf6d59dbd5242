// Faults as lesson steps (issue #14) in the browser: a lab's fault buttons in the task panel — a destructive one asks
// first, can be cancelled, fires on confirmation and is disabled after; the Events list says what happened and
// when; the learner's pool shows it. The built page of a course lab is served with a lab folder of the test's own
// (same id, a manifest with fault buttons): the panel draws whatever faults the gateway sends.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLearnerLocalDriver } from '../../sandbox/src/drivers/local/learner-tools.js';
import { createGateway, type Gateway } from '../../sandbox/src/gateway/index.js';
import { createClient } from '../../toolkit/src/xenapi/index.js';
import { launchBrowser } from '../helpers/browser.js';
import { siteDir } from '../helpers/site.js';

const LAB = 'anatomy-of-a-pool';
let dataDir: string;
let gateway: Gateway;
let browser: Browser;
let closeBrowser: () => Promise<void>;
let page: Page;

beforeAll(async () => {
  if (!existsSync(join(siteDir, 'labs', LAB, 'index.html')))
    throw new Error('the site is not built with the labs: run `npm run build` (npm test does it first)');
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-e2e-faults-'));
  const labs = join(dataDir, 'labs');
  mkdirSync(join(labs, LAB), { recursive: true });
  writeFileSync(join(labs, LAB, 'guide.mdx'), '---\ntitle: Faults\n---\n');
  writeFileSync(join(labs, LAB, 'solve.sh'), 'true\n');
  writeFileSync(
    join(labs, LAB, 'lab.yaml'),
    `id: ${LAB}
title: Faults in the panel
summary: Buttons that break things.
environment:
  faults:
    - { id: pull-the-plug, kind: host-power-off, target: xcp-ng-02, trigger: { button: 'Pull the plug on xcp-ng-02' } }
    - { id: power-on, kind: host-power-on, target: xcp-ng-02, trigger: { button: 'Power xcp-ng-02 on' } }
tasks:
  - id: see-it
    title: See the host go
    checks: [{ id: host-gone, kind: xapi, select: host_metrics, where: { live: false } }]
`,
  );
  gateway = await createGateway({
    port: 0,
    siteDir,
    dataDir,
    labsDir: labs,
    driver: createLearnerLocalDriver({ toolBinDir: join(dataDir, 'bin') }),
    labPollMs: 1000,
  });
  ({ browser, close: closeBrowser } = await launchBrowser());
  page = await browser.newPage();
});

afterAll(async () => {
  await closeBrowser();
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const fault = (id: string) => page.locator(`.lab-fault[data-fault="${id}"]`);

describe('fault buttons in the task panel', () => {
  it('asks before breaking, fires on confirmation, and lists the event with its time', async () => {
    await page.goto(`${gateway.url}/labs/${LAB}/`);
    await expect
      .poll(() => page.locator('.lab-live').getAttribute('data-state'), { timeout: 60_000 })
      .toBe('open');
    const section = page.locator('.lab-faults');
    await expect.poll(() => section.isVisible(), { timeout: 30_000 }).toBe(true);
    const plug = page.getByRole('button', { name: 'Pull the plug on xcp-ng-02' });
    expect(await plug.isEnabled()).toBe(true);
    expect(await page.locator('.lab-event').allTextContents()).toEqual(['Nothing has happened yet.']);

    // A destructive button asks first; Cancel (or Escape) leaves everything as it was.
    await plug.click();
    await expect.poll(() => fault('pull-the-plug').getAttribute('data-confirm')).toBe('true');
    expect(await fault('pull-the-plug').locator('.lab-fault-ask').textContent()).toMatch(
      /^Pull the plug on xcp-ng-02\? This breaks something in your pool\.$/,
    );
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => fault('pull-the-plug').getAttribute('data-confirm')).toBe(null);
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Pull the plug on xcp-ng-02');

    await plug.click();
    await page.getByRole('button', { name: 'Yes, do it' }).click();
    const events = page.locator('.lab-event');
    await expect
      .poll(() => events.allTextContents(), { timeout: 15_000 })
      .toEqual([expect.stringMatching(/^xcp-ng-02 lost power at \d\d:\d\d:\d\d$/) as string]);
    // Fired once: disabled; the task the fault makes true turns green; the pool shows it.
    await expect
      .poll(() => page.getByRole('button', { name: 'Pull the plug on xcp-ng-02' }).isDisabled())
      .toBe(true);
    await expect
      .poll(() => page.locator('.lab-task[data-task="see-it"]').getAttribute('data-pass'), {
        timeout: 15_000,
      })
      .toBe('true');
    const env = await gateway.labs.list().find((e) => e.labId === LAB)?.environment;
    if (!env) throw new Error('no environment');
    const x = createClient({ url: env.xapi.url, user: env.xapi.user, password: env.xapi.password });
    try {
      const [host] = await x.call('host.get_by_name_label', 'xcp-ng-02');
      if (!host) throw new Error('no host');
      expect(await x.call('host_metrics.get_live', await x.call('host.get_metrics', host))).toBe(false);
    } finally {
      await x.close();
    }

    // A button that only puts things back fires at once and stays enabled; after the rate limit (3 s).
    await page.waitForTimeout(3100);
    await page.getByRole('button', { name: 'Power xcp-ng-02 on' }).click();
    await expect.poll(() => events.count(), { timeout: 15_000 }).toBe(2);
    expect(await events.nth(1).textContent()).toMatch(/^xcp-ng-02 was powered on at \d\d:\d\d:\d\d$/);
    expect(await page.getByRole('button', { name: 'Power xcp-ng-02 on' }).isEnabled()).toBe(true);
  });

  it('shows the same buttons and events after a reload', async () => {
    await page.reload();
    const events = page.locator('.lab-event');
    await expect.poll(() => events.count(), { timeout: 30_000 }).toBe(2);
    expect(await page.getByRole('button', { name: 'Pull the plug on xcp-ng-02' }).isDisabled()).toBe(true);
  });
});
