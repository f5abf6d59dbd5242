// Reset, skip and challenge mode (issue #16) in the browser: the mode switch hides the guide's Run buttons and
// shows what a hint costs; a hint shows as "(assisted: 1 hint)"; "Skip to this task" asks first, then applies the
// earlier task's solution (shown skipped); "Reset to the start of this task" asks first, then brings back the home as
// it was and opens the task again. The built page of a course lab is served with a lab folder of the test's own.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLearnerLocalDriver } from '../../sandbox/src/drivers/local/learner-tools.js';
import { createGateway, type Gateway } from '../../sandbox/src/gateway/index.js';
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
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-e2e-steps-'));
  const labs = join(dataDir, 'labs');
  mkdirSync(join(labs, LAB), { recursive: true });
  writeFileSync(join(labs, LAB, 'guide.mdx'), '---\ntitle: Steps\n---\n');
  writeFileSync(join(labs, LAB, 'solve.sh'), 'true\n');
  writeFileSync(
    join(labs, LAB, 'lab.yaml'),
    `id: ${LAB}
title: Steps in the panel
summary: Reset, skip, challenge.
tasks:
  - id: name-pool
    title: Name the pool
    text: Name it go.
    points: 20
    checks: [{ id: pool-named, kind: xapi, select: pool, where: { name_label: go } }]
    hints: [Use xe pool-param-set., 'name-label=go']
    solution: |
      \`\`\`sh
      xe pool-param-set uuid=$(xe pool-list --minimal) name-label=go
      \`\`\`
  - id: make-file
    title: Make a file
    text: Write ~/done.txt.
    checks: [{ id: file-there, kind: script, run: 'test -f ~/done.txt || { echo "FAIL: no ~/done.txt"; exit 1; }' }]
    solution: |
      \`\`\`sh
      echo hi > ~/done.txt
      \`\`\`
`,
  );
  gateway = await createGateway({
    port: 0,
    siteDir,
    dataDir,
    labsDir: labs,
    driver: createLearnerLocalDriver({ toolBinDir: join(dataDir, 'bin') }),
    labPollMs: 500,
  });
  ({ browser, close: closeBrowser } = await launchBrowser());
  page = await browser.newPage();
});

afterAll(async () => {
  await closeBrowser();
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const task = (id: string) => page.locator(`.lab-task[data-task="${id}"]`);

describe('reset, skip and modes in the task panel', () => {
  it('challenge hides the guide Run buttons and prices hints; skip and reset ask first and do what they say', async () => {
    await page.goto(`${gateway.url}/labs/${LAB}/`);
    await expect
      .poll(() => page.locator('.lab-live').getAttribute('data-state'), { timeout: 60_000 })
      .toBe('open');
    const guideRun = page.locator('.lab-guide .lab-run').first();
    expect(await guideRun.isVisible()).toBe(true);

    // Challenge: no Run buttons in the guide; the Hint button says what it costs.
    await page.getByRole('button', { name: 'Challenge' }).click();
    await expect.poll(() => guideRun.isVisible()).toBe(false);
    await expect
      .poll(() => page.getByRole('button', { name: 'Challenge' }).getAttribute('aria-pressed'))
      .toBe('true');
    const hint = task('name-pool').locator('.lab-hint-btn');
    expect(await hint.textContent()).toBe('Hint (−5 pts)');
    await hint.click();
    await expect
      .poll(() => task('name-pool').locator('.lab-assisted').textContent(), { timeout: 10_000 })
      .toBe('(assisted: 1 hint)');
    expect(await task('name-pool').locator('.lab-solution-btn').count()).toBe(0);

    // Skip to "Make a file": asks first, then the pool is named by the solution and the task shows skipped.
    await task('make-file').getByRole('button', { name: 'Skip to this task' }).click();
    expect(await task('make-file').locator('.lab-step-ask').textContent()).toMatch(
      /^Skip to “Make a file”\?/,
    );
    await task('make-file').getByRole('button', { name: 'Skip ahead' }).click();
    await expect.poll(() => task('name-pool').getAttribute('data-skipped'), { timeout: 30_000 }).toBe('true');
    expect(await task('name-pool').locator('.lab-points').textContent()).toBe('skipped · 0 / 20 pts');
    await expect.poll(() => page.locator('.lab-notice').textContent()).toMatch(/^Skipped to “Make a file”/);

    // The file, made in the learner's home: the task passes; then reset to its start.
    const env = await gateway.labs.list().find((e) => e.labId === LAB)?.environment;
    if (!env) throw new Error('no environment');
    await env.sandbox.exec(['bash', '-c', 'echo hi > ~/done.txt']);
    await page.getByRole('button', { name: 'Check', exact: true }).first().click();
    await expect.poll(() => task('make-file').getAttribute('data-pass'), { timeout: 30_000 }).toBe('true');
    await task('make-file').getByRole('button', { name: 'Reset to the start of this task' }).click();
    expect(await task('make-file').locator('.lab-step-ask').textContent()).toMatch(
      /^Reset to the start of “Make a file”\?/,
    );
    await task('make-file').getByRole('button', { name: 'Reset', exact: true }).click();
    await expect.poll(() => task('make-file').getAttribute('data-pass'), { timeout: 30_000 }).toBe('false');
    await expect
      .poll(() => page.locator('.lab-notice').textContent())
      .toMatch(/^Back at the start of “Make a file”/);
    const r = await env.sandbox.exec(['bash', '-c', 'test -e ~/done.txt && echo there || echo gone']);
    expect(r.stdout.trim()).toBe('gone');
    expect(await task('make-file').locator('.lab-assisted').textContent()).toBe('(assisted: reset once)');
  });
});
