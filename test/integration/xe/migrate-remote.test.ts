/**
 * Golden output of `xe vm-migrate` to another pool (cli_operations.ml `vm_migrate`, storage-migration branch)
 * between two real simulators of one environment: the plan it prints (host, network, VDI → SR with the preferred SR
 * filled in), the VM arriving there, and the failures a learner meets (no password, a wrong one, an unknown host,
 * VIFs left out of the map, a master that does not answer). Ports are masked; uuids come from the seeds.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DEFAULT_SCENARIO, startSimulator, type RunningSimulator } from '../../../sandbox/src/sim/index.js';
import { PoolsTranscript } from './harness.js';

let east: RunningSimulator;
let west: RunningSimulator;

beforeAll(async () => {
  const crossPool = { link: 'xe-golden-link', wan: { latencyMs: 40, mbps: 200 } };
  east = await startSimulator({ fast: true, seed: 'xe-golden', password: 'east-pw', crossPool });
  west = await startSimulator({
    fast: true,
    seed: 'xe-golden-west',
    password: 'west-pw',
    crossPool,
    scenario: { ...DEFAULT_SCENARIO, pool: { name: 'dc-west' }, seed: 'xe-golden-west' },
  });
});
afterAll(async () => {
  await Promise.all([east.close(), west.close()]);
});

test('xe vm-migrate to a remote pool', async () => {
  const t = new PoolsTranscript();
  const e = (...a: string[]) => t.run('east', east, 'east-pw', ...a);
  const w = (...a: string[]) => t.run('west', west, 'west-pw', ...a);
  const westAddr = `127.0.0.1:${new URL(west.url).port}`;
  const remote = [`remote-master=${westAddr}`, 'remote-username=root', 'remote-password=west-pw'];
  const eastNet = (
    await e('network-list', 'name-label=Pool-wide network associated with eth0', 'params=uuid', '--minimal')
  ).trim();
  const web = (await e('vm-install', 'template=Debian Bookworm 12', 'new-name-label=web01')).trim();
  const vif = (await e('vif-create', `vm-uuid=${web}`, `network-uuid=${eastNet}`, 'device=0')).trim();
  await e('vm-start', 'vm=web01', 'on=xcp-ng-01');
  const westNet = (
    await w('network-list', 'name-label=Pool-wide network associated with eth0', 'params=uuid', '--minimal')
  ).trim();
  // Failures first: nothing moves.
  await e('vm-migrate', 'vm=web01', `remote-master=${westAddr}`, 'remote-username=root');
  await e(
    'vm-migrate',
    'vm=web01',
    `remote-master=${westAddr}`,
    'remote-username=root',
    'remote-password=nope',
  );
  await e('vm-migrate', 'vm=web01', ...remote, 'host=xcp-ng-09');
  // The CLI maps no VIF by itself: one left out is VIF_NOT_IN_MAP.
  await e('vm-migrate', 'vm=web01', ...remote, 'host=xcp-ng-02');
  await e('vm-migrate', 'vm=web01', 'remote-master=127.0.0.1:1', 'remote-username=root', 'remote-password=x');
  // The disk goes to the preferred SR (shared, attached, most free), the VIF where the map says.
  await e('vm-migrate', 'vm=web01', ...remote, 'host=xcp-ng-02', `vif:${vif}=${westNet}`, '--live');
  await e('vm-list', 'name-label=web01');
  await w('vm-list', 'name-label=web01', 'params=name-label,power-state,resident-on');
  await w('vm-vif-list', 'vm=web01');
  // A halted VM with its disk mapped by hand to the host's local storage.
  const db = (await e('vm-install', 'template=Debian Bookworm 12', 'new-name-label=db01')).trim();
  const dbVif = (await e('vif-create', `vm-uuid=${db}`, `network-uuid=${eastNet}`, 'device=0')).trim();
  const vdi = (await e('vbd-list', 'vm-name-label=db01', 'type=Disk', 'params=vdi-uuid', '--minimal')).trim();
  await e('vm-disk-list', 'vm=db01', 'vdi-params=sr-name-label', 'vbd-params=device');
  const local = (
    await w('sr-list', 'name-label=Local storage', 'host=xcp-ng-03', 'params=uuid', '--minimal')
  ).trim();
  await e(
    'vm-migrate',
    'vm=db01',
    ...remote,
    'host=xcp-ng-03',
    `vdi:${vdi}=${local}`,
    `vif:${dbVif}=${westNet}`,
  );
  await w('vm-disk-list', 'vm=db01', 'vdi-params=sr-name-label', 'vbd-params=device');
  await expect(t.text).toMatchFileSnapshot('__golden__/migrate-remote.txt');
});
