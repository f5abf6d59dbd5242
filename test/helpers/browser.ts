import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';

/** Debian's Chromium; never a downloaded browser. Override with XENLAB_CHROMIUM. */
export const CHROMIUM = process.env.XENLAB_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Launches headless Chromium with a fresh profile (Playwright makes a temporary one). The background-networking flags matter on machines with no
 * outside network: without them Chromium keeps trying to reach Google's services.
 */
export async function launchBrowser(): Promise<{ browser: Browser; close: () => Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
    },
  };
}

/** The lines an xterm.js terminal (a `<xenlab-terminal>` matched by `selector`) shows, read from its buffer. */
export function terminalLines(page: Page, selector = 'xenlab-terminal'): Promise<string[]> {
  return page.evaluate((sel) => {
    const el = document.querySelector(sel) as unknown as {
      terminal: {
        buffer: {
          active: {
            length: number;
            getLine(i: number): { translateToString(trim: boolean): string } | undefined;
          };
        };
      };
    };
    const buf = el.terminal.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? '');
    return lines;
  }, selector);
}

/** The same as one text. */
export async function terminalText(page: Page, selector?: string): Promise<string> {
  return (await terminalLines(page, selector)).join('\n');
}

/** Waits until a line the terminal shows matches `re` (use ^ and $ for the whole line). */
export async function waitForTerminalLine(
  page: Page,
  re: RegExp,
  timeout = 10_000,
  selector?: string,
): Promise<void> {
  await expect
    .poll(async () => (await terminalLines(page, selector)).some((l) => re.test(l)), {
      timeout,
      interval: 100,
    })
    .toBe(true);
}
