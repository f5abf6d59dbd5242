import { chromium, type Browser } from 'playwright-core';

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
