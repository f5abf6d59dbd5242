// The course tracks and the learner's progress in Chromium, against the real gateway serving the built site: the
// agenda's clock times follow a start time the reader picks (and the link keeps it), segments lead to concept pages
// and labs, the progress page shows this browser's learner's own tasks done and points per track (and says so when
// there is no lab server behind the site), the diagrams are named for screen readers and readable in both themes,
// and none of it trips the gateway's CSP.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProgressResponse } from '../../sandbox/src/protocol/index.js';
import { clockAt, parseClock } from '../../site/src/tracks-clock.js';
import { TRACKS } from '../../site/src/tracks.js';
import { useLabSite } from '../helpers/site.js';

const site = useLabSite({ pollMs: 300 });

/** Collects CSP violations and script errors of a page (the gateway pins script hashes: an inline handler would show here). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/** Every clock time of the agenda against the start: [shown, expected] pairs. */
async function agendaTimes(page: Page, start: string): Promise<{ shown: string[]; expected: string[] }> {
  const rows = await page
    .locator('.agenda time[data-offset]')
    .evaluateAll((ts) =>
      ts.map((t) => ({ offset: Number(t.getAttribute('data-offset')), text: t.textContent })),
    );
  const s = parseClock(start) ?? NaN;
  return { shown: rows.map((r) => r.text), expected: rows.map((r) => clockAt(s, r.offset)) };
}

