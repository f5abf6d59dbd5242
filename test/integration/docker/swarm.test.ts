// Swarm mode on a single-node swarm (the CI machine): an environment runs as a one-replica service with a dnsrr
// endpoint (these kernels have no IPVS for swarm's virtual IPs), and the learner gets a working terminal in it.
// The swarm is left again afterwards, unless it existed before the test.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerDriver } from '../../../sandbox/src/drivers/docker/index.js';
import type { DockerDriver } from '../../../sandbox/src/drivers/docker/index.js';
import { cleanup, collect, docker, ensureImage, runLabel, until } from './helpers.js';

const label = runLabel();
let weStartedSwarm = false;
let driver: DockerDriver | undefined;

async function swarmState(): Promise<string | undefined> {
  const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string } };
  return info.Swarm?.LocalNodeState;
}

beforeAll(async () => {
  await ensureImage();
  if ((await swarmState()) !== 'active') {
    await docker.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1' });
    weStartedSwarm = true;
  }
}, 360_000);

afterAll(async () => {
  await driver?.close();
  await cleanup(label);
  if (weStartedSwarm) {
    await docker.swarmLeave({ force: true });
    // Leaving keeps docker_gwbridge (docker-engine.md); remove it so the host is as it was.
    await docker
      .getNetwork('docker_gwbridge')
      .remove()
      .catch(() => undefined);
  }
}, 120_000);

describe('docker driver in swarm mode', () => {
  it('runs an environment as a dnsrr service and gives a terminal into it', async () => {
    const d = await createDockerDriver({ swarm: true, labels: { [label.key]: label.value } });
    driver = d;
    const env = await d.create({
      id: 'swarm-learner',
      home: '/unused',
      nodes: [{ name: 'n1' }, { name: 'n2' }],
    });
    const services = await docker.listServices({ filters: JSON.stringify({ label: [label.filter] }) });
    expect(services).toHaveLength(2);
    for (const s of services) expect(s.Spec?.EndpointSpec?.Mode).toBe('dnsrr');
    expect(await d.list()).toEqual(['swarm-learner']);

    const term = env.attachTerminal({ cols: 80, rows: 24 }, 'n1');
    const out = collect(term);
    term.write('echo "on:$(hostname) as:$(id -un)"\n');
    await until(() => (out.text().includes('on:n1 as:learner') ? true : undefined), 20_000, 'terminal echo');
    // The other node answers by name over the environment's overlay network (dnsrr: straight to the task).
    const ping = await env.exec(['ping', '-c', '1', '-W', '3', 'n2'], { node: 'n1' });
    expect(ping.code).toBe(0);
    const caps = await env.exec(['grep', 'CapEff', '/proc/self/status'], { node: 'n2' });
    expect(caps.stdout).toMatch(/CapEff:\s+0000000000000000/);
    term.kill();
    // Host services stay out of reach from swarm tasks too (overlay + docker_gwbridge paths).
    const server = createServer((_q, r) => r.end('host-ok'));
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const port = String((server.address() as AddressInfo).port);
    try {
      const hostAddrs = Object.values(networkInterfaces())
        .flat()
        .filter((i) => i?.family === 'IPv4' && !i.internal)
        .map((i) => i?.address ?? '');
      expect(hostAddrs.length).toBeGreaterThan(0);
      for (const a of hostAddrs) {
        expect(
          (await env.exec(['nc', '-z', '-w', '2', a, port], { node: 'n1' })).code,
          `reached ${a}`,
        ).not.toBe(0);
      }
    } finally {
      server.close();
    }
    // Reset replaces the services: the learner's files are gone, the nodes answer again.
    await env.exec(['sh', '-c', 'echo x > ~/scratch'], { node: 'n1' });
    await env.reset();
    expect((await env.exec(['ls', '-A', '/home/learner'], { node: 'n1' })).stdout).not.toContain('scratch');
    expect((await env.exec(['ping', '-c', '1', '-W', '3', 'n2'], { node: 'n1' })).code).toBe(0);
    await env.destroy();
    expect(await docker.listServices({ filters: JSON.stringify({ label: [label.filter] }) })).toEqual([]);
    await expect(
      createDockerDriver({ swarm: true, engine: { socketPath: '/nonexistent.sock' } }),
    ).rejects.toThrow(/SANDBOX_ERR_NO_ENGINE/);
  }, 120_000);
});
