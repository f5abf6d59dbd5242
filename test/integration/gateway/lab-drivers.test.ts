// Each lab runs on the driver its manifest names, from the gateway's driver registry: a lab whose driver is slow
// shows its boot (env.starting, the console from its first line) before term.ready, and a lab whose driver cannot
// run here gets one clear, permanent refusal (GATEWAY_ERR_DRIVER_UNAVAILABLE, close 4003) instead of a reconnect
// loop. The qemu-xen driver is replaced by fakes here; test/e2e/labs-from-browser.test.ts runs the real one.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootFeeds, createDriverRegistry, DriverUnavailableError } from '../../../sandbox/src/drivers/index.js';
import type { BootWatchable, DriverFactory, SandboxDriver } from '../../../sandbox/src/drivers/index.js';
import { createLearnerLocalDriver } from '../../../sandbox/src/drivers/local/learner-tools.js';
import { createGateway, type Gateway } from '../../../sandbox/src/gateway/index.js';
import { LABS_DIR } from '../../../sandbox/src/labs/index.js';
import {
  CLOSE,
  GatewayError,
  LAB_PATH,
  LAB_PROTOCOL_VERSION,
  LabChannelError,
  parseLabServerMessage,
} from '../../../sandbox/src/protocol/index.js';
import type { LabServerMessage } from '../../../sandbox/src/protocol/index.js';
import { fetchTicket, openTerminal } from '../../helpers/terminal-client.js';

/** A qemu-xen stand-in: the local driver behind a boot that prints two console lines and takes 600 ms. */
function slowXen(local: SandboxDriver): DriverFactory {
  const feeds = new BootFeeds();
  const driver: SandboxDriver & BootWatchable = {
    name: 'qemu-xen',
    jailed: local.jailed,
    notice: undefined,
    list: () => local.list(),
    watchBoot: (id, l) => feeds.watch(id, l),
    bootEstimateMs: () => 600,
    async create(spec) {
      feeds.begin(spec.id, 'booting a pretend Xen host', 600);
      feeds.console(spec.id, Buffer.from('Xen 4.17 (pretend) booting\r\n'));
      await new Promise((r) => setTimeout(r, 300));
      feeds.console(spec.id, Buffer.from('dom0 login: (pretend)\r\n'));
      await new Promise((r) => setTimeout(r, 300));
      try {
        return await local.create(spec);
      } finally {
        feeds.end(spec.id);
      }
    },
  };
  return { name: 'qemu-xen', available: () => Promise.resolve({ ok: true }), create: () => Promise.resolve(driver) };
}

const noXen: DriverFactory = {
  name: 'qemu-xen',
  available: () =>
    Promise.resolve({
      ok: false,
      code: 'SANDBOX_ERR_NO_XEN_IMAGE',
      reason: 'no nested-Xen image is built',
      fix: 'Run `sudo npx xenlab image build --xen`, then reload this page.',
    }),
  create: () => Promise.reject(new Error('never created')),
};

const dirs: string[] = [];

/**
 * Lab 20 as the gateway serves it, minus its setup: the setup writes dom0's /etc/profile.d, which the local
 * driver behind the pretend boot rightly keeps read-only.
 */
function labsWithoutDom0Setup(): string {
  const dir = mkdtempSync(join(tmpdir(), 'xenlab-gw-drivers-labs-'));
  dirs.push(dir);
  cpSync(join(LABS_DIR, 'xen-under-the-hood'), join(dir, 'xen-under-the-hood'), { recursive: true });
  const file = join(dir, 'xen-under-the-hood', 'lab.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.deleteIn(['environment', 'setup']);
  writeFileSync(file, doc.toString());
  return dir;
}

async function gatewayWith(factory: DriverFactory): Promise<Gateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'xenlab-gw-drivers-'));
  dirs.push(dataDir);
  const local = createLearnerLocalDriver({ jail: 'auto', toolBinDir: join(dataDir, 'bin') });
  return createGateway({
    port: 0,
    dataDir,
    labsDir: labsWithoutDom0Setup(),
    driver: local,
    drivers: createDriverRegistry({ local, factories: [factory] }),
  });
}

