// Rough edges a room hits with the terminal (GitHub issues #11, #12, #17), in Chromium against the real gateway and
// a real shell: pasted text that tries to end bracketed paste, a 200 KiB paste, leaving the terminal with the
// keyboard, underscores inside their cell, a terminal taken out of the page, and a raised hand marked done.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { terminalLines, terminalText, waitForTerminalLine } from '../helpers/browser.js';
import { useLessonSite } from '../helpers/site.js';

const site = useLessonSite('xenlab-e2e-ux-');

/** A learner's page (its own browser context: its own learner) with the Getting started terminal open. */
async function openLesson(): Promise<Page> {
  const ctx = await site.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(`${site.gateway.url}/getting-started/`);
  await page.locator('xenlab-terminal[data-state="open"]').waitFor({ timeout: 20_000 });
  await page.locator('xenlab-terminal .xt-screen').click();
  // A prompt is there (the shell is reading a line).
  await page.keyboard.type('echo ready-$((40+2))');
  await page.keyboard.press('Enter');
  await waitForTerminalLine(page, /^ready-42\s*$/);
  return page;
}

/** Pastes text into the terminal the way the browser does: a paste event with the clipboard's text. */
function paste(page: Page, text: string): Promise<void> {
  return page.evaluate((t) => {
    const target = document.querySelector('xenlab-terminal .xterm-helper-textarea') ?? document.activeElement;
    const data = new DataTransfer();
    data.setData('text/plain', t);
    target?.dispatchEvent(
      new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }),
    );
  }, text);
}

const closePage = async (page: Page) => {
  await page.context().close();
};

describe('pasting (#11, #12)', () => {
  it('cannot smuggle commands past bracketed paste with ESC[201~', async () => {
    const page = await openLesson();
    // bash's readline asks for bracketed paste at its prompt: a paste is inserted, never run, until Enter.
    const bracketed = await page.evaluate(
      () =>
        (
          document.querySelector('xenlab-terminal') as unknown as {
            terminal: { modes: { bracketedPasteMode: boolean } };
          }
        ).terminal.modes.bracketedPasteMode,
    );
    expect(bracketed).toBe(true);
    await paste(page, 'echo smuggled-$((6*7))\x1b[201~\r');
    await page.waitForTimeout(1_500);
    expect((await terminalLines(page)).some((l) => /^smuggled-42\s*$/.test(l))).toBe(false);
    // The pasted text sits in the line, as pasted: Ctrl-C drops it and the shell carries on.
    await page.keyboard.press('Control+C');
    await page.keyboard.type('echo after-paste-$((1+1))');
    await page.keyboard.press('Enter');
    await waitForTerminalLine(page, /^after-paste-2\s*$/);
    expect((await terminalLines(page)).some((l) => /^smuggled-42\s*$/.test(l))).toBe(false);
    await closePage(page);
  });

  it('sends a 200 KiB paste whole, without closing the socket', async () => {
    const page = await openLesson();
    const line = `${'0123456789abcdef'.repeat(6)}xyz\n`; // 100 bytes
    const text = line.repeat(2048); // 204,800 bytes
    const sockets: string[] = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.keyboard.type('cat > ~/pasted.txt');
    await page.keyboard.press('Enter');
    await page.waitForTimeout(300);
    await paste(page, text);
    await expect
      .poll(
        () =>
          page.evaluate(
            () =>
              (
                document.querySelector('xenlab-terminal') as unknown as {
                  connection: { pendingInput: number };
                }
              ).connection.pendingInput,
          ),
        { timeout: 30_000 },
      )
      .toBe(0);
    await page.keyboard.press('Control+D');
    await page.keyboard.type('clear; echo "size=$(wc -c < ~/pasted.txt) lines=$(wc -l < ~/pasted.txt)"');
    await page.keyboard.press('Enter');
    await waitForTerminalLine(page, /^size=\d+ lines=\d+\s*$/, 30_000);
    expect(await terminalText(page)).toMatch(/^size=204800 lines=2048\s*$/m);
    expect(await page.locator('xenlab-terminal').getAttribute('data-state')).toBe('open');
    expect(sockets).toEqual([]); // never reconnected
    await closePage(page);
  });
});

