/**
 * `vm-install` without `sr-uuid` fast-clones the template (VM.clone); with `sr-uuid` it makes a full copy there
 * (VM.copy) — the difference between seconds and minutes on a real pool (xcp-ng/xcp#61). The real client is
 * wrapped only to record which methods `xe` calls.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../../sandbox/src/sim/index.js';
import { createClient } from '../../../toolkit/src/xenapi/index.js';
import { main } from '../../../toolkit/src/xe/main.js';

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, fast: true, seed: 'xe-install' });
});
afterAll(async () => {
  await sim.close();
});

async function xeCalls(...args: string[]): Promise<{ code: number; stdout: string; calls: string[] }> {
  const calls: string[] = [];
  let stdout = '';
  const code = await main({
    argv: ['-p', new URL(sim.url).port, '-pw', 'xenlab', ...args],
    io: {
      stdout: (s) => {
        stdout += s;
      },
      stderr: () => undefined,
    },
    env: {},
    readFile: () => undefined,
    createClient: (o) => {
      const client = createClient(o);
      return {
        login: () => client.login(),
        close: () => client.close(),
        callRaw: (method: string, ...a: unknown[]) => {
          calls.push(method);
          return client.callRaw(method, ...a);
        },
      };
    },
  });
  return { code, stdout, calls };
}

test('vm-install without sr-uuid fast-clones the template onto the default SR', async () => {
  const r = await xeCalls('vm-install', 'template=Debian Bookworm 12', 'new-name-label=fast');
  expect(r.code).toBe(0);
  expect(r.calls).toContain('VM.clone');
  expect(r.calls).not.toContain('VM.copy');
  expect(r.calls).toContain('VM.provision');
  const vm = r.stdout.trim();
  const disks = await xeCalls(
    'vm-disk-list',
    `uuid=${vm}`,
    'vdi-params=sr-name-label',
    'vbd-params=userdevice',
  );
  expect(disks.stdout).toMatch(/sr-name-label \( RO\) *: NFS storage\n/);
});

test('vm-install with sr-uuid copies the template and provisions its disks on that SR', async () => {
  const sr =
    (await xeCalls('sr-list', 'name-label=Local storage', 'params=uuid', '--minimal')).stdout.split(',')[0] ??
    '';
  const r = await xeCalls(
    'vm-install',
    'template=Debian Bookworm 12',
    'new-name-label=full',
    `sr-uuid=${sr.trim()}`,
  );
  expect(r.code).toBe(0);
  expect(r.calls).toContain('VM.copy');
  expect(r.calls).not.toContain('VM.clone');
  const disks = await xeCalls('vm-disk-list', `uuid=${r.stdout.trim()}`, 'vdi-params=sr-name-label');
  expect(disks.stdout).toMatch(/sr-name-label \( RO\) *: Local storage\n/);
  const desc = await xeCalls('vm-param-get', `uuid=${r.stdout.trim()}`, 'param-name=name-description');
  expect(desc.stdout).toBe('Installed via xe CLI\n');
});
