/**
 * Raw VDI transfers (`GET /export_raw_vdi`, `PUT /import_raw_vdi`; ocaml/xapi/export_raw_vdi.ml, import_raw_vdi.ml):
 * raw, dynamic VHD and tar round trips, the VHD's layout checked field by field against the specification, clear
 * errors for a corrupt VHD or an image bigger than its VDI, the pool's disk-content cap, contents that follow
 * snapshots, and the task's progress while a transfer runs.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  type RunningSimulator,
  type TaskRecord,
} from './transfer-helpers.js';

let sim: RunningSimulator;
let sid: string;

beforeAll(async () => {
  sim = await start({ maxDiskBytes: 48 * MiB });
  sid = await session(sim.url);
});
afterAll(async () => {
  await sim.close();
});

async function put(vdi: string, format: string, body: Buffer, on = sim): Promise<TaskRecord> {
  const session_id = await session(on.url);
  const r = await request(endpoint(on, '/import_raw_vdi', { session_id, vdi, format }), 'PUT', body);
  expect(r.status).toBe(200);
  return settled(on.url, r.headers['task-id'] as string);
}

async function get(vdi: string, format: string, extra: Record<string, string> = {}): Promise<Buffer> {
  const r = await request(
    endpoint(sim, '/export_raw_vdi', { session_id: sid, vdi, format, ...extra }),
    'GET',
  );
  expect(r.status).toBe(200);
  expect((await settled(sim.url, r.headers['task-id'] as string)).status).toBe('success');
  return r.body;
}

/** One's complement of the byte sum, the checksum field counted as zeros. */
function sum(b: Buffer, at: number): number {
  let s = 0;
  for (let i = 0; i < b.length; i++) if (i < at || i >= at + 4) s += b[i] ?? 0;
  return ~s >>> 0;
}

describe('raw', () => {
  test('import then export: the same bytes; the task result is the VDI', async () => {
    const { vdi } = await smallVm(sim.url, 'raw');
    const size = await call<number>(sim.url, 'VDI.get_virtual_size', vdi);
    const bytes = pattern(size, 3);
    const task = await put(vdi, 'raw', bytes);
    expect(task).toMatchObject({
      status: 'success',
      result: `<value>${vdi}</value>`,
      name_label: 'Importing raw VDI',
    });
    const r = await request(endpoint(sim, '/export_raw_vdi', { session_id: sid, vdi }), 'GET');
    const uuid = await call<string>(sim.url, 'VDI.get_uuid', vdi);
    expect(r.headers['content-disposition']).toBe(`attachment; filename="${uuid}.raw"`);
    expect(r.body.equals(bytes)).toBe(true);
  });

  test('an image longer than the VDI: VDI_IO_ERROR on the task, saying so', async () => {
    const { vdi } = await smallVm(sim.url, 'too-long', MiB);
    const task = await put(vdi, 'raw', Buffer.alloc(MiB + 512, 1));
    expect(task.status).toBe('failure');
    expect(task.error_info).toEqual([
      'VDI_IO_ERROR',
      `Device I/O errors (xenlab: ${String(MiB + 512)} bytes sent for a disk of ${String(MiB)} bytes (the VDI is too small))`,
    ]);
  });

  test('an unknown format: HTTP 404 and INTERNAL_ERROR ["Unknown format x"] on the task (as xapi)', async () => {
    const { vdi } = await smallVm(sim.url, 'fmt', MiB);
    const task = await call<string>(sim.url, 'task.create', 't', '');
    const r = await request(
      endpoint(sim, '/export_raw_vdi', { session_id: sid, vdi, format: 'vmdk', task_id: task }),
      'GET',
    );
    expect(r.status).toBe(404);
    expect((await settled(sim.url, task)).error_info).toEqual(['INTERNAL_ERROR', 'Unknown format vmdk']);
  });

  test('no vdi and no sr: HTTP 400, VDI_MISSING on the task; sr_id alone makes an "Imported VDI"', async () => {
    const task = await call<string>(sim.url, 'task.create', 't', '');
    const r = await request(
      endpoint(sim, '/import_raw_vdi', { session_id: sid, task_id: task }),
      'PUT',
      Buffer.alloc(4),
    );
    expect(r.status).toBe(400);
    expect((await settled(sim.url, task)).error_info).toEqual(['VDI_MISSING']);
    const [pool] = await call<string[]>(sim.url, 'pool.get_all');
    const sr = await call<string>(sim.url, 'pool.get_default_SR', pool);
    const bytes = pattern(2 * MiB + 512, 9);
    const made = await request(
      endpoint(sim, '/import_raw_vdi', { session_id: sid, sr_id: sr }),
      'PUT',
      bytes,
    );
    const t = await settled(sim.url, made.headers['task-id'] as string);
    const vdi = /<value>(.*)<\/value>/.exec(t.result)?.[1] ?? '';
    expect(await call(sim.url, 'VDI.get_name_label', vdi)).toBe('Imported VDI');
    expect(await call(sim.url, 'VDI.get_virtual_size', vdi)).toBe(bytes.length);
    expect((await get(vdi, 'raw')).equals(bytes)).toBe(true);
  });
});

