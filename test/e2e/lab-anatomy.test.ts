import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { terminalText } from '../helpers/browser.js';
import { useLabSite } from '../helpers/site.js';

const site = useLabSite();
let page: Page;

beforeAll(async () => {
  page = await site.browser.newPage();
});

/** The terminal's visible lines (xterm.js's buffer), as the learner sees them. */
const screenText = (p: Page) => terminalText(p, '.lab-terminal-panel:not([hidden]) xenlab-terminal');

/** Types a command into the terminal, as a learner does, and presses Enter. */
async function type(p: Page, command: string): Promise<void> {
  await p.locator('.lab-terminal-panel:not([hidden]) .xt-screen').click();
  await p.keyboard.type(command);
  await p.keyboard.press('Enter');
}

const task = (id: string) => page.locator(`.lab-task[data-task="${id}"]`);
const check = (id: string) => page.locator(`.lab-check[data-check="${id}"]`);

describe('a learner working through lab 1 (Anatomy of a pool)', () => {
  it('shows the guide beside a live terminal and every task not done yet', async () => {
    await page.goto(`${site.gateway.url}/labs/anatomy-of-a-pool/`);
    await expect
      .poll(() => page.locator('xenlab-terminal').getAttribute('data-state'), { timeout: 30_000 })
      .toBe('open');
    await expect
      .poll(() => page.locator('.lab-live').getAttribute('data-state'), { timeout: 30_000 })
      .toBe('open');
    await expect.poll(() => page.locator('.lab-task').count(), { timeout: 30_000 }).toBe(5);
    // The page's terminal and its task panel opened at once, on a first visit (no cookie yet): both must belong to
    // one learner, or the learner types into one pool while another is graded.
    const envs = site.lab.labs.list().filter((e) => e.labId === 'anatomy-of-a-pool');
    expect(envs).toHaveLength(1);
    expect(site.gateway.db.prepare('SELECT count(*) AS n FROM learners').get()).toEqual({ n: 1 });
    expect(await page.locator('.lab-task[data-pass="true"]').count()).toBe(0);
    expect(await page.locator('.lab-score').textContent()).toBe('0 / 90 points');
    expect(await page.locator('.lab-guide h2').allTextContents()).toEqual(
      expect.arrayContaining(['Hosts', 'Storage: SR, PBD, VDI, VBD', 'Networks: network, PIF, VIF']),
    );
  });

  it('runs a guide code block in the terminal with its Run button', async () => {
    await page.locator('.lab-guide .lab-run').first().click();
    await expect.poll(() => screenText(page), { timeout: 15_000 }).toMatch(/name-label \( RW\): xcp-ng-0\d/);
  });

  it('turns a task green as the learner types, without pressing anything', async () => {
    await type(page, 'xe pool-param-set uuid=$(xe pool-list --minimal) name-label=$LAB_POOL_NAME');
    await expect
      .poll(() => task('name-the-pool').getAttribute('data-pass'), { timeout: 15_000 })
      .toBe('true');
    expect(await page.locator('.lab-score').textContent()).toBe('10 / 90 points');
    expect(await page.locator('.lab-announce').textContent()).toBe('Done: Name your pool.');
  });

  it('explains a disk created on local storage, and offers the hint about that cause', async () => {
    const env = await site.lab.environmentOf('anatomy-of-a-pool');
    const vdi = env.params.vdiName ?? '';
    await type(
      page,
      "xe vdi-create sr-uuid=$(xe sr-list name-label='Local storage' --minimal | cut -d, -f1) name-label=$LAB_VDI_NAME type=user virtual-size=512MiB",
    );
    await expect.poll(() => check('vdi-exists').getAttribute('data-pass'), { timeout: 15_000 }).toBe('true');
    expect(await check('vdi-on-shared-sr').locator('.lab-check-msg').textContent()).toBe(
      `${vdi} is not on a shared SR: create it on NFS storage.`,
    );
    expect(await check('vdi-big-enough').locator('.lab-check-msg').textContent()).toBe(
      `${vdi} is smaller than 1 GiB.`,
    );
    await task('create-a-disk').locator('.lab-hint-btn').click();
    await expect
      .poll(() => task('create-a-disk').locator('.lab-hint').textContent(), { timeout: 10_000 })
      .toBe(
        'Local storage belongs to one host. Destroy the VDI and create it again on the SR named NFS storage.',
      );
  });

  it('counts Check presses and unlocks the solution after three', async () => {
    for (let i = 3; i >= 1; i--) {
      await expect
        .poll(() => task('create-a-disk').locator('.lab-solution-later').textContent())
        .toBe(`Solution after ${i} more Check${i === 1 ? '' : 's'}`);
      await task('create-a-disk').locator('.lab-check-btn').click();
    }
    await task('create-a-disk').locator('.lab-solution-btn').click();
    await expect
      .poll(() => task('create-a-disk').locator('.lab-solution code').textContent(), { timeout: 10_000 })
      .toContain('xe vdi-create sr-uuid=$(xe sr-list name-label=');
  });

  it('turns the storage and network tasks green as the pool gets right', async () => {
    await type(page, 'xe vdi-destroy uuid=$(xe vdi-list name-label=$LAB_VDI_NAME --minimal)');
    await type(
      page,
      "vdi=$(xe vdi-create sr-uuid=$(xe sr-list name-label='NFS storage' --minimal) name-label=$LAB_VDI_NAME type=user virtual-size=1GiB)",
    );
    await expect
      .poll(() => task('create-a-disk').getAttribute('data-pass'), { timeout: 15_000 })
      .toBe('true');
    await type(
      page,
      'xe vbd-create vm-uuid=$(xe vm-list name-label=scratch --minimal) vdi-uuid=$vdi device=1',
    );
    await expect
      .poll(() => task('attach-the-disk').getAttribute('data-pass'), { timeout: 15_000 })
      .toBe('true');
    // A network of its own (no PIF) is not a storage network: the check wants eth1's network, renamed.
    await type(page, 'xe network-create name-label=$LAB_NET_NAME');
    await expect
      .poll(() => check('network-exists').locator('.lab-check-msg').textContent(), { timeout: 15_000 })
      .toMatch(/^There is no network named storage-\S+ carrying the hosts' eth1 yet/);
    await type(page, 'xe network-destroy uuid=$(xe network-list name-label=$LAB_NET_NAME --minimal)');
    await type(page, 'net=$(xe pif-list device=eth1 params=network-uuid --minimal | cut -d, -f1)');
    await type(page, 'xe network-param-set uuid=$net name-label=$LAB_NET_NAME');
    await expect
      .poll(() => check('network-exists').getAttribute('data-pass'), { timeout: 15_000 })
      .toBe('true');
    expect(await check('vif-on-network').locator('.lab-check-msg').textContent()).toMatch(
      /^scratch has no VIF on storage-/,
    );
    await type(
      page,
      'xe vif-create vm-uuid=$(xe vm-list name-label=scratch --minimal) network-uuid=$net device=1',
    );
    await expect
      .poll(() => task('network-for-the-vm').getAttribute('data-pass'), { timeout: 15_000 })
      .toBe('true');
  });

  it('checks answers typed in the task panel', async () => {
    const answer = async (id: string, text: string) => {
      const form = page.locator(`.lab-answer[data-check="${id}"]`);
      await form.locator('input').fill(text);
      await form.locator('button').click();
    };
    await answer('how-many-pifs', '4');
    await expect
      .poll(() => page.locator('.lab-notice').textContent(), { timeout: 10_000 })
      .toBe('Not quite: count the PIFs of every host (xe pif-list physical=true).');
    // The command is shown as code, not as raw backticks.
    expect(await page.locator('.lab-notice code').textContent()).toBe('xe pif-list physical=true');
    expect(await check('how-many-pifs').getAttribute('data-pass')).toBe('false');
    await answer('how-many-pifs', ' 6 ');
    await expect
      .poll(() => check('how-many-pifs').getAttribute('data-pass'), { timeout: 10_000 })
      .toBe('true');
    await answer('nfs-pbds', '3');
    await expect
      .poll(() => task('count-the-parts').getAttribute('data-pass'), { timeout: 10_000 })
      .toBe('true');
    // 'create-a-disk' (20 points) passed after its solution was revealed above: a shown solution earns nothing.
    expect(await page.locator('.lab-score').textContent()).toBe('70 / 90 points');
  });

  it('shows the lab as complete in the course sidebar', async () => {
    await page.reload();
    await expect
      .poll(() => page.locator('nav a[href$="/labs/anatomy-of-a-pool/"] .lab-progress').textContent(), {
        timeout: 15_000,
      })
      .toBe('✓');
    // The grader's progress outlives the page: every task is still green after the reload.
    await expect.poll(() => page.locator('.lab-task[data-pass="true"]').count(), { timeout: 15_000 }).toBe(5);
  });
});
