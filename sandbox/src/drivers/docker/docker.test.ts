// The docker driver's pure parts: names that survive a gateway restart, limits, the hardened host config, and the
// warm pool's bookkeeping. (Everything that talks to the engine is tested for real in test/integration/docker.)
import { describe, expect, it } from 'vitest';
import { containerName, decodeEnvId, encodeEnvId, parseContainerName } from './client.js';
import { DEFAULT_LIMITS, hardenedHostConfig, resolveLimits } from './hardening.js';
import { inputRule } from './networks.js';
import { WarmPool } from './pool.js';
import { serviceName } from './swarm.js';

describe('environment names', () => {
  it('encode any id reversibly into container-name characters', () => {
    for (const id of ['alice', 'a1b2-c3', 'alice@example.org:lab 1/Ünïcode', '_x_', '']) {
      const enc = encodeEnvId(id);
      expect(enc).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(decodeEnvId(enc)).toBe(id);
    }
    expect(decodeEnvId('bad_zz')).toBeUndefined();
  });
  it('container names carry environment and node, and nothing else parses as one', () => {
    const name = containerName('bob:lab.2', 'node1');
    expect(parseContainerName(`/${name}`)).toEqual({ envId: 'bob:lab.2', node: 'node1' });
    expect(parseContainerName('/some-other-container')).toBeUndefined();
    expect(() => containerName('x'.repeat(250), 'main')).toThrow(/SANDBOX_ERR_BAD_ID/);
  });
  it('service names are valid swarm names whatever the id', () => {
    const n = serviceName('alice@example.org:lab 1', 'node-1');
    expect(n).toMatch(/^[a-z0-9-]{1,63}$/);
    expect(serviceName('alice@example.org:lab 1', 'node-1')).toBe(n);
    expect(serviceName('bob', 'node-1')).not.toBe(n);
  });
});

describe('limits and hardening', () => {
  it('fills defaults and refuses nonsense with a clear code', () => {
    expect(resolveLimits(undefined)).toEqual(DEFAULT_LIMITS);
    expect(resolveLimits({ memoryMb: 512 }).memoryMb).toBe(512);
    expect(() => resolveLimits({ pids: 1 })).toThrow(/SANDBOX_ERR_BAD_LIMITS: pids/);
    expect(() => resolveLimits({ cpus: Number.NaN })).toThrow(/SANDBOX_ERR_BAD_LIMITS: cpus/);
  });
  it('drops every capability, forbids new privileges, no swap, sized tmpfs, no logs', () => {
    const hc = hardenedHostConfig(resolveLimits({ memoryMb: 200, diskMb: 40, pids: 50, cpus: 0.5 }), 'net-x');
    expect(hc.CapDrop).toEqual(['ALL']);
    expect(hc.SecurityOpt).toContain('no-new-privileges');
    expect(hc.Privileged).toBe(false);
    expect(hc.ReadonlyRootfs).toBe(true);
    expect(hc.Memory).toBe(200 * 1048576);
    expect(hc.MemorySwap).toBe(hc.Memory);
    expect(hc.PidsLimit).toBe(50);
    expect(hc.NanoCpus).toBe(5e8);
    expect(hc.Tmpfs?.['/home/learner']).toContain('size=40m');
    expect(hc.LogConfig?.Type).toBe('none');
    expect(hc.NetworkMode).toBe('net-x');
  });
  it('the host rule drops only new connections coming in from a bridge', () => {
    expect(inputRule('br-+').join(' ')).toBe('INPUT -i br-+ -m conntrack --ctstate NEW -j DROP');
  });
});

describe('warm pool', () => {
  const maker = () => {
    let made = 0;
    let disposed = 0;
    return {
      make: () => {
        made++;
        return Promise.resolve({
          n: made,
          dispose: () => {
            disposed++;
            return Promise.resolve();
          },
        });
      },
      counts: () => ({ made, disposed }),
    };
  };
  it('fills to its size, serves claims, refills, and disposes of the rest on close', async () => {
    const m = maker();
    const pool = new WarmPool(m.make, 2);
    await pool.ready(5000);
    expect(pool.stats.ready).toBe(2);
    expect(pool.take()?.n).toBe(1);
    expect(pool.stats.hits).toBe(1);
    await pool.ready(5000);
    expect(m.counts().made).toBe(3);
    await pool.close();
    expect(m.counts().disposed).toBe(2);
    expect(pool.take()).toBeUndefined();
  });
  it('an empty pool is a miss, not an error; a bad size is refused', () => {
    const pool = new WarmPool(maker().make, 0);
    expect(pool.take()).toBeUndefined();
    expect(() => new WarmPool(maker().make, -1)).toThrow(/SANDBOX_ERR_BAD_OPTION/);
  });
  it('keeps trying after a failing maker and reports the error', async () => {
    let fail = true;
    const pool = new WarmPool(() => {
      if (fail) {
        fail = false;
        return Promise.reject(new Error('engine restarting'));
      }
      return Promise.resolve({ dispose: () => Promise.resolve() });
    }, 1);
    await pool.ready(5000);
    expect(pool.stats.lastError).toBe('engine restarting');
    expect(pool.stats.ready).toBe(1);
    await pool.close();
  });
});
