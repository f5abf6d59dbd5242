// Shared by the gateway security tests: a gateway on 127.0.0.1 port 0 with a tiny built site, raw sockets, and a
// guard that records any unhandled rejection or exception while a test runs (one of them would kill a real gateway).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLearnerLocalDriver } from '../../sandbox/src/drivers/local/learner-tools.js';
import type { SandboxDriver } from '../../sandbox/src/drivers/types.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../sandbox/src/gateway/index.js';

/** A jailed driver that never runs a shell: for tests of everything before one. */
export const noShellDriver: SandboxDriver = {
  name: 'none',
  jailed: true,
  notice: undefined,
  create: () => Promise.reject(new Error('no shells in this test')),
  list: () => Promise.resolve([]),
};

export interface TestGateway {
  gateway: Gateway;
  dataDir: string;
  errors: unknown[];
  stop(): Promise<void>;
}

/**
 * A gateway for a test, with its own data dir and a two-page site; `errors` collects what it logged. Shells run in
 * the local driver when `shells` is set, else there are none.
 */
export async function startGateway(
  options: Partial<GatewayOptions> = {},
  shells = false,
): Promise<TestGateway> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'xenlab-sec-'));
  const siteDir = join(dataDir, 'site');
  mkdirSync(join(siteDir, 'labs'), { recursive: true });
  writeFileSync(join(siteDir, 'index.html'), '<!doctype html><title>home</title><p>home</p>');
  writeFileSync(join(siteDir, '404.html'), '<!doctype html><title>404</title><p>not here</p>');
  const errors: unknown[] = [];
  const gateway = await createGateway({
    port: 0,
    dataDir,
    siteDir,
    driver: shells ? createLearnerLocalDriver({ toolBinDir: join(dataDir, 'bin') }) : noShellDriver,
    logError: (_what, err) => errors.push(err),
    ...options,
  });
  return {
    gateway,
    dataDir,
    errors,
    stop: async () => {
      await gateway.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Records unhandled rejections and uncaught exceptions until `stop()`; each would end a real gateway process. */
export function watchCrashes(): { crashes: unknown[]; stop(): void } {
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);
  process.on('unhandledRejection', onCrash);
  process.on('uncaughtException', onCrash);
  return {
    crashes,
    stop: () => {
      process.off('unhandledRejection', onCrash);
      process.off('uncaughtException', onCrash);
    },
  };
}

/** A raw TCP connection to the gateway. */
export function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      resolve(s);
    });
    s.on('error', reject);
  });
}

/** Waits until the socket closes (or `ms` pass); resolves with what it received and whether it closed. */
export function untilClosed(s: Socket, ms: number): Promise<{ closed: boolean; data: string }> {
  return new Promise((resolve) => {
    let data = '';
    s.on('data', (d: Buffer) => (data += d.toString('latin1')));
    s.on('error', () => undefined);
    if (s.destroyed) {
      resolve({ closed: true, data });
      return;
    }
    const t = setTimeout(() => {
      resolve({ closed: false, data });
    }, ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve({ closed: true, data });
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The gateway's health answer (the room is still up). */
export async function health(url: string): Promise<number> {
  const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5_000) });
  await res.arrayBuffer();
  return res.status;
}
