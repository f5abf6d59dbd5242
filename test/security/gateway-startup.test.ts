// Issue #11 (6) and #12: start-up mistakes are said in one line with the usage, never a stack; an unusable data
// directory or a corrupt database fails fast and says what to do; the instructor key is long, kept across
// restarts (mode 0600 in the data directory), and wrong guesses at /instructor?key= are limited per address.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../../sandbox/src/gateway/index.js';
import { noShellDriver, startGateway } from './gateway-helpers.js';

const root = resolve(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'xenlab-startup-'));

beforeAll(async () => {
  // The CLI runs compiled: bring sandbox/dist up to date (incremental, quick when it is).
  await run(process.execPath, [
    join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-b',
    'sandbox/tsconfig.json',
  ]);
}, 120_000);

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 100_000,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd: scratch, env: { ...process.env, ...env }, stdio: 'pipe' });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, out, err });
    });
  });
}

const serve = (args: string[], env: Record<string, string> = {}) =>
  run(
    process.execPath,
    [join(root, 'sandbox', 'bin', 'xenlab.js'), 'serve', '--port', '0', ...args],
    env,
    15_000,
  );

describe('xenlab serve with bad flags or environment', () => {
  it.each([
    [['--port', 'x'], {}, /--port must be a number/],
    [['--bogus'], {}, /Unknown option '--bogus'/],
    [['--jail', 'sometimes'], {}, /--jail must be auto, off or required/],
    [[], { XENLAB_IDLE_MINUTES: 'soon' }, /XENLAB_IDLE_MINUTES must be a number of minutes/],
    [[], { XENLAB_MAX_CONNECTIONS_PER_IP: '-5' }, /XENLAB_MAX_CONNECTIONS_PER_IP must be a whole number/],
    [[], { XENLAB_INSTRUCTOR_KEY: 'hunter2' }, /XENLAB_INSTRUCTOR_KEY must be at least 16 characters/],
    [['--data-dir', '/proc/xenlab-nope'], {}, /data directory \/proc\/xenlab-nope can not be used/],
    [
      ['--data-dir', '/etc/hostname'],
      {},
      /data directory \/etc\/hostname can not be used \(it is not a directory\)/,
    ],
  ] as [string[], Record<string, string>, RegExp][])(
    '%j %j: one line and the usage, exit 2',
    async (args, env, message) => {
      const r = await serve(args, env);
      expect(r.code).toBe(2);
      expect(r.err.split('\n')[0]).toMatch(message);
      expect(r.err).toMatch(/Usage: xenlab serve/);
      expect(r.err).not.toMatch(/^\s+at /m);
    },
  );

  it('a corrupt database: which file, what to do, exit 1, no stack', async () => {
    const dir = join(scratch, 'corrupt');
    await run('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'xenlab.db'), Buffer.alloc(8192, 0x5a));
    const r = await serve(['--data-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(dir, 'xenlab.db')} is corrupt or not a database`);
    expect(r.err).toMatch(/Move it aside/);
    expect(r.err).not.toMatch(/^\s+at /m);
  });
});

describe('the instructor key', () => {
  it('is refused when shorter than 16 characters', async () => {
    const dataDir = join(scratch, 'short');
    await expect(
      createGateway({ port: 0, dataDir, driver: noShellDriver, instructorKey: 'short' }),
    ).rejects.toThrow(/at least 16 characters/);
  });

  it('is kept across restarts in the data directory (mode 0600), so the printed link stays valid', async () => {
    const first = await startGateway({ dataDir: join(scratch, 'keep') });
    const url = first.gateway.instructorUrl;
    await first.gateway.close();
    const file = join(first.dataDir, 'instructor-key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = await startGateway({ dataDir: first.dataDir });
    try {
      const key = new URL(url).searchParams.get('key');
      expect(new URL(second.gateway.instructorUrl).searchParams.get('key')).toBe(key);
      const link = await fetch(`${second.gateway.url}/instructor?key=${key ?? ''}`, { redirect: 'manual' });
      expect(link.status).toBe(303);
    } finally {
      await second.stop();
    }
  });

  it('wrong guesses are limited per address: after 10, even the right key waits', async () => {
    const t = await startGateway();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++)
        statuses.push(
          (await fetch(`${t.gateway.url}/instructor?key=guess-${String(i)}-xxxxxxxxxxxx`)).status,
        );
      expect(statuses.slice(0, 10).every((s) => s === 403)).toBe(true);
      expect(statuses.slice(10)).toEqual([429, 429]);
      const right = await fetch(t.gateway.instructorUrl, { redirect: 'manual' });
      expect(right.status).toBe(429);
      expect(right.headers.get('set-cookie')).toBeNull();
    } finally {
      await t.stop();
    }
  });
});
