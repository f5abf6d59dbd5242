import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalDriver } from '../../sandbox/src/drivers/local/index.js';
import { createGateway, type Gateway } from '../../sandbox/src/gateway/index.js';
import { launchBrowser, terminalLines } from '../helpers/browser.js';

const siteDir = resolve(import.meta.dirname, '..', '..', 'site', 'dist');
let gateway: Gateway;
let dataDir: string;
let browser: Browser;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  if (!existsSync(join(siteDir, 'getting-started', 'index.html'))) {
    throw new Error('the site is not built: run `npm run build` (npm test does it first)');
  }
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-e2e-'));
  gateway = await createGateway({ port: 0, siteDir, dataDir, driver: createLocalDriver() });
  ({ browser, close: closeBrowser } = await launchBrowser());
});
afterAll(async () => {
  await closeBrowser();
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The terminal's visible lines, as the learner sees them (read from xterm.js's buffer). */
const screenLines = (page: Page) => terminalLines(page);

async function waitForLine(page: Page, re: RegExp, timeout = 10_000): Promise<string> {
  let found = '';
  await expect
    .poll(
      async () => {
        found = (await screenLines(page)).find((l) => re.test(l)) ?? '';
        return found;
      },
      { timeout, interval: 100 },
    )
    .not.toBe('');
  return found;
}

describe('the Getting started lesson', () => {
  it('gives a live shell: typing echo $((6*7)) shows 42', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${gateway.url}/getting-started/`);
    expect(await page.locator('h1').first().textContent()).toContain('Getting started');
    await page.locator('xenlab-terminal[data-state="open"]').waitFor({ timeout: 15_000 });
    await page.locator('xenlab-terminal .xt-screen').click();
    await page.keyboard.type('echo $((6*7))');
    await page.keyboard.press('Enter');
    await waitForLine(page, /^42\s*$/);
    expect(await page.locator('xenlab-terminal .xt-status').textContent()).toMatch(/Connected/);
    await page.close();
  });

  it('resizes the pty with the window: stty size follows the viewport', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${gateway.url}/getting-started/`);
    await page.locator('xenlab-terminal[data-state="open"]').waitFor({ timeout: 15_000 });
    await page.locator('xenlab-terminal .xt-screen').click();
    const size = () =>
      page.evaluate(() => {
        const t = (
          document.querySelector('xenlab-terminal') as unknown as { terminal: { cols: number; rows: number } }
        ).terminal;
        return `${t.rows} ${t.cols}`;
      });
    const before = await size();
    await page.keyboard.type('clear; stty size');
    await page.keyboard.press('Enter');
    await waitForLine(page, new RegExp(`^${before}\\s*$`));

    await page.setViewportSize({ width: 700, height: 900 });
    await expect.poll(size, { timeout: 5_000 }).not.toBe(before);
    const after = await size();
    await page.keyboard.type('clear; stty size');
    await page.keyboard.press('Enter');
    await waitForLine(page, new RegExp(`^${after}\\s*$`));
    await page.close();
  });

  it('has a one-click screen reader mode', async () => {
    const page = await browser.newPage();
    await page.goto(`${gateway.url}/getting-started/`);
    const button = page.getByRole('button', { name: 'Screen reader mode' });
    await expect.poll(() => button.getAttribute('aria-pressed')).toBe('false');
    await button.click();
    await expect.poll(() => button.getAttribute('aria-pressed')).toBe('true');
    // xterm.js renders an accessible live region for screen readers when the mode is on.
    await expect.poll(() => page.locator('xenlab-terminal .xterm-accessibility').count()).toBeGreaterThan(0);
    await page.close();
  });
});

describe('a dropped connection in the page', () => {
  it('reconnects by itself, shows it, and keeps the screen and the shell as they were', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${gateway.url}/getting-started/`);
    await page.locator('xenlab-terminal[data-state="open"]').waitFor({ timeout: 15_000 });
    await page.locator('xenlab-terminal .xt-screen').click();
    await page.keyboard.type('MARK=kept-$((20+22)); echo "before-$((1+1))"');
    await page.keyboard.press('Enter');
    await waitForLine(page, /^before-2\s*$/);

    const states: string[] = [];
    await page.exposeFunction('recordState', (s: string) => states.push(s));
    await page.evaluate(() => {
      const el = document.querySelector('xenlab-terminal') as unknown as HTMLElement & {
        connection: { drop(): void };
      };
      new MutationObserver(() => {
        void (window as unknown as { recordState(s: string): Promise<void> }).recordState(
          el.dataset.state ?? '',
        );
      }).observe(el, { attributes: true, attributeFilter: ['data-state'] });
      el.connection.drop();
    });
    await expect
      .poll(() => states.includes('closed') || states.includes('connecting'), { timeout: 5_000 })
      .toBe(true);
    await page.locator('xenlab-terminal[data-state="open"]').waitFor({ timeout: 15_000 });

    await page.keyboard.type('echo "after-$MARK"');
    await page.keyboard.press('Enter');
    await waitForLine(page, /^after-kept-42\s*$/);
    const lines = await screenLines(page);
    // The output from before the drop is still on screen, once (not replayed a second time).
    expect(lines.filter((l) => /^before-2\s*$/.test(l))).toHaveLength(1);
    await page.close();
  });
});
