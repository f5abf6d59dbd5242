// Issue #17: `xenlab serve` logs through one structured logger: --log-level / XENLAB_LOG_LEVEL set the level,
// XENLAB_LOG_FORMAT=json makes every log line a JSON object with level and msg (for operators' collectors).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'xenlab-log-'));

beforeAll(async () => {
  // The CLI runs compiled: bring sandbox/dist up to date (incremental, quick when it is).
  const tsc = spawn(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'sandbox/tsconfig.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  await new Promise((done) => tsc.on('close', done));
}, 120_000);

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** Runs `xenlab serve` until `until` holds for its stderr (then SIGTERM) or it exits; its output. */
function serve(
  args: string[],
  env: Record<string, string>,
  until: (err: string, out: string) => boolean,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [
        join(root, 'sandbox', 'bin', 'xenlab.js'),
        'serve',
        '--port',
        '0',
        '--data-dir',
        join(scratch, 'data'),
        ...args,
      ],
      {
        cwd: scratch,
        env: { ...process.env, XENLAB_LOG_LEVEL: '', XENLAB_LOG_FORMAT: '', ...env },
        stdio: 'pipe',
      },
    );
    let out = '';
    let err = '';
    const check = () => {
      if (until(err, out)) child.kill('SIGTERM');
    };
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      check();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      check();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, out, err });
    });
  });
}

/** The stderr lines that are JSON objects. */
const jsonLines = (err: string) =>
  err
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('xenlab serve logs', () => {
  it('as JSON lines with level and msg, down to debug, with --log-level debug and XENLAB_LOG_FORMAT=json', async () => {
    const r = await serve(
      ['--log-level', 'debug'],
      { XENLAB_LOG_FORMAT: 'json' },
      (err, out) => err.includes('"gateway listening"') && out.includes('xenlab listening'),
    );
    expect(r.out).toMatch(/xenlab listening on http:\/\/127\.0\.0\.1:\d+/);
    const lines = jsonLines(r.err);
    for (const l of lines) {
      expect(typeof l.level).toBe('string');
      expect(typeof l.msg).toBe('string');
      expect(typeof l.time).toBe('string');
    }
    expect(lines).toContainEqual(expect.objectContaining({ level: 'debug', msg: 'logging', format: 'json' }));
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'info', msg: 'gateway listening', driver: 'local' }),
    );
  });

  it('as readable lines by default, at the level XENLAB_LOG_LEVEL sets', async () => {
    const r = await serve([], { XENLAB_LOG_LEVEL: 'info' }, (err) => err.includes('gateway listening'));
    expect(jsonLines(r.err)).toEqual([]);
    expect(r.err).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}gateway listening url=http:\/\/127\.0\.0\.1:\d+ driver=local$/m,
    );
    expect(r.err).not.toContain('DEBUG');
  });

  it('refuses a level it does not know, in one line with the usage', async () => {
    const r = await serve(['--log-level', 'loud'], {}, () => false);
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      'xenlab serve: --log-level must be one of fatal, error, warn, info, debug, trace, silent, not "loud"',
    );
    expect(r.err).toContain('Usage: xenlab serve');
  });
});
