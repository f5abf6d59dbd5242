/**
 * XVA export and import over the wire (`GET /export`, `GET /export_metadata`, `PUT /import`): the archive's format
 * (checked by GNU tar), a round trip of records and bytes, tasks, and the errors xapi gives (ocaml/xapi/export.ml,
 * import.ml, xapi_http.ml).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  MiB,
  call,
  endpoint,
  pattern,
  request,
  session,
  settled,
  smallVm,
  start,
  tarList,
  type RunningSimulator,
} from './transfer-helpers.js';

/** Runs a client program (asynchronously: the simulator answers from this same process). */
const run = promisify(execFile);

let sim: RunningSimulator;
let sid: string;
let dir: string;

beforeAll(async () => {
  sim = await start();
  sid = await session(sim.url);
  dir = mkdtempSync(join(tmpdir(), 'xenlab-transfer-'));
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A VM whose disk holds {@link pattern} bytes (written with a raw import). */
async function vmWithData(name: string, size = 5 * MiB + 1000) {
  const made = await smallVm(sim.url, name, size);
  const bytes = pattern(size);
  const put = await request(
    endpoint(sim, '/import_raw_vdi', { session_id: sid, vdi: made.vdi, format: 'raw' }),
    'PUT',
    bytes,
  );
  expect(put.status).toBe(200);
  const task = put.headers['task-id'] as string;
  expect((await settled(sim.url, task)).status).toBe('success');
  return { ...made, bytes };
}

async function rawBytes(vdi: string): Promise<Buffer> {
  const r = await request(endpoint(sim, '/export_raw_vdi', { session_id: sid, vdi, format: 'raw' }), 'GET');
  expect(r.status).toBe(200);
  return r.body;
}

describe('GET /export', () => {
  test('an XVA: ova.xml, then 1 MiB chunks with .xxhash, zero chunks left out but the first and last', async () => {
    const { vm } = await vmWithData('xva-format');
    const uuid = await call<string>(sim.url, 'VM.get_uuid', vm);
    const r = await request(endpoint(sim, '/export', { session_id: sid, uuid }), 'GET');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers['content-disposition']).toBe('attachment; filename="export.xva"');
    expect(r.headers['transfer-encoding']).toBeUndefined(); // close-delimited, as xapi's
    expect(r.headers['task-id']).toMatch(/^OpaqueRef:/);
    const members = (await tarList(r.body)).map((l) => l.replace(/^\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+/, '$1 '));
    const disk = /^\d+ (Ref:\d+)\/00000000$/.exec(members[1] ?? '')?.[1];
    expect(members[0]).toMatch(/^\d+ ova\.xml$/);
    // 5 MiB + 1000 bytes: chunks 0 (data), 2 (data), 5 (the last, partial); 1, 3, 4 are zeros and left out.
    expect(members.slice(1)).toEqual([
      `1048576 ${disk}/00000000`,
      `16 ${disk}/00000000.xxhash`,
      `1048576 ${disk}/00000002`,
      `16 ${disk}/00000002.xxhash`,
      `1000 ${disk}/00000005`,
      `16 ${disk}/00000005.xxhash`,
    ]);
    const task = await settled(sim.url, r.headers['task-id'] as string);
    expect(task).toMatchObject({ status: 'success', progress: 1, result: '', name_label: 'VM.export' });
    // ova.xml: version first, then the objects, references as archive ids
    const xml = r.body.subarray(512, 512 + Number(members[0]?.split(' ')[0])).toString('utf8');
    expect(xml).toMatch(
      /^<value><struct><member><name>version<\/name><value><struct><member><name>hostname<\/name>/,
    );
    expect(xml).toContain('<member><name>product_brand</name><value>XCP-ng</value></member>');
    expect(xml).toContain('<member><name>export_vsn</name><value>2</value></member>');
    expect(xml).toContain(
      '<member><name>class</name><value>VM</value></member><member><name>id</name><value>Ref:0</value></member>',
    );
    expect(xml).not.toContain(vm);
  });

  test('export → import round trip: new uuids, same records and bytes, the VM set in the task result', async () => {
    const { vm, bytes } = await vmWithData('round-trip');
    await call(sim.url, 'VM.set_VCPUs_max', vm, 3);
    await call(sim.url, 'VM.set_name_description', vm, 'moved by XVA');
    const r = await request(endpoint(sim, '/export', { session_id: sid, ref: vm }), 'GET');
    expect(r.status).toBe(200);
    const put = await request(endpoint(sim, '/import', { session_id: sid }), 'PUT', r.body);
    expect(put.status).toBe(200);
    const task = await settled(sim.url, put.headers['task-id'] as string);
    expect(task.status).toBe('success');
    const [copy] = /<value>(OpaqueRef:[^<]+)<\/value>/.exec(task.result)?.slice(1) ?? [];
    expect(task.result).toBe(`<value><array><data><value>${String(copy)}</value></data></array></value>`);
    expect(task.other_config.object_creation).toBe('complete');
    const a = await call<Record<string, unknown>>(sim.url, 'VM.get_record', vm);
    const b = await call<Record<string, unknown>>(sim.url, 'VM.get_record', copy);
    expect(b.uuid).not.toBe(a.uuid);
    for (const k of ['name_label', 'name_description', 'VCPUs_max', 'memory_static_max', 'HVM_boot_policy'])
      expect(b[k]).toEqual(a[k]);
    expect(b).toMatchObject({ power_state: 'Halted', is_a_template: false, current_operations: {} });
    expect((b.other_config as Record<string, string>).import_task).toBe(put.headers['task-id']);
    expect((b.other_config as Record<string, string>).mac_seed).not.toBe(
      (a.other_config as Record<string, string>).mac_seed,
    );
    expect(b.allowed_operations).toContain('start');
    const [vbd] = b.VBDs as string[];
    const vdi = await call<string>(sim.url, 'VBD.get_VDI', String(vbd));
    const vdiRec = await call<Record<string, unknown>>(sim.url, 'VDI.get_record', vdi);
    expect(vdiRec).toMatchObject({ name_label: 'round-trip disk', virtual_size: bytes.length });
    expect((vdiRec.sm_config as Record<string, string>).import_task).toBe(put.headers['task-id']);
    expect((await rawBytes(vdi)).equals(bytes)).toBe(true);
    const [vif] = b.VIFs as string[];
    const vifRec = await call<Record<string, unknown>>(sim.url, 'VIF.get_record', String(vif));
    const [origVif] = a.VIFs as string[];
    expect(vifRec.MAC).not.toBe(await call(sim.url, 'VIF.get_MAC', String(origVif)));
    expect(await call(sim.url, 'network.get_name_label', vifRec.network)).toBe(
      'Pool-wide network associated with eth0',
    );
  });

  test('restore=true keeps the VM uuid and MACs; an older or same version is refused', async () => {
    const { vm, vdi } = await vmWithData('restore');
    const before = await call<Record<string, unknown>>(sim.url, 'VM.get_record', vm);
    const mac = async (rec: Record<string, unknown>) =>
      call(sim.url, 'VIF.get_MAC', (rec.VIFs as string[])[0] ?? '');
    const macBefore = await mac(before);
    const xva = (await request(endpoint(sim, '/export', { session_id: sid, ref: vm }), 'GET')).body;
    // the same version is there: VM_TO_IMPORT_IS_NOT_NEWER_VERSION
    const again = await request(endpoint(sim, '/import', { session_id: sid, restore: 'true' }), 'PUT', xva);
    expect((await settled(sim.url, again.headers['task-id'] as string)).error_info).toEqual([
      'VM_TO_IMPORT_IS_NOT_NEWER_VERSION',
      vm,
      '0',
      '0',
    ]);
    // gone: restored with its uuid, its MACs, version 1
    await call(sim.url, 'VM.destroy', vm);
    await call(sim.url, 'VDI.destroy', vdi);
    const put = await request(endpoint(sim, '/import', { session_id: sid, restore: 'true' }), 'PUT', xva);
    const task = await settled(sim.url, put.headers['task-id'] as string);
    expect(task.status).toBe('success');
    const vms = await call<string[]>(sim.url, 'VM.get_by_name_label', 'restore');
    expect(vms).toHaveLength(1);
    const after = await call<Record<string, unknown>>(sim.url, 'VM.get_record', vms[0]);
    expect(after.uuid).toBe(before.uuid);
    expect(after.version).toBe(1);
    expect(await mac(after)).toBe(macBefore);
  });

  test('use_compression=true gzips the stream; a gzipped XVA imports', async () => {
    const { vm, bytes } = await vmWithData('gzip');
    const r = await request(
      endpoint(sim, '/export', { session_id: sid, ref: vm, use_compression: 'true' }),
      'GET',
    );
    expect(r.body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const tar = gunzipSync(r.body);
    expect((await tarList(tar))[0]).toMatch(/ova\.xml$/);
    const put = await request(endpoint(sim, '/import', { session_id: sid }), 'PUT', gzipSync(tar));
    const task = await settled(sim.url, put.headers['task-id'] as string);
    expect(task.status).toBe('success');
    const copy = /(OpaqueRef:[^<]+)/.exec(task.result)?.[1] ?? '';
    const [vbd] = await call<string[]>(sim.url, 'VM.get_VBDs', copy);
    expect((await rawBytes(await call<string>(sim.url, 'VBD.get_VDI', vbd))).equals(bytes)).toBe(true);
  });

  test('wget and curl with session_id in the query, and with basic auth (user:password@host)', async () => {
    const { vm, bytes } = await vmWithData('wget');
    const uuid = await call<string>(sim.url, 'VM.get_uuid', vm);
    const file = join(dir, 'wget.xva');
    await run('wget', ['-q', '-O', file, endpoint(sim, '/export', { session_id: sid, uuid })]);
    const viaWget = readFileSync(file);
    expect((await tarList(viaWget))[0]).toMatch(/ova\.xml$/);
    const auth = sim.url.replace('http://', 'http://root:xenlab@');
    const viaCurl = await run('curl', ['-sSf', `${auth}/export?uuid=${uuid}`], {
      maxBuffer: 64 * MiB,
      encoding: 'buffer',
    });
    expect(viaCurl.stdout.length).toBe(viaWget.length);
    // curl -T uploads it back (PUT with Content-Length)
    const out = (await run('curl', ['-sS', '-D', '-', '-T', file, `${auth}/import`])).stdout;
    const taskRef = /task-id: (\S+)/i.exec(out)?.[1] ?? '';
    const task = await settled(sim.url, taskRef);
    expect(task.status).toBe('success');
    const copy = /(OpaqueRef:[^<]+)/.exec(task.result)?.[1] ?? '';
    const [vbd] = await call<string[]>(sim.url, 'VM.get_VBDs', copy);
    expect((await rawBytes(await call<string>(sim.url, 'VBD.get_VDI', vbd))).equals(bytes)).toBe(true);
  });

  test('a running VM: HTTP 500 naming VM_BAD_POWER_STATE, the given task failed with it', async () => {
    const { vm } = await smallVm(sim.url, 'running');
    await call(sim.url, 'VM.start', vm, false, false);
    const task = await call<string>(sim.url, 'task.create', 'Export of VM', '');
    const r = await request(endpoint(sim, '/export', { session_id: sid, ref: vm, task_id: task }), 'GET');
    expect(r.status).toBe(500);
    expect(r.body.toString()).toContain(
      `<h1> Additional information </h1>VM_BAD_POWER_STATE: [ ${vm}; halted, suspended; running ]`,
    );
    expect(await settled(sim.url, task)).toMatchObject({
      status: 'failure',
      error_info: ['VM_BAD_POWER_STATE', vm, 'halted, suspended', 'running'],
    });
    expect(await call(sim.url, 'VM.get_current_operations', vm)).toEqual({});
  });

  test('a bad session: 401 with the action as realm, nothing done', async () => {
    const { vm } = await smallVm(sim.url, 'unauth');
    const r = await request(endpoint(sim, '/export', { session_id: 'OpaqueRef:nope', ref: vm }), 'GET');
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Basic realm="get_export"');
    expect(r.body.toString()).toBe(
      '<html><body><h1>HTTP 401 unauthorised</h1>Please check your credentials and retry.</body></html>',
    );
    const put = await request(`${sim.url}/import`, 'PUT', Buffer.alloc(1024));
    expect(put.status).toBe(401);
    expect(put.headers['www-authenticate']).toBe('Basic realm="put_import"');
    const wrong = sim.url.replace('http://', 'http://root:wrong@');
    expect((await request(`${wrong}/export?ref=${vm}`, 'GET')).status).toBe(401);
  });

  test('a task_id: progress 0 at the start, then success; the task is the one in the task-id header', async () => {
    const { vm } = await vmWithData('task');
    const task = await call<string>(sim.url, 'task.create', 'Export of VM', '');
    await call(sim.url, 'task.set_progress', task, -1);
    const r = await request(endpoint(sim, '/export', { session_id: sid, ref: vm, task_id: task }), 'GET');
    expect(r.headers['task-id']).toBe(task);
    expect(await settled(sim.url, task)).toMatchObject({
      status: 'success',
      progress: 1,
      name_label: 'Export of VM',
    });
  });
});

describe('GET /export_metadata', () => {
  test('ova.xml only, with Content-Length; the snapshots come along', async () => {
    const { vm } = await vmWithData('meta');
    const snap = await call<string>(sim.url, 'VM.snapshot', vm, 'meta-snap');
    const r = await request(endpoint(sim, '/export_metadata', { session_id: sid, ref: vm }), 'GET');
    expect(r.status).toBe(200);
    expect(Number(r.headers['content-length'])).toBe(r.body.length);
    const members = await tarList(r.body);
    expect(members).toHaveLength(1);
    expect(members[0]).toMatch(/ova\.xml$/);
    const xml = r.body.toString('utf8');
    expect(xml).toContain('<name>name_label</name><value>meta-snap</value>');
    expect(xml).toContain('<name>is_a_snapshot</name><value><boolean>1</boolean></value>');
    expect(await call(sim.url, 'VM.get_is_a_snapshot', snap)).toBe(true);
  });
});
