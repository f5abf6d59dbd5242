// A solution's code block that names a terminal (```` ```sh terminal=watch ````) runs there, from the browser: in
// The XenAPI (two terminals, Shell and Events) the learner reveals the events task's solution with the Shell tab in
// front, presses "▶ Run on watch", and sees the Events tab come to the front with their watcher running in it (and
// nothing of it in the Shell); the solution's next block, which names no terminal, goes back to the Shell (the lab's
// first terminal, where Skip runs it) even though the Events tab is in front, and the watcher prints the halt. A Run
// on a terminal whose shell has exited (the learner left it, or a Reset ended it) starts a new shell and types there.
// Skip to the last task then applies the two first tasks' solutions, which are JavaScript files to save and run.
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { terminalText } from '../helpers/browser.js';
import { useLabSite } from '../helpers/site.js';

const LAB = 'the-xenapi';
const site = useLabSite({ pollMs: 500 });
let page: Page;

beforeAll(async () => {
  page = await site.browser.newPage();
});

const panel = (name: string) => page.locator(`.lab-terminal-panel[data-terminal="${name}"]`);
const tab = (name: string) => page.locator(`.lab-tab[data-terminal="${name}"]`);
/** What a terminal shows (xterm.js's buffer), in front or behind the other tab. */
const screen = (name: string) =>
  terminalText(page, `.lab-terminal-panel[data-terminal="${name}"] xenlab-terminal`);
const events = () => page.locator('.lab-task[data-task="events"]');

/** The watcher of the events task, as its solution shows it (the learner saves it as ~/watch.mjs). */
const WATCH_MJS = `import { createClient } from '@xenlab/toolkit/xenapi';
const env = process.env;
const xapi = createClient({ url: env.XENLAB_XAPI_URL, user: env.XENLAB_XAPI_USER, password: env.XENLAB_XAPI_PASSWORD });
xapi.watchEvents(['VM'], (ev) => {
  if (ev.snapshot) console.log(\`\${ev.snapshot.name_label} \${ev.snapshot.power_state}\`);
});
`;

