/**
 * VM.provision reads a template's `other_config:disks` as xapi does (xapi_templates.ml over xml-light2/xmlm): any
 * well-formed XML — declaration, single quotes, comments — and xapi's INTERNAL_ERROR for the rest. `xe vm-install`
 * rewrites the `sr` of single-quoted disks too.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runXe } from '../xe/harness.js';
import { esc, fails, login, ok, post, start, v, xmlCall, type RunningSimulator } from './helpers.js';

let sim: RunningSimulator;
let s = '';
let srUuid = '';
beforeAll(async () => {
  sim = await start({ seed: 'provision-xml' });
  s = await login(sim.url);
  const [pool] = await ok<string[]>(sim.url, 'pool.get_all', s);
  srUuid = await ok<string>(
    sim.url,
    'SR.get_uuid',
    s,
    await ok<string>(sim.url, 'pool.get_default_SR', s, pool),
  );
});
afterAll(async () => {
  await sim.close();
});

/** A clone of Debian Bookworm 12 whose provision XML is `xml`. */
async function templateWith(name: string, xml: string): Promise<string> {
  const [tpl] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'Debian Bookworm 12');
  const vm = await ok<string>(sim.url, 'VM.clone', s, tpl, name);
  await ok(sim.url, 'VM.remove_from_other_config', s, vm, 'disks');
  await ok(sim.url, 'VM.add_to_other_config', s, vm, 'disks', xml);
  return vm;
}

test('an XML declaration, single quotes and comments are fine (XML-RPC)', async () => {
  const vm = await templateWith(
    'decl',
    `<?xml version="1.0" encoding="UTF-8"?>\n<!-- two disks -->\n<provision>\n` +
      `  <disk device='0' size='10737418240' sr='${srUuid}' bootable='true' type='system'/>\n` +
      `  <disk device="1" size="1073741824" sr="${srUuid}" bootable="false" type="user"></disk>\n</provision>\n`,
  );
  const r = await post(sim.url, xmlCall('VM.provision', v(s), v(vm)));
  expect(r.text).toContain('<value>Success</value>');
  const rec = await ok<{ is_a_template: boolean; other_config: Record<string, string>; VBDs: string[] }>(
    sim.url,
    'VM.get_record',
    s,
    vm,
  );
  expect(rec.is_a_template).toBe(false);
  expect(rec.other_config.disks).toBeUndefined();
  const sizes: number[] = [];
  for (const vbd of rec.VBDs) {
    const vdi = await ok<string>(sim.url, 'VBD.get_VDI', s, vbd);
    sizes.push(await ok<number>(sim.url, 'VDI.get_virtual_size', s, vdi));
  }
  expect(sizes.sort((a, b) => a - b)).toEqual([1073741824, 10737418240]);
});

test('malformed XML is INTERNAL_ERROR ["XML Error: … line n"], the wrong shape Xapi_templates.Parse_failure', async () => {
  const broken = await templateWith(
    'broken',
    `<provision>\n<disk device="0" size="1" sr="${srUuid}" bootable="true">`,
  );
  expect(await fails(sim.url, 'VM.provision', s, broken)).toEqual([
    'INTERNAL_ERROR',
    'XML Error: unexpected end of input line 2',
  ]);
  const shape = await templateWith(
    'shape',
    `<provision><disk device="0" size="ten" sr="" bootable="true"/></provision>`,
  );
  const r = await post(sim.url, xmlCall('VM.provision', v(s), v(shape)));
  expect(r.text).toContain(
    `<value>INTERNAL_ERROR</value><value>${esc('Xapi_templates.Parse_failure')}</value>`,
  );
});

test('xe vm-install sr-uuid=… rewrites a single-quoted sr to that SR (cli_util.ml rewrite_provisioning_xml)', async () => {
  const tpl = await templateWith(
    'quoted-template',
    `<provision><disk device='0' size='1073741824' sr='' bootable='true' type='system'/></provision>`,
  );
  const srs = await ok<Record<string, { uuid: string; name_label: string }>>(
    sim.url,
    'SR.get_all_records',
    s,
  );
  const local = Object.values(srs).find((r) => r.name_label.startsWith('Local storage'));
  expect(local && local.uuid !== srUuid).toBe(true);
  const r = await runXe([
    '-s',
    '127.0.0.1',
    '-p',
    new URL(sim.url).port,
    '-u',
    'root',
    '-pw',
    'xenlab',
    'vm-install',
    'template=quoted-template',
    'new-name-label=from-quoted',
    `sr-uuid=${local?.uuid ?? ''}`,
  ]);
  expect(r.stderr).toBe('');
  expect(await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'quoted-template')).toEqual([tpl]);
  const [vm] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'from-quoted');
  const [vbd] = await ok<string[]>(sim.url, 'VM.get_VBDs', s, vm);
  const vdi = await ok<string>(sim.url, 'VBD.get_VDI', s, vbd);
  const sr = await ok<string>(sim.url, 'VDI.get_SR', s, vdi);
  expect(await ok<string>(sim.url, 'SR.get_uuid', s, sr)).toBe(local?.uuid);
});
