/**
 * Golden output of every `xe` command against a seeded simulator: one transcript (`$ xe …`, stdout, stderr, exit
 * code) per area, compared with the checked-in files under __golden__/. uuids come from the seed, so they are
 * stable; timestamps are masked. A last test fails when a command of the table appears in no transcript.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createClient } from '../../../toolkit/src/xenapi/index.js';
import { commandTable } from '../../../toolkit/src/xe/commands/index.js';
import { startXe, type XeHarness } from './harness.js';

let h: XeHarness;
const seen = new Set<string>();

// A fresh simulator from the same seed for each transcript: each one reads on its own.
beforeEach(async () => {
  h = await startXe();
});
afterEach(async () => {
  await h.close();
});

/** Masks what changes from run to run: wall-clock timestamps (not the epoch) and simulated metric values. */
function mask(s: string): string {
  return s
    .replace(/\b(?!19700101T00:00:00Z)\d{8}T\d\d:\d\d:\d\dZ\b/g, '<time>')
    .replace(/agent_start_time: \d+/g, 'agent_start_time: <time>')
    .replace(/^(.*utilisation.*?: ).*$/gm, '$1<metric>')
    .replace(/^(message: Reply to \S+ is not JSON: ).*$/gm, '$1<body>')
    .replace(/^(\$ xe \S+-data-source-query .*\n)[-\d.]+$/gm, '$1<metric>');
}

