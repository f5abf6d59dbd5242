/**
 * After an operation on a VM, `xe` prints the VM's alerts raised meanwhile that are more urgent than
 * `message-priority` (default 5), as cli_operations.ml `wrap_op` does. The simulator raises no alert on a plain
 * start, so the test raises one (a real `message.create` on the simulator) while the start is in flight.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../../sandbox/src/sim/index.js';
import { createClient, type XapiClient } from '../../../toolkit/src/xenapi/index.js';
import { main } from '../../../toolkit/src/xe/main.js';

let sim: RunningSimulator;
let admin: XapiClient;
beforeAll(async () => {
  sim = await startSimulator({ port: 0, fast: true, seed: 'xe-messages' });
  admin = createClient({ url: sim.url, user: 'root', password: 'xenlab' });
});
afterAll(async () => {
  await admin.close();
  await sim.close();
});

/** Runs xe; whenever it calls VM.start, an alert of the given priority is raised on that VM first. */
async function xeRaising(priority: number, ...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main({
    argv: ['-p', new URL(sim.url).port, '-pw', 'xenlab', ...args],
    io: {
      stdout: (s) => {
        stdout += s;
      },
      stderr: (s) => {
        stderr += s;
      },
    },
    env: {},
    readFile: () => undefined,
    createClient: (o) => {
      const client = createClient(o);
      return {
        login: () => client.login(),
        close: () => client.close(),
        callRaw: async (method: string, ...a: unknown[]) => {
          if (method === 'VM.start') {
            const uuid = await admin.callRaw('VM.get_uuid', a[0]);
            await admin.callRaw(
              'message.create',
              'HA_POOL_OVERCOMMITTED',
              priority,
              'VM',
              uuid,
              'test alert',
            );
          }
          return client.callRaw(method, ...a);
        },
      };
    },
  });
  return { code, stdout, stderr };
}

test('an urgent alert raised during vm-start is printed on stderr; a routine one is not', async () => {
  const vm1 = (
    await xeRaising(1, 'vm-install', 'template=Alpine Linux 3.20', 'new-name-label=m1')
  ).stdout.trim();
  const urgent = await xeRaising(1, 'vm-start', `uuid=${vm1}`);
  expect(urgent.code).toBe(0);
  expect(urgent.stderr).toMatch(
    /^Message: time=\d{8}T\d\d:\d\d:\d\dZ priority=1 name='HA_POOL_OVERCOMMITTED'\n$/,
  );

  const vm2 = (
    await xeRaising(5, 'vm-install', 'template=Alpine Linux 3.20', 'new-name-label=m2')
  ).stdout.trim();
  expect((await xeRaising(5, 'vm-start', `uuid=${vm2}`)).stderr).toBe('');
  const vm3 = (
    await xeRaising(5, 'vm-install', 'template=Alpine Linux 3.20', 'new-name-label=m3')
  ).stdout.trim();
  expect((await xeRaising(5, 'vm-start', `uuid=${vm3}`, 'message-priority=6')).stderr).toMatch(
    /priority=5 name=/,
  );
});
