import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { terminalLines, waitForTerminalLine } from '../helpers/browser.js';
import { useLessonSite } from '../helpers/site.js';

const site = useLessonSite();

/** The terminal's visible lines, as the learner sees them (read from xterm.js's buffer). */
const screenLines = (page: Page) => terminalLines(page);

describe('the Getting started lesson', () => {
  it('gives a live shell: typing echo $((6*7)) shows 42', async () => {
    const page = await site.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${site.gateway.url}/getting-started/`);
    expect(await page.locator('h1').first().textContent()).toContain('Getting started');
    await page.locator('xenlab-terminal[data-state="open"]').waitFor({ timeout: 15_000 });
    await page.locator('xenlab-terminal .xt-screen').click();
    await page.keyboard.type('echo $((6*7))');
    await page.keyboard.press('Enter');
    await waitForTerminalLine(page, /^42\s*$/);
    expect(await page.locator('xenlab-terminal .xt-status').textContent()).toMatch(/Connected/);
    await page.close();
  });

  it('resizes the pty with the window: stty size follows the viewport', async () => {
    const page = await site.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${site.gateway.url}/getting-started/`);
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
    await waitForTerminalLine(page, new RegExp(`^${before}\\s*$`));

    await page.setViewportSize({ width: 700, height: 900 });
    await expect.poll(size, { timeout: 5_000 }).not.toBe(before);
    const after = await size();
    await page.keyboard.type('clear; stty size');
    await page.keyboard.press('Enter');
    await waitForTerminalLine(page, new RegExp(`^${after}\\s*$`));
    await page.close();
  });

  it('has a one-click screen reader mode', async () => {
    const page = await site.browser.newPage();
    await page.goto(`${site.gateway.url}/getting-started/`);
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
    const page = await site.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${site.gateway.url}/getting-started/`);
    await page.locator('xenlab-terminal[data-state="open"]').waitFor({ timeout: 15_000 });
    await page.locator('xenlab-terminal .xt-screen').click();
    await page.keyboard.type('MARK=kept-$((20+22)); echo "before-$((1+1))"');
    await page.keyboard.press('Enter');
    await waitForTerminalLine(page, /^before-2\s*$/);

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
    await waitForTerminalLine(page, /^after-kept-42\s*$/);
    const lines = await screenLines(page);
    // The output from before the drop is still on screen, once (not replayed a second time).
    expect(lines.filter((l) => /^before-2\s*$/.test(l))).toHaveLength(1);
    await page.close();
  });
});
