/**
 * `xe vm-export`, `vm-import`, `vdi-export`, `vdi-import` against the simulator's HTTP endpoints: files written and
 * read, the thin client's messages (`Export succeeded`, `Operation failed. Error: …`), server errors printed as xe
 * prints them, and their tasks cleaned up.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startXe, type XeHarness } from './harness.js';

let h: XeHarness;
let dir: string;
const MiB = 1024 * 1024;

beforeAll(async () => {
  h = await startXe();
  dir = mkdtempSync(join(tmpdir(), 'xenlab-xe-transfer-'));
});
afterAll(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A halted VM with one small disk; returns the VM's and the disk's uuids. */
async function vmWithDisk(name: string, mib = 3): Promise<{ vm: string; vdi: string }> {
  const vm = (await h.ok('vm-install', 'template=Debian Bookworm 12', `new-name-label=${name}`)).trim();
  const sr = (await h.ok('pool-list', 'params=default-SR', '--minimal')).trim();
  const vdi = (
    await h.ok('vdi-create', `sr-uuid=${sr}`, `name-label=${name} data`, `virtual-size=${String(mib)}MiB`)
  ).trim();
  await h.ok('vbd-create', `vm-uuid=${vm}`, `vdi-uuid=${vdi}`, 'device=1');
  return { vm, vdi };
}

function image(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < 5000; i++) b[i] = (i * seed) % 251;
  for (let i = size - 100; i < size; i++) b[i] = (i + seed) % 253;
  return b;
}

describe('xe transfers', () => {
  test('vdi-import then vdi-export (raw and vhd) move the same bytes', async () => {
    const { vdi } = await vmWithDisk('xe-vdi');
    const bytes = image(3 * MiB, 5);
    writeFileSync(join(dir, 'in.raw'), bytes);
    expect(await h.xe('vdi-import', `uuid=${vdi}`, `filename=${join(dir, 'in.raw')}`, 'format=raw')).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    expect((await h.xe('vdi-export', `uuid=${vdi}`, `filename=${join(dir, 'out.raw')}`)).code).toBe(0);
    expect(readFileSync(join(dir, 'out.raw')).equals(bytes)).toBe(true);
    expect(
      (await h.xe('vdi-export', `uuid=${vdi}`, `filename=${join(dir, 'out.vhd')}`, 'format=vhd')).code,
    ).toBe(0);
    expect(readFileSync(join(dir, 'out.vhd')).subarray(0, 8).toString()).toBe('conectix');
    const other = await vmWithDisk('xe-vdi-2');
    await h.ok('vdi-import', `uuid=${other.vdi}`, `filename=${join(dir, 'out.vhd')}`, 'format=vhd');
    await h.ok('vdi-export', `uuid=${other.vdi}`, `filename=${join(dir, 'again.raw')}`);
    expect(readFileSync(join(dir, 'again.raw')).equals(bytes)).toBe(true);
  });

  test('vm-export then vm-import: "Export succeeded", the new VM uuid printed, its disk holds the bytes', async () => {
    const { vm, vdi } = await vmWithDisk('xe-vm');
    const bytes = image(3 * MiB, 9);
    writeFileSync(join(dir, 'vm.raw'), bytes);
    await h.ok('vdi-import', `uuid=${vdi}`, `filename=${join(dir, 'vm.raw')}`);
    const file = join(dir, 'vm.xva');
    expect(await h.xe('vm-export', `vm=${vm}`, `filename=${file}`)).toEqual({
      code: 0,
      stdout: 'Export succeeded\n',
      stderr: '',
    });
    expect(readFileSync(file).subarray(0, 7).toString()).toBe('ova.xml');
    const out = await h.xe('vm-import', `filename=${file}`);
    expect(out.code).toBe(0);
    const copy = out.stdout.trim();
    expect(copy).toMatch(/^[0-9a-f-]{36}$/);
    expect(copy).not.toBe(vm);
    expect((await h.ok('vm-param-get', `uuid=${copy}`, 'param-name=name-label')).trim()).toBe('xe-vm');
    const disks = (
      await h.ok('vbd-list', `vm-uuid=${copy}`, 'userdevice=1', 'params=vdi-uuid', '--minimal')
    ).trim();
    await h.ok('vdi-export', `uuid=${disks}`, `filename=${join(dir, 'copy.raw')}`);
    expect(readFileSync(join(dir, 'copy.raw')).equals(bytes)).toBe(true);
    // compress=true: gzip; metadata=true: ova.xml alone (GET /export_metadata)
    await h.ok('vm-export', `vm=${vm}`, `filename=${join(dir, 'vm.xva.gz')}`, 'compress=true');
    expect(readFileSync(join(dir, 'vm.xva.gz')).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    await h.ok('vm-export', `vm=${vm}`, `filename=${join(dir, 'meta.xva')}`, 'metadata=true');
    const meta = readFileSync(join(dir, 'meta.xva'));
    expect(meta.subarray(0, 7).toString()).toBe('ova.xml');
    expect(meta.length).toBe(
      512 + Math.ceil(parseInt(meta.subarray(124, 135).toString(), 8) / 512) * 512 + 1024,
    );
    // no task left behind
    expect((await h.ok('task-list', '--minimal')).trim()).toBe('');
  });

  test('an existing file is never overwritten; a missing one is said so (exit 1, as the thin client)', async () => {
    const { vm, vdi } = await vmWithDisk('xe-files');
    const file = join(dir, 'exists.xva');
    writeFileSync(file, 'keep me');
    expect(await h.xe('vm-export', `vm=${vm}`, `filename=${file}`)).toEqual({
      code: 1,
      stdout: '',
      stderr: `Operation failed. Error: Sys_error("${file}: File exists")\n`,
    });
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    expect(await h.xe('vdi-import', `uuid=${vdi}`, `filename=${join(dir, 'nope.raw')}`)).toMatchObject({
      code: 1,
      stderr: `Operation failed. Error: file '${join(dir, 'nope.raw')}' does not exist\n`,
    });
    expect((await h.ok('task-list', '--minimal')).trim()).toBe('');
  });

  test('exporting a running VM: the server error, printed as xe prints it', async () => {
    const { vm } = await vmWithDisk('xe-running');
    await h.ok('vm-start', `uuid=${vm}`);
    const r = await h.xe('vm-export', `vm=${vm}`, `filename=${join(dir, 'running.xva')}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('expected: halted, suspended');
    expect(r.stderr).toContain('actual: running');
    expect(r.stderr).toContain(`vm: ${vm} (xe-running)`);
  });

  test('vm-import of something that is not an XVA: the import error', async () => {
    writeFileSync(join(dir, 'junk.xva'), Buffer.alloc(4096, 0x41));
    const r = await h.xe('vm-import', `filename=${join(dir, 'junk.xva')}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('tar header checksum mismatch');
  });
});
