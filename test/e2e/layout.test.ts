// The lab page's layout in Chromium: a terminal wide enough for `top` on a 1366×768 laptop (the guide open), wider
// with the guide folded away, a split that is dragged or moved with the keyboard and remembered, and on a phone a
// terminal one tap away with the guide's code blocks scrolling rather than cut.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLabSite } from '../helpers/site.js';

const LAB = '/labs/anatomy-of-a-pool/';
const TERMINAL = '.lab-terminal-panel:not([hidden]) xenlab-terminal';
const SHOTS = process.env.XENLAB_SCREENSHOTS;

const site = useLabSite();

/** The terminal's size in character cells, as xterm.js has it (what the shell gets). */
const cols = (page: Page): Promise<number> =>
  page.evaluate(
    (sel) => (document.querySelector(sel) as unknown as { terminal: { cols: number } }).terminal.cols,
    TERMINAL,
  );

/** Waits until the terminal's width stops changing (it refits a frame after its box changes). */
async function settledCols(page: Page): Promise<number> {
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const now = await cols(page);
    if (now === last) return now;
    last = now;
    await page.waitForTimeout(150);
  }
  return last;
}

async function openLab(ctx: BrowserContext): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(`${site.gateway.url}${LAB}`);
  // (A hook, where expect.poll is not allowed.)
  await page.locator(`${TERMINAL}[data-state="open"]`).waitFor({ state: 'attached', timeout: 30_000 });
  return page;
}

describe('a lab on a 1366×768 laptop', () => {
  let ctx: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    ctx = await site.browser.newContext({ viewport: { width: 1366, height: 768 } });
    page = await openLab(ctx);
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('gives the terminal at least 100 columns with the guide open', async () => {
    expect(await page.locator('.lab-guide').isVisible()).toBe(true);
    expect(await page.locator('.lab-guide h2').first().isVisible()).toBe(true);
    const guideBox = await page.locator('.lab-guide').boundingBox();
    expect(guideBox?.width ?? 0).toBeGreaterThan(300);
    expect(await settledCols(page)).toBeGreaterThanOrEqual(100);
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/lab-1366-guide.png` });
  });

  it('gives it more with the guide folded away, and brings the guide back', async () => {
    const open = await settledCols(page);
    await page.locator('.lab-guide-toggle').click();
    expect(await page.locator('.lab-guide').isVisible()).toBe(false);
    expect(await page.locator('.lab-guide-toggle').getAttribute('aria-expanded')).toBe('false');
    await expect.poll(() => settledCols(page), { timeout: 10_000 }).toBeGreaterThan(open + 30);
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/lab-1366-collapsed.png` });
    // Remembered across a reload.
    await page.reload();
    await expect.poll(() => page.locator('.lab-layout').getAttribute('data-guide')).toBe('closed');
    await page.locator('.lab-guide-toggle').click();
    expect(await page.locator('.lab-guide').isVisible()).toBe(true);
    await expect.poll(() => settledCols(page), { timeout: 10_000 }).toBe(open);
  });

  it('moves the split with the arrow keys and remembers it', async () => {
    const before = await settledCols(page);
    const handle = page.locator('.lab-splitter');
    const start = Number(await handle.getAttribute('aria-valuenow'));
    await handle.focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft');
    expect(Number(await handle.getAttribute('aria-valuenow'))).toBe(start - 6);
    await expect.poll(() => settledCols(page), { timeout: 10_000 }).toBeGreaterThan(before);
    await page.keyboard.press('ArrowRight');
    expect(Number(await handle.getAttribute('aria-valuenow'))).toBe(start - 4);
    await page.reload();
    await expect
      .poll(() => page.locator('.lab-splitter').getAttribute('aria-valuenow'))
      .toBe(String(start - 4));
  });

  it('moves the split by dragging the handle', async () => {
    const handle = page.locator('.lab-splitter');
    const box = await handle.boundingBox();
    const layout = await page.locator('.lab-layout').boundingBox();
    if (!box || !layout) throw new Error('no splitter on the page');
    await page.mouse.move(box.x + box.width / 2, box.y + 100);
    await page.mouse.down();
    await page.mouse.move(layout.x + layout.width * 0.5, box.y + 120, { steps: 8 });
    await page.mouse.up();
    const now = Number(await handle.getAttribute('aria-valuenow'));
    expect(now).toBeGreaterThanOrEqual(48);
    expect(now).toBeLessThanOrEqual(52);
    expect(await page.evaluate(() => localStorage.getItem('xenlab.lab.split'))).toMatch(
      /^(4[89]|5[0-2])(\.\d)?$/,
    );
    // Back to the default for the phone's context (a context of its own anyway).
    await page.evaluate(() => {
      localStorage.removeItem('xenlab.lab.split');
    });
  });

  it('folds the course menu away on a lab page, and shows it when asked', async () => {
    expect(await page.locator('.sidebar-pane').isVisible()).toBe(false);
    await page.locator('.lab-menu-toggle').click();
    expect(await page.locator('.sidebar-pane').isVisible()).toBe(true);
    expect(await page.locator('.lab-menu-toggle').getAttribute('aria-pressed')).toBe('true');
    await page.locator('.lab-menu-toggle').click();
    expect(await page.locator('.sidebar-pane').isVisible()).toBe(false);
  });
});

describe('a lab on a phone (390×844)', () => {
  let ctx: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    ctx = await site.browser.newContext({
      viewport: { width: 390, height: 844 },
      hasTouch: true,
      isMobile: true,
    });
    page = await openLab(ctx);
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('puts the terminal one tap away', async () => {
    const tab = page.locator('.lab-view-tab[data-view="terminal"]');
    expect(await tab.isVisible()).toBe(true);
    const tabBox = await tab.boundingBox();
    expect((tabBox?.y ?? 9999) + (tabBox?.height ?? 0)).toBeLessThan(844);
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/lab-phone-guide.png` });
    await tab.tap();
    const term = page.locator(TERMINAL);
    await expect.poll(() => term.isVisible()).toBe(true);
    const box = await page.locator(`${TERMINAL} .xt-screen`).boundingBox();
    expect(box).not.toBeNull();
    if (!box) return;
    // On screen, not below the fold.
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.y + 100).toBeLessThan(844);
    expect(box.x + box.width).toBeLessThanOrEqual(390);
    await expect.poll(() => settledCols(page), { timeout: 10_000 }).toBeGreaterThanOrEqual(30);
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/lab-phone-terminal.png` });
    await page.locator('.lab-view-tab[data-view="tasks"]').tap();
    await expect.poll(() => page.locator('.lab-task').first().isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await term.isVisible()).toBe(false);
  });

  it('lets the guide’s code blocks scroll rather than cutting them off', async () => {
    await page.locator('.lab-view-tab[data-view="guide"]').tap();
    expect(await page.locator('.lab-guide').isVisible()).toBe(true);
    // Nothing of the page sticks out sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const blocks = await page.locator('.lab-guide pre').evaluateAll((pres) =>
      pres.map((pre) => {
        const r = pre.getBoundingClientRect();
        return {
          right: r.right,
          left: r.left,
          overflowX: getComputedStyle(pre).overflowX,
          wider: pre.scrollWidth > pre.clientWidth,
        };
      }),
    );
    expect(blocks.length).toBeGreaterThan(0);
    for (const b of blocks) {
      expect(b.left).toBeGreaterThanOrEqual(0);
      expect(b.right).toBeLessThanOrEqual(390);
      if (b.wider) expect(['auto', 'scroll']).toContain(b.overflowX);
    }
    expect(blocks.some((b) => b.wider)).toBe(true);
  });
});
