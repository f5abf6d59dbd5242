// The task panel's text (issue #12): feedback that quotes a command shows it as code, not with raw backticks (and
// is built as elements, so it cannot inject markup), a lab whose tasks are all done says so, with what next, and a
// message from the lab server that the page cannot read shows (reload) while the panel goes on with later ones.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useLabSite } from '../helpers/site.js';

const LAB = 'finding-the-bottleneck';
const site = useLabSite();
let page: Page;

beforeAll(async () => {
  page = await site.browser.newPage();
});

async function answer(text: string): Promise<void> {
  const form = page.locator('.lab-answer[data-check="saturated-host"]');
  await form.locator('input').fill(text);
  await form.locator('button[type="submit"]').click();
}

describe('the task panel', () => {
  it('shows `inline code` in feedback as code, without backticks', async () => {
    await page.goto(`${site.gateway.url}/labs/${LAB}/`);
    await expect.poll(() => page.locator('.lab-task').count(), { timeout: 60_000 }).toBe(4);
    await expect
      .poll(() => page.locator('.lab-live').getAttribute('data-state'), { timeout: 60_000 })
      .toBe('open');
    await answer('xcp-ng-02');
    const notice = page.locator('.lab-notice');
    await expect.poll(() => notice.textContent(), { timeout: 15_000 }).toMatch(/^Not that one:/);
    expect(await notice.textContent()).not.toContain('`');
    expect(await notice.locator('code').allTextContents()).toEqual(['xenlab-tools bottleneck']);
    // The check's own feedback line too.
    const msg = page.locator('.lab-check[data-check="saturated-host"] .lab-check-msg');
    await expect
      .poll(() => msg.locator('code').allTextContents(), { timeout: 15_000 })
      .toEqual(['xenlab-tools bottleneck']);
    expect(await msg.textContent()).not.toContain('`');
    expect(await page.locator('.lab-complete').count()).toBe(0);
  });

  it('says the lab is complete, with the score and what next, when every task is done', async () => {
    const env = await site.lab.environmentOf(LAB);
    const r = await env.sandbox.exec([
      'bash',
      '-c',
      [
        'xe vm-migrate vm=batch-1 host=xcp-ng-03',
        'xe vm-param-set uuid="$(xe vm-list name-label=etl-1 --minimal)" VCPUs-params:cap=200',
        // The cap reaches the running domain only when it is built again (lab 5 checks what it uses).
        'xe vm-migrate vm=etl-1 host=xcp-ng-02',
        'xe vm-param-set uuid="$(xe vm-list name-label=web-1 --minimal)" VCPUs-params:weight=512',
      ].join(' && '),
    ]);
    expect(r.code).toBe(0);
    await expect.poll(() => page.locator('.lab-task[data-pass="true"]').count(), { timeout: 20_000 }).toBe(3);
    expect(await page.locator('.lab-complete').count()).toBe(0);
    await answer('xcp-ng-01');
    const done = page.locator('.lab-complete');
    await expect.poll(() => done.count(), { timeout: 15_000 }).toBe(1);
    expect(await done.textContent()).toMatch(
      /^Lab complete — 70\/70 points\. (Next: .+\.|That was the last lab)/,
    );
    expect(await page.locator('.lab-score').textContent()).toBe('70 / 70 points');
  });
});

describe('a lab server message the page cannot read', () => {
  it(
    'says the page and the lab server disagree, logs which field, and goes on with later messages',
    { timeout: 120_000 },
    async () => {
      const tab = await site.browser.newPage();
      const warnings: { text: string; detail: unknown }[] = [];
      tab.on('console', (m) => {
        if (m.type() !== 'warning') return;
        const text = m.text();
        void m
          .args()[1]
          ?.jsonValue()
          .then((detail: unknown) => warnings.push({ text, detail }));
      });
      // The real gateway's first lab.state, with a trigger this page does not know (as a newer server might send).
      let tampered = false;
      // The page closing its lab socket would be the panel giving up on the channel, which it must not do. (A close
      // from the gateway's side, then a reconnect, is no part of this: under load it happened once here.)
      const pageClosed: (number | undefined)[] = [];
      await tab.routeWebSocket(/\/ws\/lab/, (ws) => {
        const server = ws.connectToServer();
        ws.onClose((code) => {
          pageClosed.push(code);
          void server.close();
        });
        server.onMessage((m) => {
          if (!tampered && typeof m === 'string' && m.includes('"lab.state"')) {
            tampered = true;
            ws.send(JSON.stringify({ ...(JSON.parse(m) as object), trigger: 'telepathy' }));
          } else ws.send(m);
        });
      });
      await tab.goto(`${site.gateway.url}/labs/${LAB}/`);
      const mismatch = tab.locator('.lab-mismatch');
      await expect.poll(() => mismatch.isVisible(), { timeout: 60_000 }).toBe(true);
      expect(await mismatch.getAttribute('role')).toBe('alert');
      expect((await mismatch.innerText()).replace(/\s+/g, ' ')).toContain(
        'The page and the lab server disagree — reload the page',
      );
      // Which message and which field: in small print on the page, and in the console.
      expect(await mismatch.locator('.lab-mismatch-code').innerText()).toMatch(/^lab\.state · trigger: /);
      expect(await mismatch.getByRole('button', { name: 'Reload the page' }).isVisible()).toBe(true);
      await expect.poll(() => warnings.length).toBeGreaterThan(0);
      expect(warnings[0]?.text).toMatch(/lab\.state message this page cannot read: trigger: /);
      expect(warnings[0]?.detail).toMatchObject({ type: 'lab.state', paths: [['trigger']] });

      // The page keeps its channel and the panel goes on: Check brings a state it can read, and the tasks show.
      await expect
        .poll(() => tab.locator('.lab-live').getAttribute('data-state'), { timeout: 60_000 })
        .toBe('open');
      await tab.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { labTriggers: string[] }).labTriggers = seen;
        document.querySelector('xenlab-lab')?.addEventListener('lab-state', (ev) => {
          seen.push((ev as CustomEvent<{ trigger: string }>).detail.trigger);
        });
      });
      await tab.locator('.lab-check-all').click();
      await expect
        .poll(() => tab.evaluate(() => (window as unknown as { labTriggers: string[] }).labTriggers), {
          timeout: 30_000,
        })
        .toContain('check');
      expect(await tab.locator('.lab-task').count()).toBe(4);
      expect(await tab.locator('.lab-score').textContent()).toMatch(/^\d+ \/ 70 points$/);
      expect(await mismatch.isVisible()).toBe(true);
      expect(pageClosed).toEqual([]);
      await tab.close();
    },
  );
});
