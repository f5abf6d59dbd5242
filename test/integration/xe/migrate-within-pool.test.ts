/**
 * Golden output of `xe vm-migrate` with storage-migration parameters whose remote-master is the VM's own pool
 * (xapi_vm_migrate.ml intra-pool branch: storage motion): a running VM moves host and its disk moves to another SR of
 * the pool; VIF mapping and copy mode are refused as xapi refuses them. Then copy mode to another pool: a halted
 * VM's copy arrives there (xe prints its uuid), the source stays. Ports are masked; uuids come from the seeds.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DEFAULT_SCENARIO, startSimulator, type RunningSimulator } from '../../../sandbox/src/sim/index.js';
import { PoolsTranscript } from './harness.js';

let east: RunningSimulator;
let west: RunningSimulator;

beforeAll(async () => {
  const crossPool = { link: 'xe-golden-within', wan: { latencyMs: 10, mbps: 1000 } };
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

test('xe vm-migrate within the pool (storage motion), and copy mode to another pool', async () => {
  const t = new PoolsTranscript();
  const e = (...a: string[]) => t.run('east', east, 'east-pw', ...a);
  const w = (...a: string[]) => t.run('west', west, 'west-pw', ...a);
  const self = [
    `remote-master=127.0.0.1:${new URL(east.url).port}`,
    'remote-username=root',
    'remote-password=east-pw',
  ];
  const nfsB = (
    await e(
      'sr-create',
      'name-label=NFS B',
      'type=nfs',
      'shared=true',
      'content-type=user',
      'device-config:server=10.0.0.9',
      'device-config:serverpath=/srv/b',
    )
  ).trim();
  const net = (
    await e('network-list', 'name-label=Pool-wide network associated with eth0', 'params=uuid', '--minimal')
  ).trim();
  const web = (await e('vm-install', 'template=Debian Bookworm 12', 'new-name-label=web01')).trim();
  const vif = (await e('vif-create', `vm-uuid=${web}`, `network-uuid=${net}`, 'device=0')).trim();
  await e('vm-start', 'vm=web01', 'on=xcp-ng-01');
  const vdi = (
    await e('vbd-list', 'vm-name-label=web01', 'type=Disk', 'params=vdi-uuid', '--minimal')
  ).trim();
  // Within one pool the VIFs stay on their networks, and copy mode is refused.
  await e('vm-migrate', 'vm=web01', ...self, 'host=xcp-ng-02', `vdi:${vdi}=${nfsB}`, `vif:${vif}=${net}`);
  await e('vm-migrate', 'vm=web01', ...self, 'host=xcp-ng-02', `vdi:${vdi}=${nfsB}`, 'copy=true');
  await e('vm-migrate', 'vm=web01', ...self, 'host=xcp-ng-02', `vdi:${vdi}=${nfsB}`, '--live');
  await e('vm-list', 'name-label=web01', 'params=uuid,power-state,resident-on');
  await e('host-list', 'name-label=xcp-ng-02', 'params=uuid', '--minimal');
  await e('vm-disk-list', 'vm=web01', 'vdi-params=sr-name-label', 'vbd-params=device');
  // Copy mode to another pool: a running VM is refused; a halted one is copied, the source stays.
  const westNet = (
    await w('network-list', 'name-label=Pool-wide network associated with eth0', 'params=uuid', '--minimal')
  ).trim();
  const remote = [
    `remote-master=127.0.0.1:${new URL(west.url).port}`,
    'remote-username=root',
    'remote-password=west-pw',
  ];
  await e('vm-migrate', 'vm=web01', ...remote, 'host=xcp-ng-01', `vif:${vif}=${westNet}`, 'copy=true');
  await e('vm-shutdown', 'vm=web01');
  await e('vm-migrate', 'vm=web01', ...remote, 'host=xcp-ng-01', `vif:${vif}=${westNet}`, 'copy=true');
  await e('vm-list', 'name-label=web01', 'params=uuid,power-state');
  await w('vm-list', 'name-label=web01', 'params=power-state');
  await expect(t.text).toMatchFileSnapshot('__golden__/migrate-within-pool.txt');
});
