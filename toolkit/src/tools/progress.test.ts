import { describe, expect, it } from 'vitest';
import type { ToolIo } from './context.js';
import { createProgress } from './progress.js';

function io(tty: boolean): ToolIo & { err: string } {
  const o = {
    err: '',
    stdout: () => undefined,
    stderr: (s: string) => {
      o.err += s;
    },
    stdoutIsTTY: tty,
    stderrIsTTY: tty,
    columns: 100,
    rows: 24,
  };
  return o;
}

describe('createProgress', () => {
  it('draws a bar with count, rate and ETA on a terminal, and erases it when done', () => {
    let t = 0;
    const out = io(true);
    const bar = createProgress(out, 'cloning', 4, () => t);
    t = 1000;
    bar.tick();
    t = 2000;
    bar.tick(3);
    expect(out.err).toContain('\r\x1b[Kcloning [######..................]  25% 1/4 1.0/s eta 3s');
    expect(out.err).toContain('\r\x1b[Kcloning [########################] 100% 4/4 2.0/s eta 0s');
    bar.done();
    expect(out.err.endsWith('\r\x1b[K')).toBe(true);
  });

  it('stays silent when stderr is not a terminal', () => {
    const out = io(false);
    const bar = createProgress(out, 'x', 2, () => 0);
    bar.tick(2);
    bar.done();
    expect(out.err).toBe('');
  });
});
