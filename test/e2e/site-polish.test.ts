// Small things a room notices, in Chromium: a favicon, a 404 page that describes itself, the copy/paste line of
// Getting started, a readable sidebar progress badge, and wide reference tables a keyboard can scroll. Plus the
// progress `npm start` prints while it builds (no browser needed for that one).
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { astroSummary, runStep } from '../../scripts/progress.mjs';
import { useLabSite } from '../helpers/site.js';

const site = useLabSite();

describe('the course site', () => {
  let ctx: BrowserContext;
  let page: Page;
  beforeAll(async () => {
    ctx = await site.browser.newContext({ viewport: { width: 1366, height: 768 } });
    page = await ctx.newPage();
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('has a favicon', async () => {
    await page.goto(`${site.gateway.url}/getting-started/`);
    const href = await page.locator('link[rel~="icon"]').first().getAttribute('href');
    expect(href).toBeTruthy();
    const res = await fetch(new URL(href ?? '', page.url()));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/svg/);
    expect((await fetch(`${site.gateway.url}/favicon.svg`)).status).toBe(200);
  });

  it('says on the 404 page only what the 404 page has (no sidebar)', async () => {
    const res = await page.goto(`${site.gateway.url}/no-such-lesson/`);
    expect(res?.status()).toBe(404);
    const text = (await page.locator('main').textContent()) ?? '';
    expect(text).toMatch(/Page not found/);
    expect(text.toLowerCase()).not.toContain('sidebar');
    expect(await page.locator('.sidebar-pane').count()).toBe(0);
  });

  it('spells the paste keys of Getting started out properly', async () => {
    await page.goto(`${site.gateway.url}/getting-started/`);
    const text = ((await page.locator('main').textContent()) ?? '').replace(/\s+/g, ' ');
    expect(text).toContain('⌘+V. Shift+Insert pastes too.');
    expect(text).not.toMatch(/⌘\+ V|V\.Shift/);
  });

  for (const scheme of ['light', 'dark'] as const)
    it(`shows the sidebar progress badges at 4.5:1 or more (${scheme} theme)`, async () => {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(`${site.gateway.url}/getting-started/`);
      await page.evaluate(() => {
        localStorage.setItem('starlight-theme', '');
        localStorage.setItem('xenlab.courseMenu', 'open');
        localStorage.setItem(
          'xenlab.progress.anatomy-of-a-pool',
          JSON.stringify({ score: 10, max: 90, done: 1, tasks: 5 }),
        );
        for (const [id, p] of Object.entries({ 'bonds-and-vlans': 1, 'the-xenapi': 1 }))
          localStorage.setItem(
            `xenlab.progress.${id}`,
            JSON.stringify({ score: 50, max: 50, done: p, tasks: p }),
          );
      });
      await page.goto(`${site.gateway.url}/labs/anatomy-of-a-pool/`);
      await expect.poll(() => page.locator('.sidebar-pane .lab-progress').count()).toBeGreaterThan(0);
      const ratios = await page.locator('.sidebar-pane .lab-progress').evaluateAll((badges) => {
        const rgba = (c: string): number[] => (c.match(/[\d.]+/g) ?? []).map(Number);
        const lum = ([r = 0, g = 0, b = 0]: number[]) => {
          const ch = (v: number) => {
            const s = v / 255;
            return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
          };
          return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
        };
        /** The colour behind an element: its backgrounds (and its ancestors') composed. */
        const background = (el: Element | null): number[] => {
          const layers: number[][] = [];
          for (let e = el; e; e = e.parentElement) {
            const c = rgba(getComputedStyle(e).backgroundColor);
            if ((c[3] ?? 1) > 0) {
              layers.push(c);
              if ((c[3] ?? 1) >= 1) break;
            }
          }
          let out = [255, 255, 255];
          for (const [r = 0, g = 0, b = 0, a = 1] of layers.reverse())
            out = [
              r * a + (out[0] ?? 0) * (1 - a),
              g * a + (out[1] ?? 0) * (1 - a),
              b * a + (out[2] ?? 0) * (1 - a),
            ];
          return out;
        };
        return badges.map((b) => {
          const fg = rgba(getComputedStyle(b).color);
          const bg = background(b);
          const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
          return { text: b.textContent, ratio: ((hi ?? 0) + 0.05) / ((lo ?? 0) + 0.05) };
        });
      });
      expect(ratios.length).toBeGreaterThanOrEqual(2);
      expect(ratios.some((r) => r.text === '✓')).toBe(true);
      for (const r of ratios) expect(r.ratio, `badge ${r.text}`).toBeGreaterThanOrEqual(4.5);
      await page.evaluate(() => {
        localStorage.clear();
      });
    });

  it('puts wide reference tables in a region the keyboard can scroll', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${site.gateway.url}/reference/xe/`);
    const wraps = page.locator('.sl-markdown-content .table-scroll');
    expect(await wraps.count()).toBeGreaterThan(0);
    expect(await page.locator('.sl-markdown-content table:not(.table-scroll > table)').count()).toBe(0);
    for (const w of await wraps.all()) {
      expect(await w.getAttribute('tabindex')).toBe('0');
      expect(await w.getAttribute('role')).toBe('region');
      expect(await w.getAttribute('aria-label')).toMatch(/^Table/);
    }
    const wide = page.locator('.sl-markdown-content .table-scroll').filter({
      has: page.locator('table'),
    });
    const index = await wide.evaluateAll((els) => els.findIndex((e) => e.scrollWidth > e.clientWidth + 10));
    expect(index).toBeGreaterThanOrEqual(0);
    const target = wide.nth(index);
    await target.focus();
    expect(await target.evaluate((e) => e === document.activeElement)).toBe(true);
    expect(await target.evaluate((e) => e.scrollLeft)).toBe(0);
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
    await expect.poll(() => target.evaluate((e) => e.scrollLeft)).toBeGreaterThan(0);
    await page.setViewportSize({ width: 1366, height: 768 });
  });
});

describe('the build’s progress (npm start)', () => {
  const sink = () => {
    let text = '';
    return {
      out: {
        write: (s: string) => {
          text += s;
          return true;
        },
      },
      text: () => text,
    };
  };
  const node = process.execPath;

  it('says what runs, a heartbeat while it runs, and a summary after (a log)', async () => {
    const s = sink();
    const r = await runStep({
      label: 'building the course site (first start, ~90 s)',
      cmd: node,
      args: ['-e', 'setTimeout(() => console.log("[build] 7 page(s) built in 1.2s"), 450)'],
      out: s.out,
      tty: false,
      heartbeatMs: 100,
      summary: (o) => /(\d+) page\(s\)/.exec(o)?.[1]?.concat(' pages'),
    });
    expect(r.ok).toBe(true);
    const lines = s.text().split('\n');
    expect(lines[0]).toBe('build: building the course site (first start, ~90 s)…');
    expect(lines.some((l) => /^build: still building the course site \([\d.]+ s\)$/.test(l))).toBe(true);
    expect(s.text()).toMatch(/^build: ✓ building the course site \([\d.]+ s\): 7 pages$/m);
    // The step's own chatter stays out of the way when it succeeds.
    expect(s.text()).not.toContain('[build]');
  });

  it('draws a spinner with the seconds elapsed on a terminal', async () => {
    const s = sink();
    await runStep({
      label: 'compiling the TypeScript projects',
      cmd: node,
      args: ['-e', 'setTimeout(() => {}, 350)'],
      out: s.out,
      tty: true,
    });
    const frames = s.text().split('\r\x1b[2K').filter(Boolean);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    expect(frames[0]).toMatch(/^⠋ compiling the TypeScript projects [\d.]+ s$/);
    expect(frames.at(-1)).toMatch(/^✓ compiling the TypeScript projects \([\d.]+ s\)\n$/);
  });

  it('sums up Astro’s and tsc’s output in a few words', () => {
    expect(
      astroSummary('10:01:02 [build] 16 page(s) built in \x1b[1m55.10s\x1b[22m\n[build] Complete!'),
    ).toBe('16 pages');
    expect(astroSummary('nothing to say')).toBeUndefined();
  });

  it('shows the whole output of a step that fails', async () => {
    const s = sink();
    const r = await runStep({
      label: 'checking the site’s TypeScript',
      cmd: node,
      args: ['-e', 'console.error("src/x.ts(1,1): error TS2322: nope"); process.exit(2)'],
      out: s.out,
      tty: false,
    });
    expect(r).toMatchObject({ ok: false, code: 2 });
    expect(s.text()).toMatch(/build: ✗ checking the site’s TypeScript failed after/);
    expect(s.text()).toContain('error TS2322: nope');
  });
});