describe('vhd', () => {
  test('export: a dynamic VHD laid out as the specification says, only blocks holding data', async () => {
    const { vdi } = await smallVm(sim.url, 'vhd-layout', 7 * MiB);
    const bytes = pattern(7 * MiB, 5);
    await put(vdi, 'raw', bytes);
    const vhd = await get(vdi, 'vhd');
    const footer = vhd.subarray(0, 512);
    expect(footer.subarray(0, 8).toString()).toBe('conectix');
    expect(footer.readUInt32BE(12)).toBe(0x00010000);
    expect(Number(footer.readBigUInt64BE(16))).toBe(512);
    expect(Number(footer.readBigUInt64BE(48))).toBe(7 * MiB);
    expect(footer.readUInt32BE(60)).toBe(3); // dynamic
    expect(footer.readUInt32BE(64)).toBe(sum(footer, 64));
    expect(vhd.subarray(-512).equals(footer)).toBe(true);
    const header = vhd.subarray(512, 1536);
    expect(header.subarray(0, 8).toString()).toBe('cxsparse');
    expect(header.readUInt32BE(36)).toBe(sum(header, 36));
    const bat = Number(header.readBigUInt64BE(16));
    const entries = header.readUInt32BE(28);
    expect(header.readUInt32BE(32)).toBe(2 * MiB);
    expect(entries).toBe(4); // 7 MiB in 2 MiB blocks
    const offsets = [0, 1, 2, 3].map((i) => vhd.readUInt32BE(bat + 4 * i));
    // data in MiB 0 (block 0), MiB 2 (block 1) and MiB 6 (block 3); block 2 is empty
    expect(offsets[2]).toBe(0xffffffff);
    for (const i of [0, 1, 3]) {
      const at = (offsets[i] ?? 0) * 512;
      expect(vhd.subarray(at, at + 512).every((b) => b === 0xff)).toBe(true);
      const data = vhd.subarray(at + 512, at + 512 + 2 * MiB);
      const want = Buffer.alloc(2 * MiB);
      bytes.copy(want, 0, i * 2 * MiB, Math.min(bytes.length, (i + 1) * 2 * MiB));
      expect(data.equals(want)).toBe(true);
    }
    expect(vhd.length).toBe(1536 + 512 + 3 * (512 + 2 * MiB) + 512);
  });

  test('export → import into another VDI → raw export: the same bytes', async () => {
    const a = await smallVm(sim.url, 'vhd-a', 5 * MiB + 1000);
    const b = await smallVm(sim.url, 'vhd-b', 5 * MiB + 1000);
    const bytes = pattern(5 * MiB + 1000, 7);
    await put(a.vdi, 'raw', bytes);
    await put(b.vdi, 'raw', pattern(5 * MiB + 1000, 11)); // old contents, all replaced by the image
    const task = await put(b.vdi, 'vhd', await get(a.vdi, 'vhd'));
    expect(task.status).toBe('success');
    expect((await get(b.vdi, 'raw')).equals(bytes)).toBe(true);
  });

  test('a corrupt VHD: VDI_IO_ERROR naming the bad checksum', async () => {
    const a = await smallVm(sim.url, 'vhd-bad', 3 * MiB);
    await put(a.vdi, 'raw', pattern(3 * MiB, 2));
    const good = await get(a.vdi, 'vhd'); // (a failed VHD import leaves the disk cleared: keep the image)
    const vhd = Buffer.from(good);
    vhd[100] = (vhd[100] ?? 0) ^ 0xff; // inside the unique id: the footer's checksum no longer matches
    const task = await put(a.vdi, 'vhd', vhd);
    expect(task.status).toBe('failure');
    expect(task.error_info[0]).toBe('VDI_IO_ERROR');
    expect(String(task.error_info[1])).toMatch(
      /^Device I\/O errors \(xenlab: VHD footer \(copy at the start\): checksum is 0x[0-9a-f]{8}, the footer sums to 0x[0-9a-f]{8}\)$/,
    );
    const header = Buffer.from(good);
    header.write('cxspars!', 512);
    expect((await put(a.vdi, 'vhd', header)).error_info).toEqual([
      'VDI_IO_ERROR',
      'Device I/O errors (xenlab: VHD dynamic header: no "cxsparse" cookie)',
    ]);
    const truncated = good.subarray(0, 3000);
    expect(String((await put(a.vdi, 'vhd', truncated)).error_info[1])).toContain(
      'the upload ended before the image did',
    );
  });

  test('a VHD bigger than the VDI is refused from its footer', async () => {
    const big = await smallVm(sim.url, 'vhd-big', 4 * MiB);
    const small = await smallVm(sim.url, 'vhd-small', 2 * MiB);
    const task = await put(small.vdi, 'vhd', await get(big.vdi, 'vhd'));
    expect(task.error_info).toEqual([
      'VDI_IO_ERROR',
      `Device I/O errors (xenlab: the VHD's virtual size ${String(4 * MiB)} is larger than the VDI's ${String(2 * MiB)} bytes)`,
    ]);
  });
});

