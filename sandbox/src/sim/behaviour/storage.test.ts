import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestWorld, type TestWorld } from './test-harness.js';

const GiB = 1024 ** 3;
let w: TestWorld;
beforeEach(async () => {
  w = await createTestWorld();
});
afterEach(() => {
  w.close();
});

const hosts = () => w.engine.store.all('host').map(([h]) => h);
const vdiRecord = (sr: string, size: number, name = 'disk') => ({
  name_label: name,
  name_description: '',
  SR: sr,
  virtual_size: size,
  type: 'user',
  sharable: false,
  read_only: false,
  other_config: {},
});

describe('SR lifecycle', () => {
  it('creates a shared SR with a plugged PBD on every host, a local one with a single PBD', async () => {
    const [h1] = hosts();
    const shared = (await w.call(
      'SR.create',
      h1,
      { server: '10.0.0.9', serverpath: '/x' },
      0,
      'nfs2',
      '',
      'nfs',
      'user',
      true,
      {},
    )) as string;
    const pbds = w.get('SR', shared).PBDs as string[];
    expect(pbds).toHaveLength(3);
    expect(pbds.every((p) => w.get('PBD', p).currently_attached === true)).toBe(true);
    const local = (await w.call(
      'SR.create',
      h1,
      { device: '/dev/sdb' },
      100 * GiB,
      'lvm1',
      '',
      'lvm',
      'user',
      false,
      {},
    )) as string;
    expect(w.get('SR', local).PBDs).toHaveLength(1);
    expect(w.get('SR', local).physical_size).toBe(100 * GiB);
    expect(await w.fails('SR.create', h1, {}, 0, 'x', '', 'bogus', 'user', false, {})).toEqual([
      'SR_UNKNOWN_DRIVER',
      'bogus',
    ]);
  });

  it('refuses to destroy a plugged SR (SR_HAS_PBD), then one that still has disks (SR_NOT_EMPTY)', async () => {
    const [h1] = hosts();
    const sr = (await w.call(
      'SR.create',
      h1,
      { device: '/dev/sdb' },
      100 * GiB,
      'lvm1',
      '',
      'lvm',
      'user',
      false,
      {},
    )) as string;
    const vdi = (await w.call('VDI.create', vdiRecord(sr, GiB))) as string;
    expect(await w.fails('SR.destroy', sr)).toEqual(['SR_HAS_PBD', sr]);
    expect(w.get('SR', sr).allowed_operations).not.toContain('destroy');
    const [pbd] = w.get('SR', sr).PBDs as string[];
    await w.call('PBD.unplug', pbd);
    expect(w.get('SR', sr).allowed_operations).toContain('forget');
    expect(w.get('SR', sr).allowed_operations).not.toContain('destroy');
    expect(await w.fails('SR.destroy', sr)).toEqual(['SR_NOT_EMPTY']);
    await w.call('PBD.plug', pbd);
    await w.call('VDI.destroy', vdi);
    await w.call('PBD.unplug', pbd);
    expect(w.get('SR', sr).allowed_operations).toContain('destroy');
    await w.call('SR.destroy', sr);
    expect(w.engine.store.find('SR', sr)).toBeUndefined();
    expect(w.engine.store.find('PBD', pbd ?? '')).toBeUndefined();
  });

  it('forgets an SR with its disks once unplugged', async () => {
    const [h1] = hosts();
    const sr = (await w.call('SR.create', h1, {}, 100 * GiB, 'ext1', '', 'ext', 'user', false, {})) as string;
    const vdi = (await w.call('VDI.create', vdiRecord(sr, GiB))) as string;
    const [pbd] = w.get('SR', sr).PBDs as string[];
    expect(await w.fails('SR.forget', sr)).toEqual(['SR_HAS_PBD', sr]);
    await w.call('PBD.unplug', pbd);
    await w.call('SR.forget', sr);
    expect(w.engine.store.find('VDI', vdi)).toBeUndefined();
  });
});