describe('leaving the terminal with the keyboard (#12)', () => {
  /** Where focus is: inside the terminal's screen, elsewhere in the terminal (its bar), or outside it. */
  const focusIs = (page: Page) =>
    page.evaluate(() => {
      const a = document.activeElement;
      const el = document.querySelector('xenlab-terminal');
      if (a && el?.querySelector('.xt-screen')?.contains(a)) return 'screen';
      if (a && el?.contains(a)) return `bar:${a.className}`;
      return `outside:${a?.tagName ?? 'none'}`;
    });

  it('Tab stays in the shell; Escape then Tab moves on, Escape then Shift+Tab moves back', async () => {
    const page = await openLesson();
    await page.keyboard.press('Tab');
    expect(await focusIs(page)).toBe('screen');
    // The next focusable element after the terminal, in document order.
    const expected = await page.evaluate(() => {
      const el = document.querySelector('xenlab-terminal');
      const all = Array.from(
        document.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, [tabindex]'),
      ).filter(
        (e) =>
          e.tabIndex >= 0 &&
          !(e as HTMLButtonElement).disabled &&
          e.getClientRects().length > 0 &&
          el &&
          !el.contains(e) &&
          el.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING,
      );
      return all[0]?.outerHTML.slice(0, 80) ?? '';
    });
    expect(expected).not.toBe('');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Tab');
    expect(await focusIs(page)).toMatch(/^outside:/);
    expect(await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80))).toBe(expected);

    await page.locator('xenlab-terminal .xt-screen').click();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Shift+Tab');
    expect(await focusIs(page)).toMatch(/^bar:|^outside:/);
    expect(await focusIs(page)).not.toBe('screen');
    await closePage(page);
  });

  it('Ctrl+M makes Tab move focus until pressed again, and says so (hint, screen reader)', async () => {
    const page = await openLesson();
    const hint = page.locator('xenlab-terminal .xt-keys');
    expect(await hint.isVisible()).toBe(true);
    expect(await hint.textContent()).toMatch(/Esc\s*then\s*Tab/);
    await page.keyboard.press('Control+M');
    await expect
      .poll(() => page.locator('xenlab-terminal').getAttribute('data-tab-moves-focus'))
      .toBe('true');
    await expect
      .poll(() => page.locator('xenlab-terminal .xt-announce').textContent())
      .toMatch(/Tab moves focus/);
    await page.keyboard.press('Tab');
    expect(await focusIs(page)).toMatch(/^outside:/);
    await page.locator('xenlab-terminal .xt-screen').click();
    await page.keyboard.press('Control+M');
    await page.keyboard.press('Tab');
    expect(await focusIs(page)).toBe('screen');
    // Tab reaches the shell again: cat -A shows it as ^I (and Ctrl+M never reached it as an Enter).
    await page.keyboard.type('cat -A');
    await page.keyboard.press('Enter');
    await page.waitForTimeout(500); // cat reading, not typed ahead into readline's raw mode
    await page.keyboard.type('tab');
    await page.keyboard.press('Tab');
    await page.keyboard.type('here');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Control+D');
    await expect.poll(() => terminalText(page), { timeout: 10_000 }).toMatch(/tab\^Ihere/);
    // Screen reader mode's announcement tells how to leave.
    await page.getByRole('button', { name: 'Screen reader mode' }).click();
    await expect
      .poll(() => page.locator('xenlab-terminal .xt-announce').textContent())
      .toMatch(/Escape then Tab/);
    const describedBy = await page
      .locator('xenlab-terminal .xterm-helper-textarea')
      .getAttribute('aria-describedby');
    expect(describedBy).toBeTruthy();
    expect(await page.locator(`[id="${describedBy ?? ''}"]`).textContent()).toMatch(/Esc/);
    await page.getByRole('button', { name: 'Screen reader mode' }).click();
    await closePage(page);
  });
});