describe('tar and contents', () => {
  test('format=tar: the XVA chunk layout under vdi/, and back', async () => {
    const a = await smallVm(sim.url, 'tar-a', 3 * MiB);
    const bytes = pattern(3 * MiB, 4);
    await put(a.vdi, 'raw', bytes);
    const tar = await get(a.vdi, 'tar');
    expect(tar.subarray(0, 14).toString()).toBe('vdi/00000000\0\0');
    const b = await smallVm(sim.url, 'tar-b', 3 * MiB);
    expect((await put(b.vdi, 'tar', tar)).status).toBe('success');
    expect((await get(b.vdi, 'raw')).equals(bytes)).toBe(true);
  });

  test('a snapshot reads its disk as it was; the VM writes on; both export their own bytes', async () => {
    const { vm, vdi } = await smallVm(sim.url, 'snap', 3 * MiB);
    const first = pattern(3 * MiB, 21);
    await put(vdi, 'raw', first);
    const snap = await call<string>(sim.url, 'VM.snapshot', vm, 'snap-1');
    const second = pattern(3 * MiB, 22);
    await put(vdi, 'raw', second);
    const [snapVbd] = await call<string[]>(sim.url, 'VM.get_VBDs', snap);
    const snapVdi = await call<string>(sim.url, 'VBD.get_VDI', snapVbd);
    expect((await get(snapVdi, 'raw')).equals(first)).toBe(true);
    expect((await get(vdi, 'raw')).equals(second)).toBe(true);
    // destroying the snapshot's disk keeps the VM's
    await call(sim.url, 'VM.destroy', snap);
    await call(sim.url, 'VDI.destroy', snapVdi);
    expect((await get(vdi, 'raw')).equals(second)).toBe(true);
  });

  test('the pool keeps at most maxDiskBytes of written blocks: beyond, INTERNAL_ERROR saying so', async () => {
    const small = await start({ maxDiskBytes: 12 * MiB });
    try {
      const { vdi } = await smallVm(small.url, 'cap', 40 * MiB);
      const task = await put(vdi, 'raw', Buffer.alloc(40 * MiB, 0x5a), small);
      expect(task.status).toBe('failure');
      expect(task.error_info[0]).toBe('INTERNAL_ERROR');
      expect(task.error_info[1]).toMatch(/^xenlab: this simulated pool keeps at most 12 MiB/);
      await call(small.url, 'VDI.destroy', vdi); // gives the room back
      const again = await smallVm(small.url, 'cap-2', 12 * MiB);
      expect((await put(again.vdi, 'raw', Buffer.alloc(12 * MiB, 0x5b), small)).status).toBe('success');
    } finally {
      await small.close();
    }
  });

  test('progress while the client reads slowly; cancel ends it with TASK_CANCELLED', async () => {
    const { vdi } = await smallVm(sim.url, 'slow', 16 * MiB);
    const task = await call<string>(sim.url, 'task.create', 'slow export', '');
    const url = new URL(endpoint(sim, '/export_raw_vdi', { session_id: sid, vdi, task_id: task }));
    const res = await new Promise<http.IncomingMessage>((resolve) => http.get(url, resolve));
    res.pause();
    let rec: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      rec = await call<Record<string, unknown>>(sim.url, 'task.get_record', task);
      if (Number(rec.progress) > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(rec.status).toBe('pending');
    expect(Number(rec.progress)).toBeGreaterThan(0);
    expect(Number(rec.progress)).toBeLessThan(1);
    await call(sim.url, 'task.cancel', task);
    res.resume();
    await new Promise((r) => res.on('close', r));
    expect(await settled(sim.url, task)).toMatchObject({
      status: 'cancelled',
      error_info: ['TASK_CANCELLED', task],
    });
  });
});

describe('persistence', () => {
  test('with a state file, small contents come back after a restart; destroyed disks do not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-disks-'));
    const stateFile = join(dir, 'pool.json');
    try {
      const first = await start({ stateFile });
      const s1 = await session(first.url);
      const { vdi } = await smallVm(first.url, 'kept', 3 * MiB);
      const gone = await smallVm(first.url, 'gone', 2 * MiB);
      const bytes = pattern(3 * MiB, 8);
      for (const [v, b] of [
        [vdi, bytes],
        [gone.vdi, pattern(2 * MiB, 9)],
      ] as const) {
        const r = await request(endpoint(first, '/import_raw_vdi', { session_id: s1, vdi: v }), 'PUT', b);
        expect((await settled(first.url, r.headers['task-id'] as string)).status).toBe('success');
      }
      await call(first.url, 'VM.destroy', gone.vm);
      await call(first.url, 'VDI.destroy', gone.vdi);
      await first.close();
      expect(existsSync(`${stateFile}.disks`)).toBe(true);
      const second = await start({ stateFile });
      const s2 = await session(second.url);
      const r = await request(endpoint(second, '/export_raw_vdi', { session_id: s2, vdi }), 'GET');
      expect(r.body.equals(bytes)).toBe(true);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
