import { describe, expect, it } from 'vitest';
import type { TerminalProcess } from '../drivers/types.js';
import { SharedTerminal, type Viewer } from './shared-terminal.js';

/** A process whose output the test writes; nothing runs. */
function fakeProcess(): TerminalProcess & { print(text: string): void } {
  const listeners: ((data: Buffer) => void)[] = [];
  return {
    pid: 1,
    write: () => undefined,
    resize: () => undefined,
    pause: () => undefined,
    resume: () => undefined,
    kill: () => undefined,
    onData: (l) => listeners.push(l),
    onExit: () => undefined,
    print: (text) => {
      for (const l of listeners) l(Buffer.from(text));
    },
  };
}

function collector(): Viewer & { text(): string } {
  const got: Buffer[] = [];
  return { send: (d) => got.push(d), exited: () => undefined, text: () => Buffer.concat(got).toString() };
}

describe('where a page starts in the output (term.ready offset)', () => {
  it('counts output still waiting to go out, as a restored Xen console prints its ready line at attach', () => {
    const proc = fakeProcess();
    const term = new SharedTerminal(proc);
    proc.print('xenlab: XENLAB-DOM0-READY xenhost\r\n'); // batched, not yet flushed (next turn of the loop)
    const start = term.replayStart();
    const viewer = collector();
    const { offset, replayed } = term.attach(viewer);
    // The page is told where the replay starts; the replay then brings it to the live offset, exactly.
    expect(start).toBeGreaterThanOrEqual(0);
    expect(start + replayed).toBe(offset);
    expect(viewer.text()).toBe('xenlab: XENLAB-DOM0-READY xenhost\r\n');
  });

  it('a page resuming from where it was gets only what it missed, pending output included', async () => {
    const proc = fakeProcess();
    const term = new SharedTerminal(proc);
    proc.print('first\r\n');
    await new Promise((r) => setImmediate(r));
    const first = collector();
    const seen = term.attach(first).offset;
    term.detach(first);
    proc.print('missed\r\n');
    const resume = { instance: term.instance, offset: seen };
    const start = term.replayStart(resume);
    const again = collector();
    const { offset } = term.attach(again, resume);
    expect(start).toBe(seen);
    expect(again.text()).toBe('missed\r\n');
    expect(offset).toBe(seen + 'missed\r\n'.length);
  });
});
