/**
 * A learner's own laptop: the gateway runs as an ordinary user, not root. The jail must still start (bubblewrap
 * with an unprivileged user namespace), give a working shell with `xe` on PATH, and say which of the root-only
 * protections are missing. Runs the compiled driver (`npm test` builds first) as `nobody`.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tools = join(repo, 'sandbox', 'dist', 'drivers', 'local', 'learner-tools.js');
const asNobody = (args: string[]) =>
  spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
const isRoot = process.getuid?.() === 0;
// The checkout must be readable by nobody (CI clones under a world-readable folder; a private home is not).
const readable = isRoot && asNobody(['test', '-r', tools]).status === 0;
if (isRoot && !readable) console.warn(`non-root.test.ts: skipped — ${tools} is not readable by nobody`);

const dir = mkdtempSync(join(tmpdir(), 'xenlab-nonroot-'));
chmodSync(dir, 0o777);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!readable)('the local jail without root (a laptop)', () => {
  it('starts, runs the learner as uid 1000 with xe on PATH, and names what only root could add', () => {
    const script = `
      const { createLearnerLocalDriver } = await import(${JSON.stringify(tools)});
      const driver = createLearnerLocalDriver({ jail: 'auto', toolBinDir: ${JSON.stringify(join(dir, 'bin'))} });
      const sb = await driver.create({ id: 'laptop-1', home: ${JSON.stringify(join(dir, 'home'))},
        pool: { port: 9, user: 'root', password: 'x' } });
      const r = await sb.exec(['sh', '-c', 'id -u; command -v xe; cat ~/.xe | head -1']);
      await sb.destroy();
      console.log(JSON.stringify({ jailed: driver.jailed, notice: driver.notice, r }));
    `;
    const run = asNobody([process.execPath, '--input-type=module', '-e', script]);
    expect(run.stderr).toBe('');
    const out = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as {
      jailed: boolean;
      notice: string;
      r: { code: number; stdout: string };
    };
    expect(out.jailed).toBe(true);
    expect(out.notice).toMatch(/not run as root/);
    expect(out.r.code).toBe(0);
    const [uid, xe, conf] = out.r.stdout.trim().split('\n');
    expect(uid).toBe('1000');
    expect(xe).toMatch(/\/xe$/);
    expect(conf).toMatch(/server=127\.0\.0\.1|127\.0\.0\.1/);
  });
});
