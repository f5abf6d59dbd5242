// The terminal's states beyond "connected", in Chromium against the real gateway and the built site: a lab whose
// driver cannot run on this machine (a permanent refusal, close 4003: the message is shown and nothing retries),
// a lab whose environment takes a while to come up (what starts, about how long, the time elapsed, and the boot
// console from its first line), a message the page cannot read (the page and the lab server disagree: it stops and
// asks for a reload), and the bar's keyboard hint on a phone (hidden; the description stays).
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootFeeds, createDriverRegistry, type BootWatchable } from '../../sandbox/src/drivers/index.js';
import type { DriverFactory } from '../../sandbox/src/drivers/index.js';
import { createLearnerLocalDriver } from '../../sandbox/src/drivers/local/learner-tools.js';
import type { SandboxDriver } from '../../sandbox/src/drivers/types.js';
import { createGateway, type Gateway } from '../../sandbox/src/gateway/index.js';
import { LABS_DIR } from '../../sandbox/src/labs/loader.js';
import { launchBrowser, terminalText } from '../helpers/browser.js';

const siteDir = resolve(import.meta.dirname, '..', '..', 'site', 'dist');

let browser: Browser;
let closeBrowser: () => Promise<void>;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  if (!existsSync(join(siteDir, 'labs', 'xen-under-the-hood', 'index.html')))
    throw new Error('the site is not built with the labs: run `npm run build` (npm test does it first)');
  ({ browser, close: closeBrowser } = await launchBrowser());
});
afterAll(async () => {
  await closeBrowser();
  for (const f of cleanups.reverse()) await f();
}, 60_000);

