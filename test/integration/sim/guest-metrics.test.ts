/**
 * VM_guest_metrics.os_version as a real guest agent fills it (ocaml/xapi/xapi_guest_agent.ml maps data/os_name,
 * os_uname, os_distro, os_majorver, os_minorver to name, uname, distro, major, minor), from the template the VM was
 * installed from — not the VM's own name.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runXe } from '../xe/harness.js';
import { login, ok, post, start, v, xmlCall, type RunningSimulator } from './helpers.js';

let sim: RunningSimulator;
let s = '';
beforeAll(async () => {
  sim = await start({ seed: 'guest-metrics' });
  s = await login(sim.url);
});
afterAll(async () => {
  await sim.close();
});

async function running(template: string, name: string): Promise<string> {
  const [tpl] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, template);
  const vm = await ok<string>(sim.url, 'VM.clone', s, tpl, name);
  await ok(sim.url, 'VM.provision', s, vm);
  await ok(sim.url, 'VM.start', s, vm, false, false);
  return vm;
}

const osVersion = async (vm: string): Promise<Record<string, string>> =>
  ok(sim.url, 'VM_guest_metrics.get_os_version', s, await ok<string>(sim.url, 'VM.get_guest_metrics', s, vm));

test('a Debian 12 guest reports what xe-guest-utilities writes there (JSON-RPC, XML-RPC, xe)', async () => {
  const vm = await running('Debian Bookworm 12', 'my-web-server');
  expect(await osVersion(vm)).toEqual({
    name: 'Debian GNU/Linux 12 (bookworm)',
    uname: '6.1.0-27-amd64',
    distro: 'debian',
    major: '12',
    minor: '12',
  });
  const gm = await ok<string>(sim.url, 'VM.get_guest_metrics', s, vm);
  const xml = await post(sim.url, xmlCall('VM_guest_metrics.get_os_version', v(s), v(gm)));
  expect(xml.text).toContain(
    '<member><name>name</name><value>Debian GNU/Linux 12 (bookworm)</value></member>',
  );
  const r = await runXe([
    '-s',
    '127.0.0.1',
    '-p',
    new URL(sim.url).port,
    '-u',
    'root',
    '-pw',
    'xenlab',
    'vm-param-get',
    `uuid=${await ok<string>(sim.url, 'VM.get_uuid', s, vm)}`,
    'param-name=os-version',
  ]);
  expect(r.stdout.trim()).toBe(
    'name: Debian GNU/Linux 12 (bookworm); uname: 6.1.0-27-amd64; distro: debian; major: 12; minor: 12',
  );
});

test('other templates: Rocky, Ubuntu, Alpine, Windows; an unknown OS reports nothing', async () => {
  expect(await osVersion(await running('Rocky Linux 9', 'db-1'))).toMatchObject({
    name: 'Rocky Linux release 9.5 (Blue Onyx)',
    distro: 'rocky',
    major: '9',
    minor: '5',
  });
  expect(await osVersion(await running('Ubuntu Jammy Jellyfish 22.04', 'u-1'))).toMatchObject({
    distro: 'ubuntu',
    major: '22',
    minor: '04',
  });
  expect(await osVersion(await running('Alpine Linux 3.20', 'a-1'))).toMatchObject({
    name: 'Alpine Linux v3.20',
    distro: 'alpine',
  });
  expect(await osVersion(await running('Windows Server 2022 (64-bit)', 'w-1'))).toMatchObject({
    distro: 'windows',
    major: '10',
    spmajor: '0',
  });
  expect(await osVersion(await running('Other install media', 'mystery'))).toEqual({});
});