describe('capacity: thin (ext/nfs) vs thick (lvm)', () => {
  it('a new disk costs almost nothing on a thin SR and its full size on a thick one', async () => {
    const [h1] = hosts();
    const thin = (await w.call(
      'SR.create',
      h1,
      { device: '/dev/sdb' },
      100 * GiB,
      'ext',
      '',
      'ext',
      'user',
      false,
      {},
    )) as string;
    const thick = (await w.call(
      'SR.create',
      h1,
      { device: '/dev/sdc' },
      100 * GiB,
      'lvm',
      '',
      'lvm',
      'user',
      false,
      {},
    )) as string;
    await w.call('VDI.create', vdiRecord(thin, 10 * GiB));
    await w.call('VDI.create', vdiRecord(thick, 10 * GiB));
    expect(w.get('SR', thin).virtual_allocation).toBe(10 * GiB);
    expect(w.get('SR', thin).physical_utilisation).toBeLessThan(GiB / 100);
    expect(w.get('SR', thick).physical_utilisation).toBeGreaterThanOrEqual(10 * GiB);
  });

  it('over-provisions a thin SR but fails a thick one with SR_BACKEND_FAILURE_44', async () => {
    const [h1] = hosts();
    const thin = (await w.call('SR.create', h1, {}, 10 * GiB, 'ext', '', 'ext', 'user', false, {})) as string;
    const thick = (await w.call(
      'SR.create',
      h1,
      {},
      10 * GiB,
      'lvm',
      '',
      'lvm',
      'user',
      false,
      {},
    )) as string;
    await w.call('VDI.create', vdiRecord(thin, 50 * GiB));
    expect(w.get('SR', thin).virtual_allocation).toBe(50 * GiB);
    expect(await w.fails('VDI.create', vdiRecord(thick, 50 * GiB))).toEqual([
      'SR_BACKEND_FAILURE_44',
      '',
      'There is insufficient space',
      '',
    ]);
  });
});