describe('Run on a named terminal (The XenAPI: Shell and Events)', () => {
  it(
    'types the block into the terminal it names and brings its tab to the front; unnamed blocks go to the first',
    { timeout: 180_000 },
    async () => {
      await page.goto(`${site.gateway.url}/labs/${LAB}/`);
      for (const name of ['shell', 'watch'])
        await expect
          .poll(() => panel(name).locator('xenlab-terminal').getAttribute('data-state'), { timeout: 60_000 })
          .toBe('open');
      await expect
        .poll(() => page.locator('.lab-live').getAttribute('data-state'), { timeout: 60_000 })
        .toBe('open');
      expect(await tab('shell').getAttribute('aria-selected')).toBe('true');
      expect(await panel('watch').isHidden()).toBe(true);

      // Where the learner is by the events task: ~/watch.mjs written, their VM started (task 2).
      const env = await site.lab.environmentOf(LAB);
      const vm = env.params.vmName;
      if (vm === undefined) throw new Error('the lab has no vmName parameter');
      const ready = await env.sandbox.exec(
        ['bash', '-c', 'cat > ~/watch.mjs && xe vm-start vm="$LAB_VM_NAME"'],
        {
          input: WATCH_MJS,
        },
      );
      expect(ready).toMatchObject({ code: 0, stderr: '' });

      // Three failed Checks of the events task unlock its solution.
      for (const left of [2, 1]) {
        await events().getByRole('button', { name: 'Check', exact: true }).click();
        await expect
          .poll(() => events().locator('.lab-solution-later').textContent(), { timeout: 15_000 })
          .toBe(`Solution after ${String(left)} more Check${left === 1 ? '' : 's'}`);
      }
      await events().getByRole('button', { name: 'Check', exact: true }).click();
      await events().getByRole('button', { name: 'Show the solution' }).click({ timeout: 15_000 });

      // Run on watch, with the Shell in front: the Events tab comes to the front and the watcher runs there.
      await events().getByRole('button', { name: '▶ Run on watch' }).click({ timeout: 15_000 });
      expect(await tab('watch').getAttribute('aria-selected')).toBe('true');
      expect(await tab('shell').getAttribute('aria-selected')).toBe('false');
      expect(await panel('watch').isVisible()).toBe(true);
      expect(await panel('shell').isHidden()).toBe(true);
      await expect
        .poll(() => screen('watch'), { timeout: 15_000 })
        .toContain('node ~/watch.mjs | tee ~/events.log');
      // The watcher is live once it prints a change to the VM (a new description each time until it does).
      await expect
        .poll(
          async () => {
            await env.sandbox.exec([
              'bash',
              '-c',
              'xe vm-param-set uuid=$(xe vm-list name-label="$LAB_VM_NAME" --minimal) name-description=$RANDOM',
            ]);
            return screen('watch');
          },
          { timeout: 30_000, interval: 500 },
        )
        .toMatch(new RegExp(`^${vm} Running$`, 'm'));
      expect(await screen('shell')).not.toContain('watch.mjs');
      expect(await screen('shell')).not.toMatch(new RegExp(`^${vm} Running$`, 'm'));

      // The next block names no terminal: it goes to the Shell (brought back to the front), not to the watcher.
      await events().getByRole('button', { name: '▶ Run on shell' }).click();
      expect(await tab('shell').getAttribute('aria-selected')).toBe('true');
      await expect.poll(() => screen('shell'), { timeout: 15_000 }).toContain(`xe vm-shutdown vm=${vm}`);
      await expect
        .poll(() => screen('watch'), { timeout: 30_000 })
        .toMatch(new RegExp(`^${vm} Halted$`, 'm'));
      expect(await screen('watch')).not.toContain('xe vm-shutdown');
      await expect.poll(() => events().getAttribute('data-pass'), { timeout: 30_000 }).toBe('true');
    },
  );

  it("starts the named terminal's shell again when it has exited, and types the block into the new one", async () => {
    // The learner stops the watcher and leaves its shell (Reset ends the shells too), then goes back to the Shell.
    const env = await site.lab.environmentOf(LAB);
    await tab('watch').click();
    await panel('watch').locator('.xt-screen').click();
    await page.keyboard.press('Control+C');
    await page.keyboard.type('exit');
    await page.keyboard.press('Enter');
    await expect
      .poll(() => panel('watch').locator('xenlab-terminal').getAttribute('data-state'), { timeout: 15_000 })
      .toBe('closed');
    await tab('shell').click();

    await events().getByRole('button', { name: '▶ Run on watch' }).click();
    expect(await tab('watch').getAttribute('aria-selected')).toBe('true');
    await expect
      .poll(() => panel('watch').locator('xenlab-terminal').getAttribute('data-state'), { timeout: 30_000 })
      .toBe('open');
    // The new shell runs the watcher: a change to the VM prints below the command (a new description each try).
    const vm = env.params.vmName ?? '';
    await expect
      .poll(
        async () => {
          await env.sandbox.exec([
            'bash',
            '-c',
            'xe vm-param-set uuid=$(xe vm-list name-label="$LAB_VM_NAME" --minimal) name-description=$RANDOM',
          ]);
          const lines = (await screen('watch')).split('\n');
          const typed = lines.findLastIndex((l) => l.endsWith('$ node ~/watch.mjs | tee ~/events.log'));
          return typed >= 0 && lines.slice(typed + 1).includes(`${vm} Halted`);
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe(true);
  });

  it('Skip to the last task applies the JavaScript solutions of the open tasks before it (they are files to save)', async () => {
    // The learner, past the events task by hand, skips the two first tasks: their solutions are JavaScript
    // (```js file=~/list-vms.mjs, ```js file=~/start-vm.mjs then node ~/start-vm.mjs), not shell.
    const env = await site.lab.environmentOf(LAB);
    const task = (id: string) => page.locator(`.lab-task[data-task="${id}"]`);
    await task('maintenance').getByRole('button', { name: 'Skip to this task' }).click();
    expect(await task('maintenance').locator('.lab-step-ask').textContent()).toMatch(
      /^Skip to “Maintenance without downtime”\? The solutions of the 2 open task\(s\) before it run/,
    );
    await task('maintenance').getByRole('button', { name: 'Skip ahead' }).click();
    await expect
      .poll(() => page.locator('.lab-notice').textContent(), { timeout: 60_000 })
      .toMatch(/^Skipped to “Maintenance without downtime”/);
    for (const id of ['sessions-and-records', 'async-tasks'])
      expect(await task(id).getAttribute('data-skipped')).toBe('true');
    expect(await task('events').getAttribute('data-skipped')).toBeNull();
    const files = await env.sandbox.exec([
      'bash',
      '-c',
      'cd && ls list-vms.mjs start-vm.mjs && node list-vms.mjs',
    ]);
    expect(files).toMatchObject({ code: 0 });
    expect(files.stdout).toContain(env.params.vmName ?? '?');
  }, 120_000);
});
