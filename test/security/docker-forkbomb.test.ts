// A fork bomb takes every pid of its container (the pids limit holds it there, see containment.test.ts), and then
// nothing new starts in it: not the learner's next terminal, not a program typed in it. The driver notices the
// pids are all taken when a terminal opens, ends the learner's processes (not the container: its tmpfs home keeps
// the files), and says so in the new terminal. (Issue #11.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerDriver } from '../../sandbox/src/drivers/docker/index.js';
import type { DockerDriver } from '../../sandbox/src/drivers/docker/index.js';
import { containerName } from '../../sandbox/src/drivers/docker/client.js';
import { cleanup, collect, docker, ensureImage, runLabel, until } from '../integration/docker/helpers.js';

const label = runLabel();
let driver: DockerDriver;

beforeAll(async () => {
  await ensureImage();
  driver = await createDockerDriver({
    labels: { [label.key]: label.value },
    limits: { memoryMb: 128, pids: 48, diskMb: 32, cpus: 0.5 },
  });
}, 360_000);

afterAll(async () => {
  await (driver as DockerDriver | undefined)?.close();
  await cleanup(label);
}, 120_000);

const pidsNow = async (id: string) => {
  const stats = (await docker.getContainer(containerName(id, 'main')).stats({ stream: false })) as {
    pids_stats?: { current?: number };
  };
  return stats.pids_stats?.current ?? -1;
};

describe('a fork-bombed docker environment', () => {
  it('works again in a new terminal within seconds, files kept, and the learner is told why', async () => {
    const env = await driver.create({ id: 'bomber', home: '/unused' });
    expect((await env.exec(['sh', '-c', 'echo kept > ~/notes'])).code).toBe(0);
    const bomb = env.attachTerminal({ cols: 80, rows: 24 });
    const bombOut = collect(bomb);
    bomb.write(':(){ :|:& };:\n');
    await until(
      () => (/fork: (retry: )?Resource temporarily unavailable/.test(bombOut.text()) ? true : undefined),
      20_000,
      'the bomb to hit the pids limit',
    );
    expect(await pidsNow('bomber')).toBeGreaterThan(40);

    const t0 = Date.now();
    const term = env.attachTerminal({ cols: 100, rows: 24 });
    const out = collect(term);
    // /bin/echo needs a fork (a builtin would not); o''k prints as ok, unlike the echoed command line.
    term.write("/bin/echo o''k; cat ~/notes\n");
    // `ok` and the file's `kept` may arrive in separate chunks: wait for both.
    await until(
      () => (/^ok\r?$/m.test(out.text()) && /^kept\r?$/m.test(out.text()) ? true : undefined),
      15_000,
      '"ok" and the kept file in a new terminal',
    );
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(out.text()).toMatch(/used all 48 processes it may run \(a fork bomb\?\)/);
    expect(out.text()).toMatch(/your files are kept/);
    // The bomb is gone, not just paused for a moment.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await pidsNow('bomber')).toBeLessThan(16);
    expect((await env.exec(['echo', 'still'])).stdout).toBe('still\n');
    term.kill();
    await env.destroy();
  }, 90_000);

  it('a busy but not full environment is left alone when a terminal opens', async () => {
    const env = await driver.create({ id: 'busy', home: '/unused' });
    const first = env.attachTerminal({ cols: 80, rows: 24 });
    first.write('for i in 1 2 3 4 5 6 7 8; do sleep 600 & done\n');
    await until(async () => ((await pidsNow('busy')) >= 10 ? true : undefined), 10_000, 'sleepers');
    const term = env.attachTerminal({ cols: 80, rows: 24 });
    const out = collect(term);
    term.write(
      "/bin/echo o''k; for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done 2>/dev/null | grep -c '^sleep 600'\n",
    );
    await until(() => (/^ok\r?$/m.test(out.text()) ? true : undefined), 15_000, '"ok"');
    await until(() => (/^8\r?$/m.test(out.text()) ? true : undefined), 5_000, 'the sleepers still there');
    expect(out.text()).not.toMatch(/\[xenlab\]/);
    await env.destroy();
  }, 60_000);
});
