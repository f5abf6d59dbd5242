/**
 * A test gateway for lab pages: the real gateway (its lab provisioner and its /ws/lab mount, with the same ticket,
 * origin and host checks as terminals), on port 0 with the built site.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLearnerLocalDriver } from '../../sandbox/src/drivers/local/learner-tools.js';
import { createGateway, type Gateway } from '../../sandbox/src/gateway/index.js';
import type { LabEnvironment } from '../../sandbox/src/lab-runtime/environment.js';
import type { LabProvisioner } from '../../sandbox/src/lab-runtime/provisioner.js';

export const siteDir = resolve(import.meta.dirname, '..', '..', 'site', 'dist');

export interface LabGateway {
  readonly gateway: Gateway;
  readonly labs: LabProvisioner;
  /** The (single) learner's environment of a lab, once the page has brought it up. */
  environmentOf(lab: string, timeoutMs?: number): Promise<LabEnvironment>;
  close(): Promise<void>;
}

async function waitFor<T>(get: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts the gateway on port 0 with the built site, the lab provisioner and the lab channel. */
export async function startLabGateway(options: { pollMs?: number } = {}): Promise<LabGateway> {
  if (!existsSync(join(siteDir, 'labs', 'anatomy-of-a-pool', 'index.html')))
    throw new Error('the site is not built with the labs: run `npm run build` (npm test does it first)');
  const dataDir = mkdtempSync(join(tmpdir(), 'xenlab-e2e-lab-'));
  const driver = createLearnerLocalDriver({ toolBinDir: join(dataDir, 'bin') });
  const gateway = await createGateway({
    port: 0,
    siteDir,
    dataDir,
    driver,
    labPollMs: options.pollMs ?? 1000,
  });
  const labs = gateway.labs;
  const find = (lab: string) => labs.list().find((e) => e.labId === lab)?.environment;
  const environmentOf = (lab: string, timeoutMs = 30_000) =>
    waitFor(() => find(lab), timeoutMs, `the ${lab} environment`).then((p) => p);
  return {
    gateway,
    labs,
    environmentOf,
    close: async () => {
      await gateway.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