/** A gateway on port 0 with the built site; `qemuXen` stands in for the nested-Xen driver. */
async function startGateway(options: {
  qemuXen: (local: SandboxDriver) => DriverFactory;
  labsDir?: string;
}): Promise<Gateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'xenlab-e2e-states-'));
  const driver = createLearnerLocalDriver({ toolBinDir: join(dataDir, 'bin') });
  const gateway = await createGateway({
    port: 0,
    siteDir,
    dataDir,
    driver,
    drivers: createDriverRegistry({ local: driver, factories: [options.qemuXen(driver)], probeTtlMs: 0 }),
    ...(options.labsDir ? { labsDir: options.labsDir } : {}),
  });
  cleanups.push(async () => {
    await gateway.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return gateway;
}

async function newPage(viewport = { width: 1280, height: 900 }): Promise<Page> {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  cleanups.push(() => ctx.close());
  return page;
}

const TERMINAL = 'xenlab-terminal';
const FIX = 'Run `sudo npx xenlab image build --xen` (3-5 minutes, once), then reload this page.';

describe('a lab whose driver cannot run here', () => {
  it('shows which driver, why and what to do, and never reconnects', { timeout: 90_000 }, async () => {
    const gateway = await startGateway({
      qemuXen: () => ({
        name: 'qemu-xen',
        available: () =>
          Promise.resolve({
            ok: false,
            code: 'SANDBOX_ERR_NO_XEN_IMAGE',
            reason: 'no nested-Xen image is built (test)',
            fix: FIX,
          }),
        create: () => Promise.reject(new Error('not available')),
      }),
    });
    const page = await newPage();
    const sockets: string[] = [];
    const closes: number[] = [];
    page.on('websocket', (ws) => {
      sockets.push(new URL(ws.url()).pathname);
    });
    await page.goto(`${gateway.url}/labs/xen-under-the-hood/`);
    const terminal = page.locator(TERMINAL).first();
    await expect.poll(() => terminal.getAttribute('data-state'), { timeout: 30_000 }).toBe('unavailable');
    // The terminal area says it plainly: a panel above the screen, the code as code, and the screen itself.
    const panel = terminal.locator('.xt-unavailable');
    expect(await panel.isVisible()).toBe(true);
    expect(await panel.getAttribute('role')).toBe('alert');
    const text = (await panel.innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('This lab cannot run on this machine');
    expect(text).toMatch(/this lab needs a nested Xen host \(the qemu-xen driver/i);
    expect(text).toContain('no nested-Xen image is built (test)');
    expect(text).toContain(
      'Run sudo npx xenlab image build --xen (3-5 minutes, once), then reload this page.',
    );
    expect(text).toContain('SANDBOX_ERR_NO_XEN_IMAGE');
    expect(await panel.locator('code').textContent()).toBe('sudo npx xenlab image build --xen');
    expect(await terminal.locator('.xt-status').textContent()).toMatch(/cannot run on this machine/);
    const screen = (await terminalText(page, TERMINAL)).replace(/\s+/g, '');
    expect(screen).toContain('Thislabcannotrunonthismachine.');
    expect(screen).toContain(FIX.replace(/\s+/g, ''));
    expect(await terminal.locator('.xt-progress').isVisible()).toBe(false);

    // Nothing retries: no socket opens in the next 10 s (a reconnect loop would have opened several).
    const opened = sockets.length;
    expect(sockets).toContain('/ws/terminal');
    page.on('websocket', (ws) => {
      ws.on('close', () => closes.push(Date.now()));
    });
    await page.waitForTimeout(10_000);
    expect(sockets.length, `sockets opened: ${sockets.join(', ')}`).toBe(opened);
    expect(sockets.filter((p) => p === '/ws/terminal')).toHaveLength(1);
    expect(await terminal.getAttribute('data-state')).toBe('unavailable');
    // Typing does not bring it back either.
    await terminal.locator('.xt-screen').click();
    await page.keyboard.type('ls\n');
    await page.waitForTimeout(1_000);
    expect(sockets.length).toBe(opened);
  });
});

/**
 * A stand-in for the nested-Xen driver that takes a few seconds to "boot": it reports a phase with an ETA and a
 * console line every 250 ms (as qemu-xen does), then gives the lab a local shell.
 */
function slowXen(local: SandboxDriver, bootMs: number): SandboxDriver & BootWatchable {
  const feeds = new BootFeeds();
  return {
    name: 'qemu-xen',
    jailed: local.jailed,
    notice: local.notice,
    list: () => local.list(),
    watchBoot: (id, listener) => feeds.watch(id, listener),
    bootEstimateMs: () => bootMs,
    async create(spec) {
      feeds.begin(spec.id, 'booting a Xen host (test)', bootMs);
      let n = 0;
      const lines = setInterval(() => {
        n++;
        feeds.console(spec.id, Buffer.from(`BOOTLOG line ${String(n)}\r\n`));
      }, 250);
      feeds.console(spec.id, Buffer.from('BOOTLOG first line: Xen 4.17 (test)\r\n'));
      await new Promise((r) => setTimeout(r, bootMs));
      clearInterval(lines);
      feeds.end(spec.id);
      return local.create(spec);
    },
  };
}

describe('a lab whose environment takes a while to start', () => {
  it(
    'shows what starts, about how long, the time elapsed and the boot console',
    { timeout: 90_000 },
    async () => {
      // Lab 1 as if it ran on a nested Xen host (a temp labs folder; the built page is the same).
      const labsDir = mkdtempSync(join(tmpdir(), 'xenlab-e2e-states-labs-'));
      cleanups.push(() => {
        rmSync(labsDir, { recursive: true, force: true });
      });
      cpSync(join(LABS_DIR, 'anatomy-of-a-pool'), join(labsDir, 'anatomy-of-a-pool'), { recursive: true });
      const yaml = join(labsDir, 'anatomy-of-a-pool', 'lab.yaml');
      writeFileSync(
        yaml,
        readFileSync(yaml, 'utf8').replace(/^environment:\n/m, 'environment:\n  driver: qemu-xen\n'),
      );
      const bootMs = 8_000;
      const gateway = await startGateway({
        labsDir,
        qemuXen: (local) => ({
          name: 'qemu-xen',
          available: () => Promise.resolve({ ok: true }),
          create: () => Promise.resolve(slowXen(local, bootMs)),
        }),
      });
      const page = await newPage();
      await page.goto(`${gateway.url}/labs/anatomy-of-a-pool/`);
      const terminal = page.locator(TERMINAL).first();
      await expect.poll(() => terminal.getAttribute('data-state'), { timeout: 15_000 }).toBe('starting');
      const progress = terminal.locator('.xt-progress');
      await expect.poll(() => progress.isVisible()).toBe(true);
      await expect
        .poll(() => progress.innerText(), { timeout: 5_000 })
        .toMatch(/Starting a nested Xen host… about \d+ s/);
      expect(await progress.innerText()).toMatch(/booting a Xen host \(test\) · \d+ s elapsed/);
      const elapsed = async () => Number(/(\d+) s elapsed/.exec(await progress.innerText())?.[1] ?? -1);
      const first = await elapsed();
      await expect.poll(elapsed, { timeout: 5_000 }).toBeGreaterThan(first);
      expect(await terminal.locator('.xt-status').textContent()).toMatch(/Starting a nested Xen host/);
      // The boot console shows from its first line while the environment comes up.
      await expect
        .poll(() => terminalText(page, TERMINAL), { timeout: 5_000 })
        .toContain('BOOTLOG first line: Xen 4.17 (test)');
      await expect.poll(() => terminalText(page, TERMINAL), { timeout: 5_000 }).toMatch(/BOOTLOG line [2-9]/);

      // Then the terminal attaches: the progress goes, the shell answers.
      await expect.poll(() => terminal.getAttribute('data-state'), { timeout: 30_000 }).toBe('open');
      expect(await progress.isVisible()).toBe(false);
      await terminal.locator('.xt-screen').click();
      await page.keyboard.type('echo up-$((6*7))');
      await page.keyboard.press('Enter');
      await expect.poll(() => terminalText(page, TERMINAL), { timeout: 10_000 }).toMatch(/^up-42\s*$/m);
    },
  );
});

describe('a message the page cannot read', () => {
  it(
    'says the page and the lab server disagree, logs which field, stops, and comes back on Reload',
    { timeout: 90_000 },
    async () => {
      const gateway = await startGateway({
        qemuXen: () => ({
          name: 'qemu-xen',
          available: () => Promise.resolve({ ok: false, code: 'X', reason: 'unused', fix: 'unused' }),
          create: () => Promise.reject(new Error('unused')),
        }),
      });
      const page = await newPage();
      const errors: { text: string; detail: unknown }[] = [];
      page.on('console', (m) => {
        if (m.type() !== 'error') return;
        const text = m.text();
        void m
          .args()[1]
          ?.jsonValue()
          .then((detail: unknown) => errors.push({ text, detail }));
      });
      // The real gateway's term.ready, with the field that hid last week's bug made invalid on its way.
      let tamper = true;
      let sockets = 0;
      await page.routeWebSocket(/\/ws\/terminal/, (ws) => {
        sockets++;
        const server = ws.connectToServer();
        server.onMessage((m) => {
          if (tamper && typeof m === 'string' && m.includes('"term.ready"')) {
            ws.send(JSON.stringify({ ...(JSON.parse(m) as object), offset: -1 }));
          } else ws.send(m);
        });
      });
      await page.goto(`${gateway.url}/getting-started/`);
      const terminal = page.locator(TERMINAL).first();
      await expect.poll(() => terminal.getAttribute('data-state'), { timeout: 20_000 }).toBe('mismatch');
      const panel = terminal.locator('.xt-unavailable');
      expect(await panel.isVisible()).toBe(true);
      expect(await panel.getAttribute('role')).toBe('alert');
      const text = (await panel.innerText()).replace(/\s+/g, ' ');
      expect(text).toContain('The page and the lab server disagree — reload the page');
      // For whoever debugs it: which message and which field, on the page and in the console.
      expect(await panel.locator('.xt-unavailable-code').innerText()).toMatch(/^term\.ready · offset: /);
      expect(await terminal.locator('.xt-status').textContent()).toBe(
        'The page and the lab server disagree — reload the page',
      );
      await expect.poll(() => errors.length).toBeGreaterThan(0);
      expect(errors[0]?.text).toMatch(/term\.ready message this page cannot read: offset: /);
      expect(errors[0]?.detail).toMatchObject({ type: 'term.ready', paths: [['offset']] });
      expect(await terminal.locator('.xt-progress').isVisible()).toBe(false);

      // Nothing reconnects (it would get the same message), and typing does not bring it back.
      await terminal.locator('.xt-screen').click();
      await page.keyboard.type('ls\n');
      await page.waitForTimeout(3_000);
      expect(sockets).toBe(1);
      expect(await terminal.getAttribute('data-state')).toBe('mismatch');

      // Reload (the server fixed, here: the message passes untouched) gives a working shell.
      tamper = false;
      await panel.getByRole('button', { name: 'Reload the page' }).click();
      await expect.poll(() => terminal.getAttribute('data-state'), { timeout: 20_000 }).toBe('open');
      expect(sockets).toBe(2);
      await terminal.locator('.xt-screen').click();
      await page.keyboard.type('echo back-$((6*7))');
      await page.keyboard.press('Enter');
      await expect.poll(() => terminalText(page, TERMINAL), { timeout: 10_000 }).toMatch(/^back-42\s*$/m);
    },
  );
});

describe('the keyboard hint on a phone', () => {
  it('is hidden at 390×844 while the terminal keeps its description', async () => {
    const gateway = await startGateway({
      qemuXen: () => ({
        name: 'qemu-xen',
        available: () => Promise.resolve({ ok: false, code: 'X', reason: 'unused', fix: 'unused' }),
        create: () => Promise.reject(new Error('unused')),
      }),
    });
    const page = await newPage({ width: 390, height: 844 });
    await page.goto(`${gateway.url}/getting-started/`);
    const terminal = page.locator(TERMINAL).first();
    await page.locator(`${TERMINAL}[data-state="open"]`).waitFor({ timeout: 20_000 });
    expect(await terminal.locator('.xt-keys').isVisible()).toBe(false);
    // Nothing in the bar wraps over several lines: the status and each button are one line high, the buttons
    // side by side.
    const box = async (sel: string) => {
      const b = await terminal.locator(sel).boundingBox();
      if (!b) throw new Error(`${sel} is not shown`);
      return b;
    };
    const [status, help, sr] = [await box('.xt-status'), await box('.xt-help'), await box('.xt-sr')];
    expect(status.height).toBeLessThan(24);
    expect(help.height).toBeLessThan(32);
    expect(sr.height).toBeLessThan(32);
    expect(Math.abs(help.y - sr.y)).toBeLessThan(2);
    // The description is still there: aria-describedby names an element with the full sentence, and Chromium's
    // accessibility tree gives it to the terminal's input.
    const describedBy = await terminal.locator('.xterm-helper-textarea').getAttribute('aria-describedby');
    expect(describedBy).toBeTruthy();
    expect(await page.locator(`[id="${describedBy ?? ''}"]`).textContent()).toMatch(/Escape then Tab/);
    const cdp = await page.context().newCDPSession(page);
    const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
    const { nodeId } = await cdp.send('DOM.querySelector', {
      nodeId: root.nodeId,
      selector: 'xenlab-terminal .xterm-helper-textarea',
    });
    const { nodes } = await cdp.send('Accessibility.getPartialAXTree', { nodeId, fetchRelatives: false });
    const description: unknown = nodes.find((n) => n.description)?.description?.value;
    expect(String(description)).toMatch(/press Escape then Tab/);
    // At desktop width the hint is back.
    await page.setViewportSize({ width: 1280, height: 900 });
    await expect.poll(() => terminal.locator('.xt-keys').isVisible()).toBe(true);
  });
});
