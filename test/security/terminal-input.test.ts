// One learner must not freeze the room by not reading input. node-pty writes through a tty stream on the pty
// master, which libuv writes "blocking" (it spins until the pty takes everything): a shell that reads nothing
// (`stty -icanon -echo; sleep 600`) plus a large paste used to stop the gateway's event loop — every learner's
// terminal — for as long as that shell slept. Input now goes through a non-blocking writer
// (sandbox/src/drivers/local/pty-writer.ts) and is bounded per terminal by bytes (sessions/shared-terminal.ts):
// past INPUT_BACKLOG_BYTES the learner's own tabs are not read (backpressure), past INPUT_LIMIT_BYTES input is
// dropped. The gateway runs in this process, so an event-loop delay monitor here watches the gateway itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalDriver } from '../../sandbox/src/drivers/local/index.js';
import { createGateway, type Gateway } from '../../sandbox/src/gateway/index.js';
import type { SharedTerminal } from '../../sandbox/src/sessions/index.js';
import { INPUT_LIMIT_BYTES } from '../../sandbox/src/sessions/shared-terminal.js';
import { openTerminal, type TerminalClient } from '../helpers/terminal-client.js';

let gateway: Gateway;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-sec-input-'));
  gateway = await createGateway({ port: 0, dataDir, driver: createLocalDriver({ jail: 'auto' }) });
});
afterAll(async () => {
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const KiB = 1024;
const MiB = 1024 * KiB;
const FRAME = 16 * KiB;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type InputStats = { backlog: number; held: boolean; dropped: number };

/** Every live terminal of the gateway. */
function terminals(): Set<SharedTerminal> {
  const all = new Set<SharedTerminal>();
  for (const env of gateway.environments.all()) for (const t of env.terminals.values()) all.add(t);
  return all;
}

/** Input counters of these terminals, as the gateway sees them (absent on a gateway without input bounds). */
function inputStats(of: Iterable<SharedTerminal> = terminals()): InputStats[] {
  const all: InputStats[] = [];
  for (const t of of) {
    const s = (t as Partial<SharedTerminal>).stats?.() as { input?: InputStats } | undefined;
    if (s?.input) all.push(s.input);
  }
  return all;
}

/** One echo round trip on `c`: types a command whose answer is not in the typed line, waits for the answer. */
let seq = 0;
async function echoRoundTrip(c: TerminalClient, timeoutMs = 60_000): Promise<number> {
  const n = ++seq;
  const start = performance.now();
  c.type(`echo rt-$((${n}*3))\r`);
  await c.waitFor(new RegExp(`^rt-${n * 3}$`, 'm'), timeoutMs);
  return performance.now() - start;
}

/** Makes `c`'s shell stop reading its input: raw mode without echo, then `sleep` (or `then` once it wakes). */
async function stopReading(c: TerminalClient, then: string): Promise<void> {
  c.type(`stty -icanon -echo; echo stalled-$((6*7)); ${then}\r`);
  await c.waitFor(/^stalled-42$/m);
  await sleep(200); // the shell is in `sleep` now, not reading
}

/** Sends `total` bytes of input in FRAME-sized binary frames, one every `everyMs`; resolves when all were sent. */
async function paste(c: TerminalClient, total: number, everyMs: number): Promise<void> {
  const frame = Buffer.alloc(FRAME, 'a');
  for (let sent = 0; sent < total; sent += FRAME) {
    c.ws.send(frame.subarray(0, Math.min(FRAME, total - sent)));
    await sleep(everyMs);
  }
}

describe('a shell that does not read its input', () => {
  it('stalls only its own learner: another learner answers at once and the event loop never stops', async () => {
    const b = await openTerminal(gateway.url);
    const a = await openTerminal(gateway.url);
    try {
      // Idle baseline, measured the same way in the same run (the machine may be busy with other work: the bounds
      // below are relative to it, with a floor; a pty write that blocks stalls for as long as the shell sleeps).
      await echoRoundTrip(b);
      const idle: number[] = [];
      for (let i = 0; i < 10; i++) {
        idle.push(await echoRoundTrip(b));
        await sleep(100);
      }
      const baseline = Math.max(...idle);

      await stopReading(a, 'sleep 30');
      const h = monitorEventLoopDelay({ resolution: 10 });
      h.enable();
      let peakBacklog = 0;
      let held = false;
      // Also the longest gap between ticks of a 20 ms timer: a stall shows up here however the histogram bins it.
      let lastTick = performance.now();
      let maxGap = 0;
      const sampler = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - lastTick - 20);
        lastTick = now;
        for (const s of inputStats()) {
          peakBacklog = Math.max(peakBacklog, s.backlog);
          held ||= s.held;
        }
      }, 20);
      const worst: number[] = [];
      try {
        // ~1 MiB of input in 16 KiB frames into a shell that reads nothing, while learner B keeps typing.
        const pasting = paste(a, MiB, 5);
        const deadline = performance.now() + 6_000;
        while (performance.now() < deadline) {
          worst.push(await echoRoundTrip(b));
          await sleep(100);
        }
        await pasting;
      } finally {
        clearInterval(sampler);
        h.disable();
      }
      const worstEcho = Math.max(...worst);
      const maxDelayMs = Math.max(h.max / 1e6, maxGap);
      console.log(
        `[terminal-input] idle echo ${baseline.toFixed(1)} ms; during the stalled paste: worst echo ${worstEcho.toFixed(1)} ms over ${String(worst.length)} round trips, event-loop delay max ${(h.max / 1e6).toFixed(0)} ms (timer gap ${maxGap.toFixed(0)} ms) p99 ${(h.percentile(99) / 1e6).toFixed(0)} ms; peak queued input ${(peakBacklog / KiB).toFixed(0)} KiB, held=${String(held)}`,
      );
      // No multi-second stall of the gateway (before the fix: as long as A's `sleep`, ~30 s).
      expect(maxDelayMs).toBeLessThan(1_000);
      expect(worstEcho).toBeLessThan(1_000);
      expect(worstEcho).toBeLessThan(Math.max(10 * baseline, 500));
      // The input was bounded by bytes, with backpressure on A's own socket.
      expect(peakBacklog).toBeGreaterThan(0);
      expect(peakBacklog).toBeLessThanOrEqual(INPUT_LIMIT_BYTES);
      expect(held).toBe(true);
    } finally {
      a.close();
      b.close();
    }
  }, 120_000);

  it('gets everything that was held back once it reads again (backpressure, nothing lost)', async () => {
    const before = terminals();
    const a = await openTerminal(gateway.url);
    const mine = [...terminals()].filter((t) => !before.has(t));
    try {
      const total = MiB;
      // Raw mode, no echo: `head` reads exactly the pasted bytes once the shell wakes up.
      await stopReading(a, `sleep 3; head -c ${String(total)} | wc -c`);
      const h = monitorEventLoopDelay({ resolution: 10 });
      h.enable();
      await paste(a, total, 1);
      await a.waitFor(new RegExp(`^\\s*${String(total)}$`, 'm'), 60_000);
      h.disable();
      console.log(
        `[terminal-input] 1 MiB through a stalled shell: event-loop delay max ${(h.max / 1e6).toFixed(0)} ms`,
      );
      expect(h.max / 1e6).toBeLessThan(500);
      const stats = inputStats(mine);
      expect(stats.length).toBe(1);
      expect(stats[0]?.dropped).toBe(0);
    } finally {
      a.close();
    }
  }, 120_000);
});