describe('VDI and VBD', () => {
  async function runningVmWithCd(): Promise<{ vm: string; disk: string; cd: string }> {
    const vm = (await w.call('VM.clone', w.byName('VM', 'Debian Bookworm 12'), 'cdvm')) as string;
    await w.call('VM.provision', vm);
    const cd = (await w.call('VBD.create', {
      VM: vm,
      VDI: 'OpaqueRef:NULL',
      userdevice: '3',
      bootable: false,
      mode: 'RO',
      type: 'CD',
      unpluggable: true,
      empty: true,
      other_config: {},
      qos_algorithm_type: '',
      qos_algorithm_params: {},
    })) as string;
    await w.call('VM.start', vm, false, false);
    const disk = w.get('VBD', (w.get('VM', vm).VBDs as string[])[0] ?? '').VDI as string;
    return { vm, disk, cd };
  }

  it('refuses to destroy or resize a disk a running VM uses (VDI_IN_USE [vdi, op])', async () => {
    const { disk } = await runningVmWithCd();
    expect(await w.fails('VDI.destroy', disk)).toEqual(['VDI_IN_USE', disk, 'destroy']);
    expect(await w.fails('VDI.resize', disk, 20 * GiB)).toEqual(['VDI_IN_USE', disk, 'resize']);
  });

  it('grows a disk but never shrinks it', async () => {
    const sr = w.byName('SR', 'NFS storage');
    const vdi = (await w.call('VDI.create', vdiRecord(sr, 2 * GiB))) as string;
    await w.call('VDI.resize', vdi, 4 * GiB);
    expect(w.get('VDI', vdi).virtual_size).toBe(4 * GiB);
    expect(await w.fails('VDI.resize', vdi, GiB)).toEqual(['VDI_TOO_SMALL', vdi, String(4 * GiB)]);
  });

  it('plugs and unplugs VBDs with DEVICE_ALREADY_ATTACHED / DEVICE_ALREADY_DETACHED', async () => {
    const { vm } = await runningVmWithCd();
    const sr = w.byName('SR', 'NFS storage');
    const vdi = (await w.call('VDI.create', vdiRecord(sr, GiB))) as string;
    const vbd = (await w.call('VBD.create', {
      VM: vm,
      VDI: vdi,
      userdevice: '1',
      bootable: false,
      mode: 'RW',
      type: 'Disk',
      unpluggable: true,
      empty: false,
      other_config: {},
      qos_algorithm_type: '',
      qos_algorithm_params: {},
    })) as string;
    expect(w.get('VBD', vbd).currently_attached).toBe(false);
    expect(await w.fails('VBD.unplug', vbd)).toEqual(['DEVICE_ALREADY_DETACHED', vbd]);
    await w.call('VBD.plug', vbd);
    expect(w.get('VBD', vbd)).toMatchObject({ currently_attached: true, device: 'xvdb' });
    expect(await w.fails('VBD.plug', vbd)).toEqual(['DEVICE_ALREADY_ATTACHED', vbd]);
    expect(await w.fails('VBD.destroy', vbd)).toEqual([
      'OPERATION_NOT_ALLOWED',
      `VBD '${w.get('VBD', vbd).uuid as string}' still attached to '${w.get('VM', vm).uuid as string}'`,
    ]);
    await w.call('VBD.unplug', vbd);
    await w.call('VBD.destroy', vbd);
    expect(
      await w.fails('VBD.create', {
        VM: vm,
        VDI: vdi,
        userdevice: '0',
        bootable: false,
        mode: 'RW',
        type: 'Disk',
        unpluggable: true,
        empty: false,
        other_config: {},
        qos_algorithm_type: '',
        qos_algorithm_params: {},
      }),
    ).toEqual(['DEVICE_ALREADY_EXISTS', '0']);
  });

  it('inserts and ejects ISOs in a CD drive (VBD_NOT_EMPTY, VBD_IS_EMPTY, VBD_NOT_REMOVABLE_MEDIA)', async () => {
    const { vm, cd } = await runningVmWithCd();
    const iso = w.byName('VDI', 'debian-12.8.0-amd64-netinst.iso');
    expect(await w.fails('VBD.eject', cd)).toEqual(['VBD_IS_EMPTY', cd]);
    await w.call('VBD.insert', cd, iso);
    expect(w.get('VBD', cd)).toMatchObject({ empty: false, VDI: iso });
    expect(await w.fails('VBD.insert', cd, iso)).toEqual(['VBD_NOT_EMPTY', cd]);
    await w.call('VBD.eject', cd);
    expect(w.get('VBD', cd)).toMatchObject({ empty: true, VDI: 'OpaqueRef:NULL' });
    const disk = (w.get('VM', vm).VBDs as string[]).find((b) => w.get('VBD', b).type === 'Disk') ?? '';
    expect(await w.fails('VBD.eject', disk)).toEqual(['VBD_NOT_REMOVABLE_MEDIA', disk]);
  });

  it('copies a VDI in full into another SR', async () => {
    const [h1] = hosts();
    const src = w.byName('SR', 'NFS storage');
    const dst = (await w.call('SR.create', h1, {}, 100 * GiB, 'lvm', '', 'lvm', 'user', false, {})) as string;
    const vdi = (await w.call('VDI.create', vdiRecord(src, 8 * GiB))) as string;
    const copy = (await w.call('VDI.copy', vdi, dst, 'OpaqueRef:NULL', 'OpaqueRef:NULL')) as string;
    expect(w.get('VDI', copy)).toMatchObject({ SR: dst, virtual_size: 8 * GiB });
    expect(w.get('SR', dst).physical_utilisation).toBeGreaterThanOrEqual(8 * GiB);
  });
});