/** Opens the lab channel of `lab` and collects its messages until it closes. */
async function labChannel(base: string, lab: string, cookie: string) {
  const { token } = await fetchTicket(base, cookie);
  const url = new URL(`${LAB_PATH}?lab=${lab}&token=${encodeURIComponent(token)}`, base.replace(/^http/, 'ws'));
  const ws = new WebSocket(url, { headers: { Origin: new URL(base).origin, Cookie: cookie } });
  const messages: LabServerMessage[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
    });
  });
  ws.on('message', (d: Buffer) => {
    const p = parseLabServerMessage(d.toString('utf8'));
    if (p.ok) messages.push(p.value);
  });
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'lab.hello', v: LAB_PROTOCOL_VERSION }));
  return { ws, messages, closed };
}

let slow: Gateway;
let missing: Gateway;
beforeAll(async () => {
  [slow, missing] = await Promise.all([gatewayWith(slowXen(createLearnerLocalDriver())), gatewayWith(noXen)]);
});
afterAll(async () => {
  await Promise.all([slow.close(), missing.close()]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the driver registry', () => {
  it('says why a driver cannot run, with its code and the fix, and creates a driver once', async () => {
    let made = 0;
    const drivers = createDriverRegistry({
      factories: [
        noXen,
        {
          name: 'docker',
          available: () => Promise.resolve({ ok: true }),
          create: () => {
            made++;
            return Promise.resolve(createLearnerLocalDriver());
          },
        },
      ],
    });
    const err = await drivers.get('qemu-xen').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverUnavailableError);
    expect((err as DriverUnavailableError).code).toBe('SANDBOX_ERR_NO_XEN_IMAGE');
    expect((err as Error).message).toMatch(/needs a nested Xen host .*image build --xen/);
    const [a, b] = await Promise.all([drivers.get('docker'), drivers.get('docker')]);
    expect(a).toBe(b);
    expect(made).toBe(1);
    expect(await drivers.available('no-such')).toMatchObject({ ok: false, code: 'LAB_ERR_NO_DRIVER' });
  });
});

describe('a lab on its own driver, through the gateway', () => {
  it('shows the boot (what starts, an ETA, the console) before the terminal is ready, then the lab driver', async () => {
    const t = await openTerminal(slow.url, { lab: 'xen-under-the-hood', terminal: 'console' });
    const starting = t.messages.find((m) => m.type === 'env.starting');
    expect(starting).toMatchObject({ type: 'env.starting', driver: 'qemu-xen' });
    expect(t.messages.findIndex((m) => m.type === 'env.starting')).toBeLessThan(
      t.messages.findIndex((m) => m.type === 'term.ready'),
    );
    expect(t.output).toContain('Xen 4.17 (pretend) booting');
    expect(t.output).toContain('dom0 login: (pretend)');
    expect(t.output).toMatch(/\[xenlab\] booting a pretend Xen host: about \d+ s left/);
    expect(t.messages.find((m) => m.type === 'term.ready')).toMatchObject({ driver: 'qemu-xen' });
    t.close();
  });

  it('keeps lesson pages (the playground) on the default driver', async () => {
    const t = await openTerminal(slow.url);
    expect(t.messages.find((m) => m.type === 'term.ready')).toMatchObject({ driver: 'local' });
    expect(t.messages.some((m) => m.type === 'env.starting')).toBe(false);
    t.close();
  });

  it('refuses a lab whose driver cannot run here once, clearly, with a permanent close code', async () => {
    const t = await openTerminal(missing.url, { lab: 'xen-under-the-hood', terminal: 'console', hello: false });
    t.send({ type: 'term.hello', v: 1, cols: 80, rows: 24 });
    await t.until((c) => c.closed !== undefined, 10_000, 'the close');
    const err = t.messages.find((m) => m.type === 'error');
    expect(err).toMatchObject({ code: GatewayError.DRIVER_UNAVAILABLE });
    expect(err?.type === 'error' ? err.message : '').toMatch(
      /SANDBOX_ERR_NO_XEN_IMAGE: this lab needs a nested Xen host .* no nested-Xen image is built\. Run `sudo npx xenlab image build --xen`/,
    );
    expect(t.closed?.code).toBe(CLOSE.UNAVAILABLE);

    const lab = await labChannel(missing.url, 'xen-under-the-hood', t.cookie);
    expect((await lab.closed).code).toBe(CLOSE.UNAVAILABLE);
    expect(lab.messages.find((m) => m.type === 'error')).toMatchObject({
      code: LabChannelError.DRIVER_UNAVAILABLE,
    });
  });
});
