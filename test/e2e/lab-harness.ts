/**
 * A test gateway for lab pages: the real gateway with the lab provisioner, plus the lab channel mounted at
 * /ws/lab the way the gateway will mount it (see the labs report). Authentication of that one path is left out
 * here — the gateway's own mount checks ticket, origin and host like the terminal's.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { createGateway, type Gateway } from '../../sandbox/src/gateway/index.js';
import { attachLabChannel } from '../../sandbox/src/grading/channel.js';
import { createLabLocalDriver } from '../../sandbox/src/labs/environment.js';
import type { LabEnvironment } from '../../sandbox/src/labs/environment.js';
import { createLabProvisioner, type LabProvisioner } from '../../sandbox/src/labs/provisioner.js';
import { LAB_PATH, MAX_FRAME_BYTES } from '../../sandbox/src/protocol/index.js';

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
  const driver = createLabLocalDriver();
  const labs = createLabProvisioner({ driver, pollMs: options.pollMs ?? 1000 });
  const gateway = await createGateway({ port: 0, siteDir, dataDir, driver, provision: labs.provision });
  const find = (lab: string) => labs.list().find((e) => e.labId === lab)?.environment;
  const environmentOf = (lab: string, timeoutMs = 30_000) =>
    waitFor(() => find(lab), timeoutMs, `the ${lab} environment`).then((p) => p);

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  const original = gateway.server.listeners('upgrade') as ((
    req: IncomingMessage,
    s: Duplex,
    h: Buffer,
  ) => void)[];
  gateway.server.removeAllListeners('upgrade');
  gateway.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== LAB_PATH) {
      for (const l of original) l(req, socket, head);
      return;
    }
    const lab = url.searchParams.get('lab') ?? '';
    wss.handleUpgrade(req, socket, head, (ws) => {
      attachLabChannel(ws, environmentOf(lab));
    });
  });
  return {
    gateway,
    labs,
    environmentOf,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await gateway.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
