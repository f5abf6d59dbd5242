/**
 * Golden output of disaster recovery with `xe` between two real simulators of one environment (one sharedStorage
 * directory, as the gateway gives every pool of a learner): east replicates its database to its NFS SR
 * (`sr-enable-database-replication`), west finds that SR with `drtask-create`, lists what it can recover
 * (`vm-list database:vdi-uuid=…`), recovers a VM and a vApp with their uuids and disks (`vm-recover`,
 * `appliance-recover`), starts them, and the failures a learner meets (VM_REQUIRES_SR, a vApp's VM on its own,
 * recovering twice). Ports are masked; uuids come from the seeds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DEFAULT_SCENARIO, startSimulator, type RunningSimulator } from '../../../sandbox/src/sim/index.js';
import { PoolsTranscript } from './harness.js';

let shared: string;
let east: RunningSimulator;
let west: RunningSimulator;

beforeAll(async () => {
  shared = mkdtempSync(join(tmpdir(), 'xenlab-xe-dr-'));
  east = await startSimulator({ fast: true, seed: 'xe-golden', password: 'east-pw', sharedStorage: shared });
  west = await startSimulator({
    fast: true,
    seed: 'xe-golden-west',
    password: 'west-pw',
    sharedStorage: shared,
    scenario: {
      ...DEFAULT_SCENARIO,
      pool: { name: 'dc-west' },
      seed: 'xe-golden-west',
      // West's own storage is elsewhere on the filer.
      sharedStorage: [
        {
          name: 'west NFS',
          type: 'nfs',
          sizeGiB: 1024,
          deviceConfig: { server: '10.0.0.5', serverpath: '/srv/nfs/west' },
          default: true,
        },
      ],
    },
  });
});
afterAll(async () => {
  await Promise.all([east.close(), west.close()]);
  rmSync(shared, { recursive: true, force: true });
});

test('xe disaster recovery to another pool', async () => {
  const t = new PoolsTranscript();
  const e = (...a: string[]) => t.run('east', east, 'east-pw', ...a);
  const w = (...a: string[]) => t.run('west', west, 'west-pw', ...a);
  const min = async (run: typeof e, ...a: string[]) => (await run(...a, '--minimal')).trim();
  // East: a standalone VM and a two-VM vApp on its NFS SR, then replication to that SR.
  const solo = (await e('vm-install', 'template=Debian Bookworm 12', 'new-name-label=solo')).trim();
  const app = (await e('appliance-create', 'name-label=crm')).trim();
  for (const [name, order] of [
    ['crm-db', '0'],
    ['crm-web', '1'],
  ] as const) {
    const vm = (await e('vm-install', 'template=Alpine Linux 3.20', `new-name-label=${name}`)).trim();
    await e('vm-param-set', `uuid=${vm}`, `appliance=${app}`, `order=${order}`);
  }
  const sr = await min(e, 'sr-list', 'name-label=NFS storage', 'params=uuid');
  await e('sr-param-list', `uuid=${sr}`);
  await e('pbd-list', `sr-uuid=${sr}`, 'params=device-config', '--minimal');
  await e('sr-enable-database-replication', `uuid=${sr}`);
  // West: nothing whitelisted, nothing introduced; then the SR.
  const none = await min(
    w,
    'drtask-create',
    'type=nfs',
    'device-config:server=10.0.0.5',
    'device-config:serverpath=/srv/nfs/xenlab',
  );
  await w('drtask-param-get', `uuid=${none}`, 'param-name=introduced-SRs');
  await w('drtask-destroy', `uuid=${none}`);
  const task = await min(
    w,
    'drtask-create',
    'type=nfs',
    'device-config:server=10.0.0.5',
    'device-config:serverpath=/srv/nfs/xenlab',
    `sr-whitelist=${sr}`,
  );
  await w('drtask-list', `uuid=${task}`);
  await w('sr-list', `uuid=${sr}`, 'params=name-label,type,shared,introduced-by');
  const meta = await min(w, 'vdi-list', `sr-uuid=${sr}`, 'type=Metadata', 'params=uuid');
  await w('vm-list', `database:vdi-uuid=${meta}`, 'params=name-label,uuid,power-state');
  await w('appliance-list', `database:vdi-uuid=${meta}`);
  // A vApp's VM is recovered with its vApp.
  const crmDb = await min(e, 'vm-list', 'name-label=crm-db', 'params=uuid');
  await w('vm-recover', `uuid=${crmDb}`, `database:vdi-uuid=${meta}`);
  await w('vm-assert-can-be-recovered', `uuid=${solo}`, `database:vdi-uuid=${meta}`);
  await w('vm-recover', `uuid=${solo}`, `database:vdi-uuid=${meta}`);
  await w('vm-list', `uuid=${solo}`, 'params=name-label,power-state');
  await w('vm-disk-list', `uuid=${solo}`, 'vdi-params=uuid,sr-name-label', 'vbd-params=userdevice');
  await e('vm-disk-list', `uuid=${solo}`, 'vdi-params=uuid,sr-name-label', 'vbd-params=userdevice');
  await w('vm-start', `uuid=${solo}`);
  await w('vm-recover', `uuid=${solo}`, `database:vdi-uuid=${meta}`);
  await w('appliance-assert-can-be-recovered', `uuid=${app}`, `database:vdi-uuid=${meta}`);
  await w('appliance-recover', `uuid=${app}`, `database:vdi-uuid=${meta}`);
  await w('appliance-list', `uuid=${app}`);
  await w('appliance-start', `uuid=${app}`);
  await w('vm-list', `appliance=${app}`, 'params=name-label,power-state');
  // A disk east keeps on storage west never introduced: that VM needs the SR.
  const host = await min(e, 'host-list', 'name-label=xcp-ng-01', 'params=uuid');
  const archive = (
    await e(
      'sr-create',
      'name-label=archive',
      'type=nfs',
      'shared=true',
      'device-config:server=10.0.0.6',
      'device-config:serverpath=/srv/archive',
      `host-uuid=${host}`,
    )
  ).trim();
  const logs = (await e('vdi-create', `sr-uuid=${archive}`, 'name-label=logs', 'virtual-size=1GiB')).trim();
  const other = (await e('vm-install', 'template=Alpine Linux 3.20', 'new-name-label=reports')).trim();
  await e('vbd-create', `vm-uuid=${other}`, `vdi-uuid=${logs}`, 'device=1');
  await w('vm-assert-can-be-recovered', `uuid=${other}`, `database:vdi-uuid=${meta}`);
  await w('vm-recover', `uuid=${other}`, `database:vdi-uuid=${meta}`);
  await w('drtask-destroy', `uuid=${task}`);
  await w('sr-list', `uuid=${sr}`, 'params=name-label,introduced-by');
  await e('sr-disable-database-replication', `uuid=${sr}`);
  await expect(t.text).toMatchFileSnapshot('__golden__/dr-two-pools.txt');
});