describe('underscores (#12)', () => {
  it('fit inside their cell at every font size', async () => {
    const page = await openLesson();
    await page.keyboard.type('clear; echo "$LAB_POOL_NAME snake_case_name __init__"');
    await page.keyboard.press('Enter');
    const measure = (fontSize: number, lineHeight?: number) =>
      page.evaluate(
        async ([size, lh]) => {
          const el = document.querySelector('xenlab-terminal') as unknown as HTMLElement & {
            terminal: { options: { fontSize: number; lineHeight: number; fontFamily: string } };
          };
          const kept = el.terminal.options.lineHeight;
          if (lh) el.terminal.options.lineHeight = lh;
          el.terminal.options.fontSize = size;
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          const row = el.querySelector<HTMLElement>('.xterm-rows > div');
          if (!row) throw new Error('no rendered row');
          const rowHeight = row.getBoundingClientRect().height;
          const style = getComputedStyle(row);
          const ctx = document.createElement('canvas').getContext('2d');
          if (!ctx) throw new Error('no canvas');
          ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
          const m = ctx.measureText('_');
          // CSS centres the font's ascent + descent in the line box (half the leading above, half below); xterm.js
          // clips each row (overflow: hidden), so ink below the row's bottom is not drawn.
          const halfLeading = (rowHeight - (m.fontBoundingBoxAscent + m.fontBoundingBoxDescent)) / 2;
          const underscoreBottom = halfLeading + m.fontBoundingBoxAscent + m.actualBoundingBoxDescent;
          const lineHeight = el.terminal.options.lineHeight;
          el.terminal.options.lineHeight = kept;
          return { size, lineHeight, rowHeight, underscoreBottom };
        },
        [fontSize, lineHeight ?? 0] as const,
      );
    const sizes = [10, 11, 12, 13, 14, 15, 16, 18, 20, 24];
    type Measured = Awaited<ReturnType<typeof measure>>;
    const results: Measured[] = [];
    for (const size of sizes) results.push(await measure(size));
    const atOne: Measured[] = [];
    for (const size of sizes) atOne.push(await measure(size, 1));
    const show = (rs: Measured[]) =>
      rs.map((r) => `${r.size}px: row ${r.rowHeight}, _ ends at ${r.underscoreBottom}`).join('; ');
    console.log(`[terminal-ux] lineHeight ${results[0]?.lineHeight}: ${show(results)}`);
    console.log(`[terminal-ux] lineHeight 1 (xterm.js default) for comparison: ${show(atOne)}`);
    for (const r of results) {
      expect(r.lineHeight).toBeGreaterThanOrEqual(1.1);
      expect(r.rowHeight).toBeGreaterThanOrEqual(r.size * 1.1);
      // The underscore's ink ends inside its row, so the row's clipping cannot hide it.
      expect(r.underscoreBottom).toBeLessThanOrEqual(r.rowHeight);
    }
    await measure(14);
    await page
      .locator('xenlab-terminal')
      .screenshot({ path: join(tmpdir(), 'xenlab-terminal-underscores.png') });
    await closePage(page);
  });
});