describe('the course tracks', () => {
  let ctx: BrowserContext;
  let page: Page;
  let errors: string[];
  beforeAll(async () => {
    ctx = await site.browser.newContext({ viewport: { width: 1366, height: 900 } });
    page = await ctx.newPage();
    errors = watchErrors(page);
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('lists every track with its budget, and puts them in the sidebar with the progress page', async () => {
    await page.goto(`${site.gateway.url}/tracks/`);
    const ids = await page
      .locator('.tracks-table tbody tr')
      .evaluateAll((rs) => rs.map((r) => r.getAttribute('data-track')));
    expect(ids).toEqual(expect.arrayContaining(['conference-tutorial', 'workshop-day', 'full-course']));
    const conf = page.locator('.tracks-table tr[data-track="conference-tutorial"]');
    expect((await conf.locator('td').first().textContent())?.trim()).toBe('3 h');
    const sidebar = page.locator('.sidebar-pane');
    expect(await sidebar.locator('a[href="/tracks/conference-tutorial/"]').count()).toBe(1);
    expect(await sidebar.locator('a[href="/progress/"]').count()).toBe(1);
    expect(await sidebar.locator('a[href="/concepts/xen-4-2-and-4-3/"]').count()).toBe(1);
  });

  it('shows the 3-hour agenda from 09:00, within its budget, talks leading to concept pages', async () => {
    await page.goto(`${site.gateway.url}/tracks/conference-tutorial/`);
    const { shown, expected } = await agendaTimes(page, '09:00');
    expect(shown[0]).toBe('09:00');
    expect(shown).toEqual(expected);
    const end = Number(await page.locator('.agenda-end time').getAttribute('data-offset'));
    const minutes = await page
      .locator('.agenda-row[data-minutes]')
      .evaluateAll((rs) => rs.reduce((n, r) => n + Number(r.getAttribute('data-minutes')), 0));
    expect(end).toBe(minutes);
    expect(end).toBeLessThanOrEqual(180);
    const talks = await page
      .locator('.agenda-talk a')
      .evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    expect(talks.length).toBeGreaterThanOrEqual(10);
    for (const href of talks) expect(href).toMatch(/^\/concepts\/[a-z0-9-]+\/$/);
    for (const href of new Set([
      ...talks,
      ...(await page.locator('.agenda-lab a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))),
    ]))
      expect((await fetch(`${site.gateway.url}${String(href)}`)).status, String(href)).toBe(200);
    expect(await page.locator('.agenda-lab .agenda-tasks').first().textContent()).toMatch(/of its tasks: /);
  });

  it('moves every clock time when the reader changes the start, and the link keeps it', async () => {
    await page.locator('.agenda-start-input').fill('13:30');
    await expect
      .poll(() => page.locator('.agenda time[data-offset="0"]').first().textContent())
      .toBe('13:30');
    const { shown, expected } = await agendaTimes(page, '13:30');
    expect(shown).toEqual(expected);
    expect(new URL(page.url()).searchParams.get('start')).toBe('13:30');

    await page.reload();
    await expect
      .poll(() => page.locator('.agenda time[data-offset="0"]').first().textContent())
      .toBe('13:30');
    expect(await page.locator('.agenda-start-input').inputValue()).toBe('13:30');
    expect((await agendaTimes(page, '13:30')).shown).toEqual(expected);
  });

  it('shows a track of several days day by day, each day from the start time', async () => {
    const full = TRACKS.find((t) => t.id === 'full-course');
    expect(full?.days.length).toBeGreaterThan(1);
    await page.goto(`${site.gateway.url}/tracks/full-course/?start=08:30`);
    const days = page.locator('.agenda-day');
    expect(await days.count()).toBe(full?.days.length);
    for (const day of await days.all())
      await expect.poll(() => day.locator('time[data-offset="0"]').textContent()).toBe('08:30');
    expect(errors).toEqual([]);
  });
});

describe('the progress page', () => {
  let ctx: BrowserContext;
  let page: Page;
  let errors: string[];
  beforeAll(async () => {
    ctx = await site.browser.newContext();
    page = await ctx.newPage();
    errors = watchErrors(page);
  });
  afterAll(async () => {
    await ctx.close();
  });

  it('says there is nothing yet for a browser that never opened a lab', async () => {
    await page.goto(`${site.gateway.url}/progress/`);
    await expect.poll(() => page.locator('.progress').getAttribute('data-state')).toBe('empty');
    expect(await page.locator('.progress-status').textContent()).toMatch(/^Nothing done yet/);
    expect(await page.locator('.progress-task[data-pass="true"]').count()).toBe(0);
  });

  it('shows this learner’s tasks done, when, and the points, per track', async () => {
    // The learner does the lab's first task in its terminal, as anyone would.
    const started = Date.now();
    await page.goto(`${site.gateway.url}/labs/anatomy-of-a-pool/`);
    const terminal = page.locator('.lab-terminal-panel:not([hidden]) xenlab-terminal');
    await expect.poll(() => terminal.getAttribute('data-state'), { timeout: 30_000 }).toBe('open');
    await page.locator('.lab-terminal-panel:not([hidden]) .xt-screen').click();
    await page.keyboard.type('xe pool-param-set uuid=$(xe pool-list --minimal) name-label=$LAB_POOL_NAME');
    await page.keyboard.press('Enter');
    const passed = () =>
      page.evaluate(async () => {
        const p = (await (await fetch('/api/progress')).json()) as ProgressResponse;
        return p.labs['anatomy-of-a-pool']?.tasks['name-the-pool']?.passed ?? false;
      });
    await expect.poll(passed, { timeout: 20_000 }).toBe(true);

    await page.goto(`${site.gateway.url}/progress/`);
    await expect.poll(() => page.locator('.progress').getAttribute('data-state')).toBe('ready');
    expect(await page.locator('.progress-status').textContent()).toBe(
      'Progress of this browser: 1 task done.',
    );
    const conf = page.locator('.progress-track[data-track="conference-tutorial"]');
    const named = conf.locator('.progress-task[data-task="name-the-pool"]');
    expect(await named.getAttribute('data-pass')).toBe('true');
    const when = Date.parse((await named.locator('time').getAttribute('datetime')) ?? '');
    expect(when).toBeGreaterThanOrEqual(started - 1000);
    expect(when).toBeLessThanOrEqual(Date.now());
    expect(
      await conf.locator('.progress-task[data-task="count-the-parts"] .progress-done').textContent(),
    ).toBe('not yet');
    expect(await conf.locator('.progress-track-points').textContent()).toBe('10');
    expect(await conf.locator('tbody[data-lab="anatomy-of-a-pool"] .progress-lab-points').textContent()).toBe(
      '10',
    );
    // Every track with that task counts it; a track without the lab (the hypervisor half day) does not.
    for (const track of await page.locator('.progress-track').all()) {
      const has = (await track.locator('.progress-task[data-task="name-the-pool"]').count()) > 0;
      expect(await track.locator('.progress-track-points').textContent()).toBe(has ? '10' : '0');
    }
    expect(errors).toEqual([]);
  });

  it('says so when no lab server is behind the site (a static preview)', async () => {
    const preview = await ctx.newPage();
    await preview.route('**/api/progress', (route) =>
      route.fulfill({ status: 404, contentType: 'text/html', body: '<!doctype html><h1>404</h1>' }),
    );
    await preview.goto(`${site.gateway.url}/progress/`);
    await expect.poll(() => preview.locator('.progress').getAttribute('data-state')).toBe('offline');
    expect(await preview.locator('.progress-status').textContent()).toMatch(/without a lab server/);
    expect(await preview.locator('.progress-task[data-pass="true"]').count()).toBe(0);
    await preview.close();
  });
});

describe('the concept pages’ diagrams', () => {
  for (const scheme of ['light', 'dark'] as const)
    it(`are named for screen readers and their text stands out from their boxes (${scheme} theme)`, async () => {
      const ctx = await site.browser.newContext({ colorScheme: scheme });
      const page = await ctx.newPage();
      for (const path of [
        '/concepts/cloud-concepts/',
        '/concepts/high-availability/',
        '/concepts/pxe-provisioning/',
        '/concepts/advanced-networking/',
      ]) {
        await page.goto(`${site.gateway.url}${path}`);
        const svg = page.locator('figure svg[role="img"]');
        expect(await svg.count(), path).toBe(1);
        const named = await svg.evaluate((el) =>
          (el.getAttribute('aria-labelledby') ?? '')
            .split(' ')
            .map((id) => document.getElementById(id)?.textContent.length ?? 0),
        );
        expect(named.length, path).toBe(2);
        for (const n of named) expect(n, path).toBeGreaterThan(10);
        const ratios = await svg.evaluate((el) => {
          const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
          const lum = ([r = 0, g = 0, b = 0]: number[]) => {
            const ch = (v: number) => {
              const s = v / 255;
              return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
            };
            return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b);
          };
          return Array.from(el.querySelectorAll('g')).flatMap((g) => {
            const rect = g.querySelector(':scope > rect');
            const text = g.querySelector(':scope > text');
            if (!rect || !text) return [];
            const fill = getComputedStyle(rect).fill;
            if (!fill.startsWith('rgb')) return [];
            const [hi, lo] = [lum(rgb(getComputedStyle(text).fill)), lum(rgb(fill))].sort((x, y) => y - x);
            return [((hi ?? 0) + 0.05) / ((lo ?? 0) + 0.05)];
          });
        });
        expect(ratios.length, path).toBeGreaterThan(0);
        for (const r of ratios) expect(r, path).toBeGreaterThanOrEqual(4.5);
      }
      await ctx.close();
    });
});
