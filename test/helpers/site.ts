/**
 * Browser suites against the real gateway serving the built site: one call registers the suite's `beforeAll` (the
 * gateway on port 0, a headless Chromium) and `afterAll` (both closed, the data folder removed).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { createLocalDriver } from '../../sandbox/src/drivers/local/index.js';
import { createGateway, type Gateway } from '../../sandbox/src/gateway/index.js';
import { startLabGateway, type LabGateway } from '../e2e/lab-harness.js';
import { launchBrowser } from './browser.js';

/** The built course site (`npm run build`). */
export const siteDir = resolve(import.meta.dirname, '..', '..', 'site', 'dist');

/** A suite's gateway and browser; read them in tests and hooks (they exist once the suite's `beforeAll` ran). */
export interface SiteUnderTest {
  readonly gateway: Gateway;
  readonly browser: Browser;
}

/** The same for lab pages: the lab harness (provisioner, environments) besides. */
export interface LabSiteUnderTest extends SiteUnderTest {
  readonly lab: LabGateway;
}

function started<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not up yet: use it in a test or a hook`);
  return value;
}

/** Launches Chromium for the suite; the returned getter is what tests read. */
function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    ({ browser, close } = await launchBrowser());
  });
  afterAll(async () => {
    await close?.();
  });
  return () => started(browser, 'the browser');
}

/**
 * Lesson pages: the gateway with the local driver (plain bash jail) serving the built site, and Chromium.
 * `tmpPrefix` names the data folder (it shows in `ps` and in `/tmp` when a run is killed).
 */
export function useLessonSite(tmpPrefix = 'xenlab-e2e-'): SiteUnderTest {
  let gateway: Gateway | undefined;
  let dataDir: string | undefined;
  beforeAll(async () => {
    if (!existsSync(join(siteDir, 'getting-started', 'index.html'))) {
      throw new Error('the site is not built: run `npm run build` (npm test does it first)');
    }
    dataDir = mkdtempSync(join(tmpdir(), tmpPrefix));
    gateway = await createGateway({ port: 0, siteDir, dataDir, driver: createLocalDriver() });
  });
  afterAll(async () => {
    await gateway?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  const browser = useBrowser();
  return {
    get gateway() {
      return started(gateway, 'the gateway');
    },
    get browser() {
      return browser();
    },
  };
}

/** Lab pages: the lab harness's gateway (provisioner, lab channel, learner tools) and Chromium. */
export function useLabSite(options: { pollMs?: number } = {}): LabSiteUnderTest {
  let lab: LabGateway | undefined;
  beforeAll(async () => {
    lab = await startLabGateway(options);
  });
  afterAll(async () => {
    await lab?.close();
  });
  const browser = useBrowser();
  return {
    get lab() {
      return started(lab, 'the lab gateway');
    },
    get gateway() {
      return started(lab, 'the lab gateway').gateway;
    },
    get browser() {
      return browser();
    },
  };
}