describe('a terminal taken out of the page (#17)', () => {
  it('does not reconnect once stopped, even with a reconnect already scheduled', async () => {
    const page = await openLesson();
    const opened: string[] = [];
    page.on('websocket', (ws) => {
      if (ws.url().includes('/ws/terminal')) opened.push(ws.url());
    });
    await page.evaluate(() => {
      const el = document.querySelector('xenlab-terminal') as unknown as HTMLElement & {
        connection: { drop(): void; stop(): void };
      };
      const conn = el.connection;
      new MutationObserver((_, obs) => {
        // The link dropped and a reconnect is scheduled: now the page stops the terminal.
        if (el.dataset.state === 'closed') {
          obs.disconnect();
          conn.stop();
        }
      }).observe(el, { attributes: true, attributeFilter: ['data-state'] });
      conn.drop();
    });
    await page.waitForTimeout(4_000);
    expect(opened).toEqual([]);
    await closePage(page);
  });

  it('disposes its xterm.js terminal and closes its socket for good when removed', async () => {
    const page = await openLesson();
    const opened: string[] = [];
    page.on('websocket', (ws) => {
      if (ws.url().includes('/ws/terminal')) opened.push(ws.url());
    });
    const viewers = () =>
      site.gateway.environments
        .all()
        .flatMap((e) => [...e.terminals.values()])
        .reduce((n, t) => n + t.viewers, 0);
    const before = viewers();
    expect(before).toBeGreaterThanOrEqual(1);
    await page.evaluate(() => {
      const el = document.querySelector('xenlab-terminal') as unknown as HTMLElement & {
        terminal: unknown;
      };
      (window as unknown as { removedTerminal: unknown }).removedTerminal = el;
      el.remove();
    });
    await expect.poll(viewers, { timeout: 5_000 }).toBe(before - 1);
    const after = await page.evaluate(() => {
      const el = (window as unknown as { removedTerminal: HTMLElement & { terminal?: unknown } })
        .removedTerminal;
      return {
        xtermLeft: el.querySelector('.xt-screen .xterm') !== null,
        terminal: el.terminal === undefined ? 'gone' : 'kept',
        state: el.dataset.state,
      };
    });
    expect(after).toEqual({ xtermLeft: false, terminal: 'gone', state: 'closed' });
    await page.waitForTimeout(2_000);
    expect(opened).toEqual([]);
    await closePage(page);
  });

  it('keeps working when moved within the page', async () => {
    const page = await openLesson();
    await page.evaluate(() => {
      const el = document.querySelector('xenlab-terminal');
      if (el?.parentElement) el.parentElement.append(el);
    });
    await page.locator('xenlab-terminal .xt-screen').click();
    await page.keyboard.type('echo moved-$((5*5))');
    await page.keyboard.press('Enter');
    await waitForTerminalLine(page, /^moved-25\s*$/);
    await closePage(page);
  });
});

describe('a raised hand marked done by the instructor (#12)', () => {
  it('turns the learner’s button back to "Ask for help", and a reload shows a hand still up', async () => {
    const learner = await openLesson();
    const help = learner.locator('xenlab-terminal .xt-help');
    await help.click();
    await learner.locator('xenlab-terminal .xt-help-form input').fill('underscores look like spaces');
    await learner.locator('xenlab-terminal .xt-help-form button').click();
    await expect.poll(() => help.getAttribute('aria-pressed'), { timeout: 10_000 }).toBe('true');

    // A reload keeps showing the hand up (the gateway's state, not the page's).
    await learner.reload();
    await learner.locator('xenlab-terminal[data-state="open"]').waitFor({ timeout: 20_000 });
    await expect.poll(() => help.getAttribute('aria-pressed'), { timeout: 10_000 }).toBe('true');
    expect(await help.textContent()).toMatch(/Hand raised/);

    const instructorCtx = await site.browser.newContext();
    const instructor = await instructorCtx.newPage();
    await instructor.goto(site.gateway.instructorUrl);
    const hand = instructor.locator('td.help[data-raised="true"]');
    await expect.poll(() => hand.count(), { timeout: 15_000 }).toBe(1);
    await hand.locator('.room-help-done').click();
    await expect.poll(() => hand.count(), { timeout: 10_000 }).toBe(0);

    await expect.poll(() => help.getAttribute('aria-pressed'), { timeout: 12_000 }).toBe('false');
    expect((await help.textContent())?.trim()).toBe('Ask for help');
    expect(await learner.locator('xenlab-terminal .xt-help-result').textContent()).toMatch(/marked .* done/);
    await instructorCtx.close();
    await closePage(learner);
  });
});
