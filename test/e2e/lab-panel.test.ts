// The task panel's text (issue #12): feedback that quotes a command shows it as code, not with raw backticks (and
// is built as elements, so it cannot inject markup), and a lab whose tasks are all done says so, with what next.
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
