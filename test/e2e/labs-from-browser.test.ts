// Every lab, opened from the browser as a learner opens it, earns at least one point: the page's terminal comes up
// on the driver the lab names (local, docker or a nested Xen in QEMU), the first task's solution is typed into
// it, and the task panel turns green. A lab whose driver cannot run on this machine must say so clearly on the
// page (which driver, why, what to do) instead — except in CI (XENLAB_REQUIRE_XEN=1), where the nested-Xen labs
// must run. One gateway serves every lab; the first nested-Xen boot takes 1-2 minutes under TCG.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashAnswer } from '../../sandbox/src/grading/checks.js';
import { render } from '../../sandbox/src/labs/params.js';
import { LABS_DIR, loadAllLabs } from '../../sandbox/src/labs/loader.js';
import type { Lab } from '../../sandbox/src/labs/loader.js';
import { EnvironmentManager } from '../../sandbox/src/sessions/index.js';
import { launchBrowser, terminalText } from '../helpers/browser.js';
import { startLabGateway, type LabGateway } from './lab-harness.js';

const { labs } = loadAllLabs(LABS_DIR);
const requireXen = process.env.XENLAB_REQUIRE_XEN === '1';

let lg: LabGateway;
let browser: Browser;
let closeBrowser: () => Promise<void>;

beforeAll(async () => {
  lg = await startLabGateway({ pollMs: 1000 });
  ({ browser, close: closeBrowser } = await launchBrowser());
}, 60_000);
afterAll(async () => {
  await closeBrowser();
  await lg.close();
}, 120_000);

const TERMINAL = '.lab-terminal-panel:not([hidden]) xenlab-terminal';
const screenText = (p: Page) => terminalText(p, TERMINAL);

/** Types lines into the visible terminal, as a learner does, each followed by Enter. */
async function type(p: Page, lines: readonly string[]): Promise<void> {
  await p.locator('.lab-terminal-panel:not([hidden]) .xt-screen').click();
  for (const line of lines) {
    await p.keyboard.type(line);
    await p.keyboard.press('Enter');
  }
}

/** Lines to type, and the terminal (tab) to type them in when the solution names one. */
interface Typing {
  readonly terminal?: string;
  readonly lines: readonly string[];
}

/**
 * What a learner types for the first task: the solution's code blocks with their parameters filled in, each in the
 * terminal it names (```` ```sh terminal=storage-b ````, labs with several machines) or the one in front; a
 * JavaScript block is the file it names (```` ```js file=~/name.mjs ````) or the task's text does, written with a
 * heredoc.
 */
function solutionTyping(lab: Lab, params: Readonly<Record<string, string>>): Typing[] {
  const task = lab.manifest.tasks[0];
  if (!task?.solution) throw new Error(`${lab.id}: the first task has no solution`);
  const text = render(task.solution, params);
  const out: Typing[] = [];
  for (const m of text.matchAll(/```(\w*)((?:[ \t]+\w+=\S*)*)[ \t]*\n([\s\S]*?)```/g)) {
    const [, lang = '', attrs = '', code = ''] = m;
    const terminal = /terminal=([\w.-]+)/.exec(attrs)?.[1];
    const body = code.replace(/\n$/, '').split('\n');
    const lines =
      lang === 'js' || lang === 'javascript'
        ? (() => {
            // The block's file= (as Skip writes it), else the file the task's text names.
            const file = /file=(\S+)/.exec(attrs)?.[1] ?? /`(~\/[\w.-]+\.m?js)`/.exec(task.text)?.[1];
            if (!file) throw new Error(`${lab.id}: which file does the JavaScript solution go to?`);
            return [`cat > ${file} <<'XENLAB_EOF'`, ...body, 'XENLAB_EOF'];
          })()
        : body;
    out.push(terminal === undefined ? { lines } : { terminal, lines });
  }
  if (out.length === 0) throw new Error(`${lab.id}: no code block in the first task's solution`);
  return out;
}

/** Types each block in its terminal: the learner clicks that terminal's tab first, and waits for it to be open. */
async function typeSolution(p: Page, typing: readonly Typing[]): Promise<void> {
  for (const t of typing) {
    if (t.terminal !== undefined) {
      await p.locator(`.lab-tab[data-terminal="${t.terminal}"]`).click();
      await expect
        .poll(() => p.locator(TERMINAL).getAttribute('data-state'), { timeout: 120_000, interval: 500 })
        .toBe('open');
    }
    await type(p, t.lines);
  }
}

/** The first task's answer checks that expect a hashed answer: the learner reads the answer on the screen. */
const hashedAnswers = (lab: Lab) =>
  (lab.manifest.tasks[0]?.checks ?? []).flatMap((c) =>
    c.kind === 'answer' && 'sha256' in c.expect ? [{ id: c.id, sha256: c.expect.sha256 }] : [],
  );

