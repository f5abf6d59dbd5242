/**
 * Imports that must fail cleanly: not a tar, the wrong first member, lying sizes, path tricks, XML bombs, broken
 * checksums, truncation, chunked uploads — each a clear error on the task (xapi's IMPORT_ERROR_* codes), nothing
 * left behind, memory bounded while hundreds of MiB stream through, and the simulator still answering afterwards.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  MiB,
  call,
  endpoint,
  generated,
  pattern,
  request,
  session,
  settled,
  smallVm,
  start,
  type RunningSimulator,
} from './transfer-helpers.js';

let sim: RunningSimulator;
let sid: string;
let xva: Buffer;

/** A ustar header written here by hand (independent of the simulator's tar code). */
function header(name: string, size: number | string, type = '0'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(typeof size === 'string' ? size : `${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0' + '00', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

async function importTask(body: Buffer | Readable, query: Record<string, string> = {}, headers = {}) {
  const r = await request(endpoint(sim, '/import', { session_id: sid, ...query }), 'PUT', body, headers);
  return { status: r.status, task: await settled(sim.url, r.headers['task-id'] as string) };
}

async function vmCount(): Promise<number> {
  return (await call<string[]>(sim.url, 'VM.get_all')).length;
}

beforeAll(async () => {
  sim = await start();
  sid = await session(sim.url);
  const { vm, vdi } = await smallVm(sim.url, 'source', 3 * MiB);
  await request(endpoint(sim, '/import_raw_vdi', { session_id: sid, vdi }), 'PUT', pattern(3 * MiB));
  xva = (await request(endpoint(sim, '/export', { session_id: sid, ref: vm }), 'GET')).body;
});
afterAll(async () => {
  await sim.close();
});

describe('malformed archives', () => {
  test('not a tar: IMPORT_ERROR_GENERIC naming the header checksum', async () => {
    const { status, task } = await importTask(Buffer.from('this is not an archive'.repeat(100)));
    expect(status).toBe(200);
    expect(task.error_info).toEqual([
      'IMPORT_ERROR_GENERIC',
      'tar header checksum mismatch (not a tar archive, or corrupted)',
    ]);
  });

  test('an empty body: IMPORT_ERROR_PREMATURE_EOF', async () => {
    expect((await importTask(Buffer.alloc(0))).task.error_info).toEqual(['IMPORT_ERROR_PREMATURE_EOF']);
  });

  test('the first member is not ova.xml (a path trick): IMPORT_ERROR_UNEXPECTED_FILE, its body never read', async () => {
    for (const name of ['../../etc/passwd', '/etc/shadow', 'Ref:1/00000000'])
      expect(
        (await importTask(Buffer.concat([header(name, 10), Buffer.alloc(1024)]))).task.error_info,
      ).toEqual(['IMPORT_ERROR_UNEXPECTED_FILE', 'ova.xml', name]);
    // a member claiming 200 MiB, of which 64 KiB arrive: refused at its header
    const claim = Buffer.concat([header('junk', 200 * MiB), Buffer.alloc(64 * 1024)]);
    expect((await importTask(claim)).task.error_info).toEqual([
      'IMPORT_ERROR_UNEXPECTED_FILE',
      'ova.xml',
      'junk',
    ]);
  });

  test('lying sizes: an 8 GiB ova.xml, a base-256 size beyond 2^53, a 1 MiB pax record', async () => {
    const huge = await importTask(Buffer.concat([header('ova.xml', 2 ** 33 - 1), Buffer.alloc(1024)]));
    expect(huge.task.error_info).toEqual([
      'IMPORT_ERROR_GENERIC',
      `xenlab: ova.xml is ${String(2 ** 33 - 1)} bytes, more than the ${String(16 * MiB)} this simulator reads`,
    ]);
    const b256 = header('ova.xml', 0);
    b256.fill(0xff, 124, 136);
    b256[124] = 0x80;
    b256.write('        ', 148);
    let sum = 0;
    for (const b of b256) sum += b;
    b256.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    expect((await importTask(Buffer.concat([b256, Buffer.alloc(1024)]))).task.error_info).toEqual([
      'IMPORT_ERROR_GENERIC',
      'tar size field is too large',
    ]);
    const pax = await importTask(Buffer.concat([header('PaxHeaders/x', MiB, 'x'), Buffer.alloc(MiB)]));
    expect(pax.task.error_info).toEqual([
      'IMPORT_ERROR_GENERIC',
      `tar extension record of ${String(MiB)} bytes (at most 65536)`,
    ]);
  });

  test('an XML bomb or a DOCTYPE in ova.xml: refused by the parser', async () => {
    const bomb = Buffer.from('<?xml version="1.0"?><!DOCTYPE v [<!ENTITY a "aaaa">]><value>&a;</value>');
    const r = await importTask(
      Buffer.concat([header('ova.xml', bomb.length), bomb, Buffer.alloc(512 - bomb.length + 1024)]),
    );
    expect(r.task.error_info[0]).toBe('IMPORT_ERROR_GENERIC');
    expect(String(r.task.error_info[1])).toMatch(/^ova\.xml is not an XML-RPC value: /);
  });

  test('a chunk whose checksum is wrong: Invalid_checksum, nothing left behind; force=true takes it', async () => {
    const before = await vmCount();
    const vdisBefore = (await call<string[]>(sim.url, 'VDI.get_all')).length;
    const bad = Buffer.from(xva);
    const at = bad.indexOf('.xxhash\0');
    expect(at).toBeGreaterThan(0);
    // the first chunk's data starts one block after its header; flip a byte there
    const chunkHeader = bad.lastIndexOf('/00000000\0', at) - 5;
    const dataStart = Math.floor(chunkHeader / 512) * 512 + 512;
    bad[dataStart] = (bad[dataStart] ?? 0) ^ 0x01;
    const { task } = await importTask(bad);
    expect(task.error_info[0]).toBe('IMPORT_ERROR_GENERIC');
    expect(String(task.error_info[1])).toMatch(
      /^Stream_vdi\.Invalid_checksum\("Block Ref:\d+\/00000000 checksum failed: original = [0-9A-F]{16}; recomputed = [0-9A-F]{16}"\)$/,
    );
    expect(await vmCount()).toBe(before);
    expect((await call<string[]>(sim.url, 'VDI.get_all')).length).toBe(vdisBefore);
    expect((await importTask(bad, { force: 'true' })).task.status).toBe('success');
  });

  test('truncated in the middle of a chunk: IMPORT_ERROR_PREMATURE_EOF, the VM and disks removed again', async () => {
    const before = await vmCount();
    const { task } = await importTask(xva.subarray(0, Math.floor(xva.length / 2)));
    expect(task.error_info).toEqual(['IMPORT_ERROR_PREMATURE_EOF']);
    expect(await vmCount()).toBe(before);
  });

  test('a chunk bigger than 1 MiB is refused at its header', async () => {
    // ova.xml of the real export, then a "chunk" of 1 GiB of which nothing is sent
    const xmlLen = parseInt(xva.subarray(124, 135).toString(), 8);
    const ova = xva.subarray(0, 512 + Math.ceil(xmlLen / 512) * 512);
    const prefix = /(Ref:\d+)\/00000000/.exec(xva.toString('latin1'))?.[1] ?? '';
    const { task } = await importTask(Buffer.concat([ova, header(`${prefix}/00000000`, 1024 * MiB)]));
    expect(task.error_info).toEqual([
      'IMPORT_ERROR_GENERIC',
      `xenlab: chunk ${prefix}/00000000 holds ${String(1024 * MiB)} bytes, more than 1 MiB`,
    ]);
  });

  test('chunked transfer encoding: HTTP 403, IMPORT_ERROR_CANNOT_HANDLE_CHUNKED (as xapi)', async () => {
    const task = await call<string>(sim.url, 'task.create', 'VM import', '');
    const r = await request(
      endpoint(sim, '/import', { session_id: sid, task_id: task }),
      'PUT',
      Readable.from([xva]),
    );
    expect(r.status).toBe(403);
    expect((await settled(sim.url, task)).error_info).toEqual(['IMPORT_ERROR_CANNOT_HANDLE_CHUNKED']);
  });
});

describe('bounded memory', () => {
  test('256 MiB streamed into a raw import: memory stays flat', async () => {
    const { vdi } = await smallVm(sim.url, 'stream', 512 * MiB);
    const base = process.memoryUsage();
    let peak = 0;
    const timer = setInterval(() => {
      const m = process.memoryUsage();
      peak = Math.max(peak, m.arrayBuffers - base.arrayBuffers, m.heapUsed - base.heapUsed);
    }, 20);
    const r = await request(
      endpoint(sim, '/import_raw_vdi', { session_id: sid, vdi }),
      'PUT',
      generated(256 * MiB, () => 0),
      { 'content-length': 256 * MiB },
    );
    clearInterval(timer);
    expect((await settled(sim.url, r.headers['task-id'] as string)).status).toBe('success');
    expect(peak).toBeLessThan(96 * MiB);
  });

  test('the simulator still answers after all of it', async () => {
    expect(await call<string[]>(sim.url, 'pool.get_all')).toHaveLength(1);
  });
});