/** A transcript being written: each step runs xe and records what a terminal would show. */
class Transcript {
  #text = '';
  async run(...args: string[]): Promise<string> {
    const cmd = args.find((a) => !a.startsWith('-')) ?? '';
    seen.add(cmd === 'help' ? 'help' : cmd);
    const r = await h.xe(...args);
    this.#text += `$ xe ${args.map((a) => (/[\s;<>]/.test(a) ? `'${a}'` : a)).join(' ')}\n`;
    this.#text += r.stdout;
    if (r.stderr !== '') this.#text += `[stderr]\n${r.stderr}`;
    this.#text += `[exit ${r.code}]\n\n`;
    return r.stdout;
  }
  /** Runs and returns the first value of a `--minimal` answer. */
  async first(...args: string[]): Promise<string> {
    const out = await this.run(...args, '--minimal');
    return out.trim().split(/(?<!\\),/)[0] ?? '';
  }
  get text(): string {
    return mask(this.#text);
  }
}

/** The generated per-class commands, exercised on the first object of each class. */
const CLASSES = [
  'pool',
  'host',
  'host-cpu',
  'vm',
  'template',
  'sr',
  'sm',
  'pbd',
  'vdi',
  'vbd',
  'network',
  'pif',
  'vif',
  'console',
] as const;

describe('xe golden output', () => {
  test('generated class commands: list, param-list/get/set/add/remove/clear', async () => {
    const t = new Transcript();
    // A running VM with a disk and a NIC, so VBDs, VIFs (and consoles, where the simulator has them) exist.
    const vm = (await t.run('vm-install', 'template=Debian Bookworm 12', 'new-name-label=golden')).trim();
    const net = await t.first('network-list', 'params=uuid');
    await t.run('vif-create', `vm-uuid=${vm}`, `network-uuid=${net}`, 'device=0', 'mac=02:00:00:00:00:01');
    await t.run('vm-start', `uuid=${vm}`);
    for (const c of CLASSES) {
      await t.run(`${c}-list`);
      const uuid = await t.first(`${c}-list`, 'params=uuid');
      await t.run(`${c}-param-list`, `uuid=${uuid}`);
      await t.run(`${c}-param-get`, `uuid=${uuid}`, 'param-name=uuid');
      const table = commandTable();
      if (table.has(`${c}-param-set`)) {
        await t.run(`${c}-param-set`, `uuid=${uuid}`, 'other-config:xe-golden=one');
        await t.run(`${c}-param-get`, `uuid=${uuid}`, 'param-name=other-config', 'param-key=xe-golden');
      }
      if (table.has(`${c}-param-add`)) {
        await t.run(`${c}-param-add`, `uuid=${uuid}`, 'param-name=other-config', 'k1=v1', 'k2=v2');
        await t.run(`${c}-param-remove`, `uuid=${uuid}`, 'param-name=other-config', 'param-key=k1');
        await t.run(`${c}-param-get`, `uuid=${uuid}`, 'param-name=other-config');
      }
      if (table.has(`${c}-param-clear`)) {
        await t.run(`${c}-param-clear`, `uuid=${uuid}`, 'param-name=other-config');
        await t.run(`${c}-param-get`, `uuid=${uuid}`, 'param-name=other-config');
      }
    }
    // Filters: plain, map key, set membership, params=, --minimal escaping.
    await t.run('vm-list', 'power-state=running', 'params=name-label,power-state');
    await t.run('template-list', 'other-config:linux_template=true', 'params=name-label', '--minimal');
    await t.run('host-list', 'params=name-label,enabled,address');
    await t.run('sr-list', 'content-type=iso', 'params=all');
    await t.run('vm-list', 'allowed-operations:contains=start', '--minimal');
    await t.run('network-list', 'params=name-label,bridge,MTU');
    await expect(t.text).toMatchFileSnapshot('__golden__/classes.txt');
  });

  test('VM lifecycle: install, start, suspend, resume, clone, copy, snapshot, migrate, CDs, uninstall', async () => {
    const t = new Transcript();
    const vm = (await t.run('vm-install', 'template=Debian Bookworm 12', 'new-name-label=web01')).trim();
    await t.run('vm-list', 'name-label=web01');
    await t.run('vm-disk-list', 'vm=web01');
    await t.run('vm-start', 'vm=web01');
    await t.run('vm-param-get', `uuid=${vm}`, 'param-name=power-state');
    await t.run('vm-param-get', `uuid=${vm}`, 'param-name=resident-on');
    await t.run('vm-vif-list', 'vm=web01');
    await t.run('vm-data-source-list', 'vm=web01');
    await t.run('vm-data-source-query', 'vm=web01', 'data-source=memory');
    await t.run('vm-reboot', 'vm=web01');
    await t.run('vm-suspend', 'vm=web01');
    await t.run('vm-param-get', `uuid=${vm}`, 'param-name=power-state');
    await t.run('vm-resume', 'vm=web01');
    const host2 = await t.first('host-list', 'name-label=xcp-ng-02', 'params=uuid');
    await t.run('vm-migrate', 'vm=web01', `host-uuid=${host2}`, '--live');
    await t.run('vm-list', 'name-label=web01', 'params=name-label,resident-on');
    await t.run('vm-shutdown', 'vm=web01');
    await t.run(
      'vm-memory-limits-set',
      'vm=web01',
      'static-min=512MiB',
      'static-max=1GiB',
      'dynamic-min=1GiB',
      'dynamic-max=1GiB',
    );
    await t.run('vm-param-set', `uuid=${vm}`, 'VCPUs-max=4', 'name-description=front end');
    await t.run(
      'vm-param-set',
      `uuid=${vm}`,
      'actions-after-crash=Preserve',
      'actions-after-shutdown=restart',
    );
    await t.run('vm-param-list', `uuid=${vm}`);
    await t.run('vm-param-add', `uuid=${vm}`, 'param-name=tags', 'param-key=web');
    await t.run('vm-param-get', `uuid=${vm}`, 'param-name=tags');
    await t.run('vm-param-remove', `uuid=${vm}`, 'param-name=tags', 'param-key=web');
    await t.run('vm-cd-add', 'vm=web01', 'cd-name=debian-12.8.0-amd64-netinst.iso', 'device=3');
    await t.run('vm-cd-list', 'vm=web01');
    await t.run('vm-cd-eject', 'vm=web01');
    await t.run('vm-cd-insert', 'vm=web01', 'cd-name=debian-12.8.0-amd64-netinst.iso');
    await t.run('vm-cd-remove', 'vm=web01', 'cd-name=debian-12.8.0-amd64-netinst.iso');
    const clone = (
      await t.run('vm-clone', 'vm=web01', 'new-name-label=web02', 'new-name-description=a clone')
    ).trim();
    await t.run('vm-copy', 'vm=web02', 'new-name-label=web03');
    await t.run('vm-list', 'params=name-label,name-description', '--minimal');
    const snap = (await t.run('vm-snapshot', 'vm=web01', 'new-name-label=before-upgrade')).trim();
    await t.run('snapshot-list', 'params=name-label,snapshot-of');
    await t.run('snapshot-param-get', `uuid=${snap}`, 'param-name=is-a-snapshot');
    await t.run('snapshot-revert', `snapshot-uuid=${snap}`);
    const fromSnap = (await t.run('snapshot-clone', `uuid=${snap}`, 'new-name-label=from-snap')).trim();
    await t.run('snapshot-copy', `uuid=${snap}`, 'new-name-label=from-snap-copy');
    await t.run('snapshot-param-list', `uuid=${snap}`);
    await t.run('snapshot-param-set', `uuid=${snap}`, 'name-description=taken before the upgrade');
    await t.run('snapshot-param-add', `uuid=${snap}`, 'param-name=tags', 'param-key=keep');
    await t.run('snapshot-param-remove', `uuid=${snap}`, 'param-name=tags', 'param-key=keep');
    await t.run('snapshot-param-clear', `uuid=${snap}`, 'param-name=name-description');
    await t.run('vm-start', 'vm=web02');
    await t.run('vm-checkpoint', 'vm=web02', 'new-name-label=cp');
    await t.run('snapshot-destroy', `uuid=${snap}`);
    await t.run(
      'snapshot-uninstall',
      'snapshot-uuid=' + (await t.first('snapshot-list', 'name-label=cp', 'params=uuid')),
      '--force',
    );
    await t.run('vm-reset-powerstate', 'vm=web02', '--force');
    await t.run('vm-shutdown', 'vm=web02', '--force');
    await t.run('vm-reset-powerstate', 'vm=web02');
    await t.run('vm-destroy', `uuid=${fromSnap}`);
    await t.run('vm-uninstall', `uuid=${clone}`, '--force');
    await t.run('vm-uninstall', 'vm=web03', '--force');
    const tpl = (await t.run('vm-clone', 'vm=Debian Bookworm 12', 'new-name-label=my template')).trim();
    await t.run('template-param-get', `uuid=${tpl}`, 'param-name=name-label');
    await t.run('template-uninstall', `template-uuid=${tpl}`, '--force');
    await t.run('vm-uninstall', `uuid=${vm}`, '--force');
    await t.run('vm-list', '--minimal');
    await expect(t.text).toMatchFileSnapshot('__golden__/vm.txt');
  });

  test('hosts and pool', async () => {
    const t = new Transcript();
    const host3 = await t.first('host-list', 'name-label=xcp-ng-03', 'params=uuid');
    await t.run('host-disable', 'host=xcp-ng-03');
    await t.run('host-list', 'params=name-label,enabled');
    await t.run('host-evacuate', `uuid=${host3}`);
    await t.run('host-get-vms-which-prevent-evacuation', `uuid=${host3}`);
    await t.run('host-enable', 'host=xcp-ng-03');
    await t.run('host-data-source-list', 'host=xcp-ng-03');
    await t.run('host-data-source-query', 'host=xcp-ng-03', 'data-source=cpu_avg');
    await t.run('pool-ha-compute-max-host-failures-to-tolerate');
    const nfs = await t.first('sr-list', 'name-label=NFS storage', 'params=uuid');
    await t.run('pool-ha-enable', `heartbeat-sr-uuids=${nfs}`, 'ha-config:timeout=90');
    await t.run('pool-list', 'params=name-label,ha-enabled,ha-statefiles');
    await t.run('pool-ha-compute-max-host-failures-to-tolerate');
    await t.run('pool-designate-new-master', `host-uuid=${host3}`);
    await t.run('pool-ha-disable');
    await t.run('pool-designate-new-master', `host-uuid=${host3}`);
    await t.run('pool-list', 'params=name-label,master');
    await t.run('pool-sync-database');
    await t.run('pool-eject', `host-uuid=${host3}`, '--force');
    const host1 = await t.first('host-list', 'name-label=xcp-ng-01', 'params=uuid');
    await t.run('pool-eject', `host-uuid=${host1}`, '--force');
    await t.run('host-list', 'params=name-label', '--minimal');
    await t.run('pool-join', 'master-address=10.0.0.1', 'master-username=root', 'master-password=xenlab');
    await t.run('host-reboot', 'host=xcp-ng-02');
    await t.run('host-disable', 'host=xcp-ng-02');
    await t.run('host-reboot', 'host=xcp-ng-02');
    await t.run('host-disable', 'host=xcp-ng-02');
    await t.run('host-shutdown', 'host=xcp-ng-02');
    await t.run('host-list', 'params=name-label,enabled,host-metrics-live');
    await expect(t.text).toMatchFileSnapshot('__golden__/host-pool.txt');
  });

  test('storage: SR, PBD, VDI, VBD', async () => {
    const t = new Transcript();
    const host1 = await t.first('host-list', 'name-label=xcp-ng-01', 'params=uuid');
    const sr = (
      await t.run(
        'sr-create',
        'name-label=scratch',
        'type=ext',
        'device-config:device=/dev/sdb',
        `host-uuid=${host1}`,
        'physical-size=20GiB',
      )
    ).trim();
    await t.run('sr-list', `uuid=${sr}`);
    await t.run('sr-scan', `uuid=${sr}`);
    const vdi = (await t.run('vdi-create', `sr-uuid=${sr}`, 'name-label=data', 'virtual-size=1GiB')).trim();
    await t.run('vdi-list', `sr-uuid=${sr}`);
    await t.run('vdi-resize', `uuid=${vdi}`, 'disk-size=2GiB');
    await t.run('vdi-param-get', `uuid=${vdi}`, 'param-name=virtual-size');
    const clone = (await t.run('vdi-clone', `uuid=${vdi}`, 'new-name-label=data-clone')).trim();
    await t.run('vdi-snapshot', `uuid=${vdi}`);
    await t.run('vdi-copy', `uuid=${vdi}`, `sr-uuid=${sr}`);
    const vm = (await t.run('vm-install', 'template=Alpine Linux 3.20', 'new-name-label=storage-vm')).trim();
    const vbd = (
      await t.run('vbd-create', `vm-uuid=${vm}`, `vdi-uuid=${clone}`, 'device=1', 'mode=rw')
    ).trim();
    await t.run('vbd-list', `vm-uuid=${vm}`);
    await t.run('vm-start', `uuid=${vm}`);
    await t.run('vbd-unplug', `uuid=${vbd}`);
    await t.run('vbd-plug', `uuid=${vbd}`);
    const cd = (await t.run('vbd-create', `vm-uuid=${vm}`, 'device=3', 'type=CD', 'mode=ro')).trim();
    const iso = await t.first('vdi-list', 'name-label=debian-12.8.0-amd64-netinst.iso', 'params=uuid');
    await t.run('vbd-insert', `uuid=${cd}`, `vdi-uuid=${iso}`);
    await t.run('vbd-eject', `uuid=${cd}`);
    await t.run('vm-shutdown', `uuid=${vm}`, '--force');
    await t.run('vbd-destroy', `uuid=${vbd}`);
    await t.run('vdi-destroy', `uuid=${clone}`);
    await t.run('vdi-forget', `uuid=${vdi}`);
    const pbd = await t.first('pbd-list', `sr-uuid=${sr}`, 'params=uuid');
    await t.run('pbd-unplug', `uuid=${pbd}`);
    await t.run('pbd-plug', `uuid=${pbd}`);
    await t.run('pbd-unplug', `uuid=${pbd}`);
    await t.run('pbd-destroy', `uuid=${pbd}`);
    await t.run('pbd-create', `host-uuid=${host1}`, `sr-uuid=${sr}`, 'device-config:device=/dev/sdb');
    await t.run('sr-forget', `uuid=${sr}`);
    const sr2 = (
      await t.run(
        'sr-create',
        'name-label=tmp',
        'type=ext',
        'device-config:device=/dev/sdc',
        `host-uuid=${host1}`,
      )
    ).trim();
    await t.run('pbd-unplug', 'uuid=' + (await t.first('pbd-list', `sr-uuid=${sr2}`, 'params=uuid')));
    await t.run('sr-destroy', `uuid=${sr2}`);
    await expect(t.text).toMatchFileSnapshot('__golden__/storage.txt');
  });

  test('networking: networks, VIFs, VLANs, bonds, PIF IP configuration, the management interface', async () => {
    const t = new Transcript();
    const net = (await t.run('network-create', 'name-label=storage net', 'MTU=9000')).trim();
    await t.run('network-list', `uuid=${net}`, 'params=all');
    const host1 = await t.first('host-list', 'name-label=xcp-ng-01', 'params=uuid');
    await t.run('pif-list', `host-uuid=${host1}`);
    const eth1 = await t.first('pif-list', `host-uuid=${host1}`, 'device=eth1', 'params=uuid');
    const vlanPif = (await t.run('vlan-create', `pif-uuid=${eth1}`, 'vlan=42', `network-uuid=${net}`)).trim();
    await t.run('vlan-list');
    const vlan = await t.first('vlan-list', 'tag=42', 'params=uuid');
    await t.run('vlan-param-list', `uuid=${vlan}`);
    await t.run('vlan-param-get', `uuid=${vlan}`, 'param-name=untagged-PIF');
    await t.run('pif-param-get', `uuid=${vlanPif}`, 'param-name=VLAN');
    await t.run('vlan-destroy', `uuid=${vlanPif}`);
    const net2 = (await t.run('network-create', 'name-label=vlan43')).trim();
    await t.run('pool-vlan-create', `pif-uuid=${eth1}`, 'vlan=forty', `network-uuid=${net2}`);
    await t.run('pool-vlan-create', `pif-uuid=${eth1}`, 'vlan=4095', `network-uuid=${net2}`);
    await t.run('pool-vlan-create', `pif-uuid=${eth1}`, 'vlan=43', `network-uuid=${net2}`);
    await t.run('pool-vlan-create', `pif-uuid=${eth1}`, 'vlan=43', `network-uuid=${net2}`);
    const vm = (await t.run('vm-install', 'template=Alpine Linux 3.20', 'new-name-label=net-vm')).trim();
    const vif = (
      await t.run('vif-create', `vm-uuid=${vm}`, `network-uuid=${net}`, 'device=1', 'mac=aa:bb:cc:dd:ee:01')
    ).trim();
    await t.run('vif-list', `vm-uuid=${vm}`);
    await t.run('vm-start', `uuid=${vm}`);
    await t.run('vif-unplug', `uuid=${vif}`);
    await t.run('vif-plug', `uuid=${vif}`);
    await t.run('vif-move', `uuid=${vif}`, `network-uuid=${net2}`);
    await t.run('vm-shutdown', `uuid=${vm}`, '--force');
    await t.run('vif-destroy', `uuid=${vif}`);
    await t.run(
      'pif-reconfigure-ip',
      `uuid=${eth1}`,
      'mode=static',
      'IP=10.1.0.11',
      'netmask=255.255.255.0',
      'gateway=10.1.0.1',
    );
    await t.run('pif-list', `uuid=${eth1}`, 'params=device,IP-configuration-mode,IP,netmask,gateway');
    await t.run('pif-reconfigure-ip', `uuid=${eth1}`, 'mode=static', 'IP=10.1.0.11', 'netmask=24');
    await t.run('pif-reconfigure-ip', `uuid=${eth1}`, 'mode=manual');
    await t.run('pif-reconfigure-ip', `uuid=${eth1}`, 'mode=none');
    await t.run('pif-unplug', `uuid=${eth1}`);
    await t.run('pif-plug', `uuid=${eth1}`);
    await t.run('pif-scan', `host-uuid=${host1}`);
    const bondNet = (await t.run('network-create', 'name-label=bond0')).trim();
    const eth0 = await t.first('pif-list', `host-uuid=${host1}`, 'device=eth0', 'params=uuid');
    const bond = (
      await t.run('bond-create', `network-uuid=${bondNet}`, `pif-uuids=${eth0},${eth1}`, 'mode=active-backup')
    ).trim();
    await t.run('bond-list', `uuid=${bond}`, 'params=all');
    await t.run('bond-set-mode', `uuid=${bond}`, 'mode=balance-slb');
    await t.run('bond-param-get', `uuid=${bond}`, 'param-name=mode');
    await t.run('bond-param-list', `uuid=${bond}`);
    await t.run('bond-destroy', `uuid=${bond}`);
    await t.run('pif-forget', `uuid=${vlanPif}`);
    await t.run('network-destroy', `uuid=${bondNet}`);
    await t.run('host-management-reconfigure', `pif-uuid=${eth0}`);
    await t.run('pool-management-reconfigure', `network-uuid=${net}`);
    await t.run('network-destroy', `uuid=${net}`);
    await expect(t.text).toMatchFileSnapshot('__golden__/network.txt');
  });

  test('tasks, messages, events, tunnels and help', async () => {
    const t = new Transcript();
    await t.run('task-list');
    await t.run('task-cancel', 'uuid=00000000-0000-0000-0000-000000000000');
    // A task of our own (xe runs its operations synchronously, so it leaves none behind).
    const client = createClient({ url: h.sim.url, user: 'root', password: 'xenlab' });
    await client.callRaw('task.create', 'golden task', 'made by the test');
    await client.close();
    const tu = await t.first('task-list', 'params=uuid');
    await t.run('task-param-list', `uuid=${tu}`);
    await t.run('task-param-get', `uuid=${tu}`, 'param-name=status');
    await t.run('task-param-set', `uuid=${tu}`, 'other-config:step=1');
    await t.run('task-param-add', `uuid=${tu}`, 'param-name=other-config', 'step2=2');
    await t.run('task-param-remove', `uuid=${tu}`, 'param-name=other-config', 'param-key=step');
    await t.run('task-param-clear', `uuid=${tu}`, 'param-name=other-config');
    await t.run('task-list');
    await t.run('task-cancel', `uuid=${tu}`);
    const pool = await t.first('pool-list', 'params=uuid');
    await t.run('message-create', 'name=XE_GOLDEN', 'priority=3', `pool-uuid=${pool}`, 'body=hello from xe');
    const msg = await t.first('message-list', 'name=XE_GOLDEN', 'params=uuid');
    await t.run('message-list', 'name=XE_GOLDEN', 'params=name,priority,class,body');
    await t.run('message-param-get', `uuid=${msg}`, 'param-name=body');
    await t.run('message-param-list', `uuid=${msg}`);
    await t.run('message-destroy', `uuid=${msg}`);
    await t.run('event-wait', 'class=host', 'name-label=xcp-ng-01', 'enabled=true');
    await t.run('event-wait', 'class=vm', 'is-control-domain=true', 'power-state=/=halted');
    await t.run('tunnel-list');
    await t.run('bond-list');
    await t.run('vlan-list');
    await t.run('vbd-list', 'params=uuid', '--minimal');
    await t.run('help');
    await t.run('help', '--all');
    await t.run('help', 'vm-install');
    await t.run('help', 'vm-start', 'host-evacuate');
    await t.run('help', 'no-such-command');
    await t.run('help', '--minimal');
    await expect(t.text).toMatchFileSnapshot('__golden__/misc.txt');
  });

  test('import and export: vdi-import, vdi-export, vm-export, vm-import', async () => {
    const t = new Transcript();
    // A fixed folder: the file names appear in the transcript.
    const dir = join(tmpdir(), 'xenlab-xe-golden-transfer');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    try {
      const vm = (await t.run('vm-install', 'template=Debian Bookworm 12', 'new-name-label=moved')).trim();
      const sr = await t.first('pool-list', 'params=default-SR');
      const vdi = (
        await t.run('vdi-create', `sr-uuid=${sr}`, 'name-label=moved data', 'virtual-size=4MiB')
      ).trim();
      await t.run('vbd-create', `vm-uuid=${vm}`, `vdi-uuid=${vdi}`, 'device=1');
      const data = Buffer.alloc(4 * 1024 * 1024);
      data.write('xenlab golden transfer', 3 * 1024 * 1024);
      writeFileSync(join(dir, 'data.raw'), data);
      await t.run('vdi-import', `uuid=${vdi}`, `filename=${join(dir, 'data.raw')}`, 'format=raw');
      await t.run('vdi-import', `uuid=${vdi}`, `filename=${join(dir, 'missing.raw')}`);
      await t.run('vdi-export', `uuid=${vdi}`, `filename=${join(dir, 'data.vhd')}`, 'format=vhd');
      await t.run('vm-export', 'vm=moved', `filename=${join(dir, 'moved.xva')}`);
      await t.run('vm-export', 'vm=moved', `filename=${join(dir, 'moved.xva')}`);
      const copy = (await t.run('vm-import', `filename=${join(dir, 'moved.xva')}`)).trim();
      await t.run('vm-list', 'name-label=moved', 'params=uuid,power-state');
      await t.run('vm-disk-list', `uuid=${copy}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await expect(t.text).toMatchFileSnapshot('__golden__/transfer.txt');
  });

  test('vApps and disaster recovery in one pool: appliance-*, drtask-*, sr-*-database-replication, recover', async () => {
    const t = new Transcript();
    const app = (await t.run('appliance-create', 'name-label=shop', 'name-description=three tiers')).trim();
    await t.run('appliance-start', `uuid=${app}`);
    const db = (await t.run('vm-install', 'template=Alpine Linux 3.20', 'new-name-label=shop-db')).trim();
    const web = (await t.run('vm-install', 'template=Alpine Linux 3.20', 'new-name-label=shop-web')).trim();
    await t.run('vm-param-set', `uuid=${db}`, `appliance=${app}`, 'order=0', 'start-delay=5');
    await t.run('vm-param-set', `uuid=${web}`, `appliance=${app}`, 'order=1', 'shutdown-delay=3');
    await t.run('vm-param-set', `uuid=${web}`, 'start-delay=-1');
    const template = await t.first('template-list', 'name-label=Alpine Linux 3.20', 'params=uuid');
    await t.run('template-param-set', `uuid=${template}`, `appliance=${app}`);
    await t.run('appliance-list');
    await t.run('appliance-param-list', `uuid=${app}`);
    await t.run('appliance-param-set', `uuid=${app}`, 'name-description=db then web');
    await t.run('appliance-param-get', `uuid=${app}`, 'param-name=allowed-operations');
    await t.run('appliance-param-clear', `uuid=${app}`, 'param-name=name-description');
    await t.run('appliance-start', `uuid=${app}`);
    await t.run('vm-list', `appliance=${app}`, 'params=name-label,power-state,order');
    await t.run('appliance-start', `uuid=${app}`);
    await t.run('appliance-shutdown', `uuid=${app}`);
    await t.run('appliance-start', `uuid=${app}`, 'paused=true');
    await t.run('appliance-param-get', `uuid=${app}`, 'param-name=allowed-operations');
    await t.run('appliance-shutdown', `uuid=${app}`, '--force');
    // Replicating the pool's database to its NFS SR; this pool can read it back (no other pool shares the storage).
    const sr = await t.first('pool-list', 'params=default-SR');
    const local = await t.first('sr-list', 'name-label=Local storage', 'params=uuid');
    await t.run('sr-enable-database-replication', `uuid=${local}`);
    await t.run('sr-enable-database-replication', `uuid=${sr}`);
    const meta = await t.first('vdi-list', `sr-uuid=${sr}`, 'type=Metadata', 'params=uuid');
    await t.run('vdi-list', `uuid=${meta}`, 'params=name-label,type,virtual-size,metadata-latest,sm-config');
    await t.run('vm-list', `database:vdi-uuid=${meta}`, `appliance=${app}`, 'params=name-label,order');
    await t.run('appliance-list', `database:vdi-uuid=${meta}`, 'params=name-label,VMs');
    await t.run('appliance-param-get', `uuid=${app}`, `database:vdi-uuid=${meta}`, 'param-name=name-label');
    await t.run('vm-assert-can-be-recovered', `uuid=${db}`);
    await t.run('vm-assert-can-be-recovered', `uuid=${db}`, `database:vdi-uuid=${meta}`);
    await t.run('vm-recover', `uuid=${db}`, `database:vdi-uuid=${meta}`);
    await t.run('appliance-assert-can-be-recovered', `uuid=${app}`, `database:vdi-uuid=${meta}`);
    await t.run('appliance-recover', `uuid=${app}`, `database:vdi-uuid=${meta}`);
    const srUuid = await t.first('sr-list', `uuid=${sr}`, 'params=uuid');
    const dr = (
      await t.run(
        'drtask-create',
        'type=nfs',
        'device-config:server=10.0.0.5',
        'device-config:serverpath=/srv/nfs/xenlab',
        `sr-whitelist=${srUuid}`,
      )
    ).trim();
    await t.run('drtask-list');
    await t.run('drtask-param-list', `uuid=${dr}`);
    await t.run('drtask-param-get', `uuid=${dr}`, 'param-name=introduced-SRs');
    await t.run('drtask-destroy', `uuid=${dr}`);
    await t.run('drtask-create', 'type=iso', 'device-config:location=/srv/iso');
    await t.run('drtask-create', 'type=nfs', 'device-config:server=10.0.0.5');
    await t.run('sr-disable-database-replication', `uuid=${sr}`);
    await t.run('vdi-list', `sr-uuid=${sr}`, 'type=Metadata');
    await t.run('appliance-destroy', `uuid=${app}`);
    await t.run('vm-param-get', `uuid=${db}`, 'param-name=appliance');
    await expect(t.text).toMatchFileSnapshot('__golden__/appliance-dr.txt');
  });

  test("vdi-pool-migrate: one disk of a running VM to another SR (the new VDI's uuid), and xapi's refusals", async () => {
    const t = new Transcript();
    const nfsB = (
      await t.run(
        'sr-create',
        'name-label=NFS B',
        'type=nfs',
        'shared=true',
        'content-type=user',
        'device-config:server=10.0.0.9',
        'device-config:serverpath=/srv/b',
      )
    ).trim();
    const vm = (await t.run('vm-install', 'template=Debian Bookworm 12', 'new-name-label=moving')).trim();
    await t.run('vm-start', `uuid=${vm}`, 'on=xcp-ng-01');
    const vdi = await t.first('vbd-list', `vm-uuid=${vm}`, 'type=Disk', 'params=vdi-uuid');
    const sr = await t.first('vdi-list', `uuid=${vdi}`, 'params=sr-uuid');
    const loose = (
      await t.run('vdi-create', `sr-uuid=${sr}`, 'name-label=loose', 'virtual-size=1GiB')
    ).trim();
    await t.run('vdi-pool-migrate', `uuid=${loose}`, `sr-uuid=${nfsB}`);
    const paused = (await t.run('vm-install', 'template=Debian Bookworm 12', 'new-name-label=paused')).trim();
    await t.run('vm-start', `uuid=${paused}`, 'paused=true');
    const pausedVdi = await t.first('vbd-list', `vm-uuid=${paused}`, 'type=Disk', 'params=vdi-uuid');
    await t.run('vdi-pool-migrate', `uuid=${pausedVdi}`, `sr-uuid=${nfsB}`);
    await t.run('vdi-pool-migrate', `uuid=${vdi}`);
    await t.run('vdi-pool-migrate', `uuid=${vdi}`, `sr-uuid=${nfsB}`);
    await t.run('vdi-list', `uuid=${vdi}`);
    await t.run('vm-disk-list', `uuid=${vm}`, 'vdi-params=uuid,sr-name-label', 'vbd-params=device');
    await t.run('vm-list', `uuid=${vm}`, 'params=power-state,resident-on');
    await expect(t.text).toMatchFileSnapshot('__golden__/vdi-pool-migrate.txt');
  });

  test('every command of the table has golden output', () => {
    const missing = [...commandTable().keys()].filter((c) => !seen.has(c));
    // Commands whose only object class the default simulator does not create (tunnels need Open vSwitch).
    const untestable = [
      'tunnel-param-set',
      'tunnel-param-list',
      'tunnel-param-get',
      'tunnel-param-add',
      'tunnel-param-remove',
      'tunnel-param-clear',
    ];
    expect(missing.filter((c) => !untestable.includes(c))).toEqual([]);
  });
});
