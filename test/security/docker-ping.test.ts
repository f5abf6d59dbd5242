// Ping floods from a learner's container (issue #11). Every capability is dropped, so ping works only through the
// unprivileged ICMP sockets `ping_group_range` allows (hardening.ts), and iputils refuses `ping -f` and intervals
// under 2 ms to a non-root user. What is left (several 2 ms pings at once) is charged to the container's own CPU
// cgroup like any other work the learner does, so it stays within the environment's CPU limit. Bounded: loopback
// only, a few seconds. (Softirq time of the replies is the kernel's, not any cgroup's; at 500 packets/s per ping
// and a cgroup-bounded number of pings it is small, and no test here can separate it from the host's other load.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerDriver } from '../../sandbox/src/drivers/docker/index.js';
import type { DockerDriver } from '../../sandbox/src/drivers/docker/index.js';
import { containerName } from '../../sandbox/src/drivers/docker/client.js';
import { cleanup, docker, ensureImage, runLabel } from '../integration/docker/helpers.js';

const label = runLabel();
let driver: DockerDriver;

beforeAll(async () => {
  await ensureImage();
  driver = await createDockerDriver({ labels: { [label.key]: label.value }, limits: { cpus: 0.25 } });
}, 360_000);

afterAll(async () => {
  await (driver as DockerDriver | undefined)?.close();
  await cleanup(label);
}, 120_000);

const cpuNs = async (id: string) => {
  const s = (await docker.getContainer(containerName(id, 'main')).stats({ stream: false })) as {
    cpu_stats: { cpu_usage: { total_usage: number } };
  };
  return s.cpu_stats.cpu_usage.total_usage;
};

describe('ping floods in a docker environment', () => {
  it('ping -f is refused to the learner; the fastest pings allowed stay within the CPU limit', async () => {
    const env = await driver.create({ id: 'pinger', home: '/unused' });
    const flood = await env.exec(['ping', '-f', '-c', '100', '127.0.0.1'], { timeoutMs: 10_000 });
    expect(flood.code).not.toBe(0);
    expect(flood.stderr).toMatch(/cannot flood/);
    const fast = await env.exec(['ping', '-i', '0.001', '-c', '3', '127.0.0.1'], { timeoutMs: 10_000 });
    expect(fast.stderr).toMatch(/minimal interval allowed for user is 2ms/);

    const before = await cpuNs('pinger');
    const t0 = Date.now();
    const r = await env.exec(
      [
        'sh',
        '-c',
        'for i in 1 2 3 4 5 6 7 8; do ping -q -i 0.002 -w 4 127.0.0.1 >/dev/null & done; wait; echo done',
      ],
      { timeoutMs: 20_000 },
    );
    const wall = (Date.now() - t0) / 1000;
    const used = ((await cpuNs('pinger')) - before) / 1e9;
    expect(r.stdout).toBe('done\n');
    // CFS quota: 0.25 CPU over the run, with a period's slack either side.
    expect(used).toBeLessThan(0.25 * wall * 1.2 + 0.2);
    await env.destroy();
  }, 60_000);
});
