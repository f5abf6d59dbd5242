// GitHub issue #11, part 1: a client that acknowledges output it never read must not grow the gateway's memory.
// The client below runs `yes`, stops reading its socket (its TCP window fills, so the gateway's socket queues)
// and keeps sending huge acks, as if it had parsed everything. Flow control alone trusts acks; the gateway must
// bound what it queues for a viewer by bytes, whatever the viewer claims.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalDriver } from '../../sandbox/src/drivers/local/index.js';
import { FlowControl } from '../../sandbox/src/sessions/flow.js';
import { createGateway, type Gateway } from '../../sandbox/src/gateway/index.js';
import { FLOW } from '../../sandbox/src/protocol/index.js';
import type { SharedTerminal } from '../../sandbox/src/sessions/index.js';
import { openTerminal } from '../helpers/terminal-client.js';

let gateway: Gateway;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'xenlab-sec-backlog-'));
  gateway = await createGateway({ port: 0, dataDir, driver: createLocalDriver({ jail: 'auto' }) });
});
afterAll(async () => {
  await gateway.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const MiB = 1024 * 1024;
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
/**
 * Memory still held after a full collection by Buffers (socket queues and output live outside the JS heap) and
 * the heap: what the gateway keeps, not the garbage a flowing shell leaves behind.
 */
const retainedMemory = () => {
  gc();
  const m = process.memoryUsage();
  return m.arrayBuffers + m.heapUsed;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Byte counters of every live terminal (the gateway's own view of what it holds per terminal and viewer). */
function terminalStats() {
  const all: ReturnType<SharedTerminal['stats']>[] = [];
  for (const env of gateway.environments.all())
    for (const t of env.terminals.values())
      if (typeof (t as Partial<SharedTerminal>).stats === 'function') all.push(t.stats());
  return all;
}

describe('a client that acks output it never read', () => {
  it('cannot grow the gateway without bound, and another learner still gets an answer at once', async () => {
    const liar = await openTerminal(gateway.url);
    liar.type('yes xenlab-flood-0123456789-0123456789-0123456789\r');
    await liar.until((c) => c.bytes > 1_000_000, 15_000, 'the flood to start');
    liar.autoAck = false;
    // Stop reading (the kernel's buffers fill, then the gateway's socket queue), but keep acking hugely.
    (liar.ws as unknown as { _socket: Socket })._socket.pause();
    const lies = setInterval(() => {
      liar.send({ type: 'term.ack', bytes: 1 << 30 });
    }, 10);

    const base = retainedMemory();
    let peak = 0;
    let peakBacklog = 0;
    let worstEcho = 0;
    try {
      const deadline = Date.now() + 6_000;
      let n = 0;
      const other = await openTerminal(gateway.url);
      while (Date.now() < deadline) {
        await sleep(250);
        peak = Math.max(peak, retainedMemory() - base);
        for (const s of terminalStats())
          for (const v of s.viewers)
            peakBacklog = Math.max(peakBacklog, v.backlog, s.ringBytes, s.batchBytes);
        // Another learner types while the flood goes on: the answer comes back promptly.
        if (++n % 4 === 0) {
          const start = performance.now();
          other.type(`echo answer-$((${n}*2))\r`);
          await other.waitFor(new RegExp(`^answer-${n * 2}$`, 'm'), 5_000);
          worstEcho = Math.max(worstEcho, performance.now() - start);
        }
      }
      other.close();
    } finally {
      clearInterval(lies);
    }
    console.log(
      `[terminal-backlog] peak growth ${(peak / MiB).toFixed(1)} MiB, peak per-viewer backlog ${(peakBacklog / MiB).toFixed(2)} MiB, worst echo ${worstEcho.toFixed(0)} ms`,
    );
    // The gateway keeps at most a couple of MiB per viewer (plus the replay ring), not what `yes` can print. The
    // byte counters below are the sharp check; memory is a coarse one (other suites share this process and the
    // collector's timing varies with load: 11-18 MiB here, against 20-30 MiB and climbing before the fix).
    expect(peak).toBeLessThan(32 * MiB);
    expect(peakBacklog).toBeLessThanOrEqual(2 * MiB + 320 * 1024);
    expect(worstEcho).toBeLessThan(2_000);
    // The liar was cut off; reading again it sees its socket closed (a page would reconnect and resume).
    (liar.ws as unknown as { _socket: Socket })._socket.resume();
    await liar.until((c) => c.closed !== undefined, 10_000, 'the lying client to be dropped');
    expect(terminalStats().reduce((n, s) => n + s.dropped, 0)).toBeGreaterThanOrEqual(1);
  });

  it('earns no credit by acking ahead of the output or more than it was sent', () => {
    const calls: string[] = [];
    const f = new FlowControl(
      () => calls.push('pause'),
      () => calls.push('resume'),
      FLOW.HIGH,
      FLOW.LOW,
    );
    f.acked(1 << 30); // before anything was sent
    f.sent(FLOW.HIGH + 1);
    expect(calls).toEqual(['pause']);
    f.acked(Number.MAX_SAFE_INTEGER);
    expect(f.unacked).toBe(0);
    expect(f.totals.acked).toBe(FLOW.HIGH + 1);
    expect(f.totals.sent).toBe(FLOW.HIGH + 1);
    f.sent(FLOW.HIGH + 1);
    expect(calls).toEqual(['pause', 'resume', 'pause']);
    f.acked(-5);
    f.acked(Number.NaN);
    expect(f.unacked).toBe(FLOW.HIGH + 1);
  });
});