/** A word on the screen whose hash is the expected one (what `xl info`, `bottleneck`… printed). */
function answerOnScreen(screen: string, sha256: string): string | undefined {
  return [...new Set(screen.split(/[\s:,|()[\]"'=]+/))].find((w) => w && hashAnswer(w) === sha256);
}

describe('every lab, from the browser', () => {
  for (const lab of [...labs].sort((a, b) => a.manifest.order - b.manifest.order)) {
    const driver = lab.manifest.environment.driver;
    // Slow: a nested Xen boots for minutes; a pool with realistic timings installs and starts its VMs at a pool's
    // pace (lab 8's naive loop of twenty is over a minute on purpose).
    const slow = driver !== 'local' || lab.manifest.environment.realisticTimings;
    it(`earns a point on ${lab.id} (${driver} driver)`, { timeout: slow ? 600_000 : 120_000 }, async () => {
      const availability = await lg.labs.drivers.available(driver);
      const page = await browser.newPage();
      // What the gateway said before the terminal was ready (the page clears its screen on term.ready).
      const starting: string[] = [];
      page.on('websocket', (ws) => {
        ws.on('framereceived', (f) => {
          if (typeof f.payload === 'string' && f.payload.includes('"env.starting"')) starting.push(f.payload);
        });
      });
      try {
        await page.goto(`${lg.gateway.url}/labs/${lab.id}/`);
        if (!availability.ok) {
          if (driver === 'qemu-xen' && requireXen)
            throw new Error(`XENLAB_REQUIRE_XEN=1 but qemu-xen cannot run: ${availability.reason}`);
          // The page says which driver, why and what to do — in the terminal and in the task panel.
          await expect
            .poll(() => page.locator('.lab-notice').textContent(), { timeout: 30_000 })
            .toMatch(/this lab needs .+ which cannot run on this machine: .+\. (Run|Start|Install)/);
          expect(await page.locator('.lab-notice').textContent()).toContain(availability.fix);
          // The terminal says it too (its lines wrap anywhere: compared without white space).
          await expect
            .poll(async () => (await screenText(page)).replace(/\s+/g, ''), { timeout: 30_000 })
            .toContain(availability.fix.replace(/\s+/g, ''));
          return;
        }
        await expect
          .poll(() => page.locator(TERMINAL).getAttribute('data-state'), {
            timeout: slow ? 420_000 : 30_000,
            interval: 500,
          })
          .toBe('open');
        // A lab on a slow driver showed what was starting (and its ETA) before its terminal was ready.
        if (driver === 'qemu-xen') expect(starting.length).toBeGreaterThan(0);
        const env = await lg.environmentOf(lab.id, 60_000);
        const task = page.locator(`.lab-task[data-task="${lab.manifest.tasks[0]?.id ?? ''}"]`);
        await expect.poll(() => task.count(), { timeout: 30_000 }).toBe(1);

        const typing = solutionTyping(lab, env.params);
        const lines = typing.flatMap((t) => t.lines);
        const answers = hashedAnswers(lab);
        await typeSolution(page, typing);
        // Answer checks: the learner reads the answer off the screen and types it into the task panel (tools that
        // need a few samples first, like `bottleneck`, are asked again).
        for (const a of answers) {
          let found: string | undefined;
          const deadline = Date.now() + 90_000;
          while (!(found = answerOnScreen(await screenText(page), a.sha256)) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 5_000));
            if (!answerOnScreen(await screenText(page), a.sha256)) await type(page, lines);
          }
          expect(found, `the answer to ${a.id} on the screen`).toBeDefined();
          const form = page.locator(`.lab-answer[data-check="${a.id}"]`);
          await form.locator('input').fill(found ?? '');
          await form.locator('button').click();
        }
        await expect
          // (qemu-xen: a check may wait for a host's cold boot. PXE: the grader's checks on the host power it on as
          // soon as a configuration exists; the panel turns green from the other checks, and the cull below ends
          // that boot instead of waiting out the driver's 240 s boot timeout.)
          .poll(() => task.getAttribute('data-pass'), { timeout: slow ? 330_000 : 60_000, interval: 500 })
          .toBe('true');
        expect(Number(await page.locator('xenlab-lab').getAttribute('data-score'))).toBeGreaterThan(0);
      } finally {
        await page.close();
        // One lab at a time, as a learner works: frees a nested Xen host's memory before the next lab boots one,
        // and keeps the learner under the gateway's limit of environments running at once.
        const learner = lg.labs.list().find((e) => e.labId === lab.id)?.learnerId;
        if (learner)
          await lg.gateway.environments.cull(EnvironmentManager.idFor(learner, lab.id), 'test done');
      }
    });
  }
});
