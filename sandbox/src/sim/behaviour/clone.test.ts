import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseProvisionXml } from './clone.js';
import { createTestWorld, type TestWorld } from './test-harness.js';

const GiB = 1024 ** 3;
let w: TestWorld;
beforeEach(async () => {
  w = await createTestWorld();
});
afterEach(() => {
  w.close();
});

const disksOf = (vm: string) =>
  (w.get('VM', vm).VBDs as string[])
    .map((b) => w.get('VBD', b))
    .filter((b) => b.type === 'Disk')
    .map((b) => b.VDI as string);

describe('provision XML', () => {
  it('reads every <disk> with its size, SR uuid, bootable flag and type', () => {
    expect(
      parseProvisionXml(
        '<provision><disk device="0" size="10737418240" sr="" bootable="true" type="system"/><disk device="1" size="1024" sr="abc" bootable="false" type="user"/></provision>',
      ),
    ).toEqual([
      { device: '0', size: 10737418240, sr: '', bootable: true, type: 'system' },
      { device: '1', size: 1024, sr: 'abc', bootable: false, type: 'user' },
    ]);
    // As xapi_templates.ml over xmlm: an empty value is not a document; a disk without its attributes has the
    // wrong shape (clone-provision.test.ts has the rest).
    expect(() => parseProvisionXml('')).toThrow(
      /INTERNAL_ERROR\(XML Error: unexpected end of input line 1\)/,
    );
    expect(() => parseProvisionXml('<provision><disk size="x"/></provision>')).toThrow(
      /INTERNAL_ERROR\(Xapi_templates.Parse_failure\)/,
    );
  });
});

describe('clone, copy and provision', () => {
  it('clones a default template: still a template, not a default one, with a new mac_seed', async () => {
    const tpl = w.byName('VM', 'Debian Bookworm 12');
    const vm = (await w.call('VM.clone', tpl, 'my-template')) as string;
    const rec = w.get('VM', vm);
    expect(rec).toMatchObject({
      is_a_template: true,
      is_default_template: false,
      name_label: 'my-template',
      power_state: 'Halted',
    });
    const other = rec.other_config as Record<string, string>;
    expect(other.default_template).toBeUndefined();
    expect(other.mac_seed).toMatch(/^[0-9a-f-]{36}$/);
    expect(other.disks).toContain('<provision>');
  });

  it('provisions the disks of the template XML on the default SR and stops being a template', async () => {
    const vm = (await w.call('VM.clone', w.byName('VM', 'Debian Bookworm 12'), 'web')) as string;
    await w.call('VM.provision', vm);
    const rec = w.get('VM', vm);
    expect(rec.is_a_template).toBe(false);
    expect((rec.other_config as Record<string, string>).disks).toBeUndefined();
    const [vdi] = disksOf(vm);
    expect(w.get('VDI', vdi ?? '')).toMatchObject({
      virtual_size: 10 * GiB,
      SR: w.byName('SR', 'NFS storage'),
    });
    expect(await w.fails('VM.provision', vm)).toEqual(['PROVISION_ONLY_ALLOWED_ON_TEMPLATE']);
  });

  it('fails provisioning onto a full thick SR with SR_BACKEND_FAILURE_44 and leaves no half-made disks', async () => {
    const [h1] = w.engine.store.all('host').map(([h]) => h);
    const sr = (await w.call('SR.create', h1, {}, 5 * GiB, 'small', '', 'lvm', 'user', false, {})) as string;
    const vm = (await w.call('VM.clone', w.byName('VM', 'Debian Bookworm 12'), 'big')) as string;
    const xml = (w.get('VM', vm).other_config as Record<string, string>).disks ?? '';
    await w.call('VM.remove_from_other_config', vm, 'disks');
    await w.call(
      'VM.add_to_other_config',
      vm,
      'disks',
      xml.replace('sr=""', `sr="${w.get('SR', sr).uuid as string}"`),
    );
    expect(await w.fails('VM.provision', vm)).toEqual([
      'SR_BACKEND_FAILURE_44',
      '',
      'There is insufficient space',
      '',
    ]);
    expect(w.get('SR', sr).VDIs).toEqual([]);
    await w.call('VM.remove_from_other_config', vm, 'disks');
    await w.call('VM.add_to_other_config', vm, 'disks', xml.replace('sr=""', 'sr="no-such-uuid"'));
    expect(await w.fails('VM.provision', vm)).toEqual(['UUID_INVALID', 'sr', 'no-such-uuid']);
  });

  it('fast-clones disks as VHD children and gives VIFs fresh MACs', async () => {
    const vm = (await w.call('VM.clone', w.byName('VM', 'Debian Bookworm 12'), 'base')) as string;
    await w.call('VM.provision', vm);
    const net = w.byName('network', 'Pool-wide network associated with eth0');
    await w.call('VIF.create', {
      device: '0',
      network: net,
      VM: vm,
      MAC: '',
      MTU: 1500,
      other_config: {},
      qos_algorithm_type: '',
      qos_algorithm_params: {},
    });
    const clone = (await w.call('VM.clone', vm, 'copy-of-base')) as string;
    const [src] = disksOf(vm);
    const [dst] = disksOf(clone);
    expect(dst).not.toBe(src);
    // Both leaves now build on a hidden base copy holding the source's data (SM's VHD clone).
    const parentOf = (v: string | undefined) =>
      (w.get('VDI', v ?? '').sm_config as Record<string, string>)['vhd-parent'];
    const baseUuid = parentOf(dst);
    expect(baseUuid).toBeDefined();
    expect(parentOf(src)).toBe(baseUuid);
    const base = w.ctx.store.byUuid('VDI', baseUuid ?? '');
    expect(w.get('VDI', base)).toMatchObject({ name_label: 'base copy', managed: false, read_only: true });
    expect(w.get('VDI', dst ?? '').physical_utilisation).toBeLessThan(GiB / 100);
    expect(w.get('VDI', src ?? '').physical_utilisation).toBeLessThan(GiB / 100);
    const mac = (v: string) => w.get('VIF', (w.get('VM', v).VIFs as string[])[0] ?? '').MAC;
    expect(mac(clone)).not.toBe(mac(vm));
    expect(mac(clone)).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(w.get('VM', clone).is_a_template).toBe(false);
  });

  it('clones one template many times without growing its VHD chain, and collects the base with its last child', async () => {
    const vm = (await w.call('VM.clone', w.byName('VM', 'Debian Bookworm 12'), 'golden')) as string;
    await w.call('VM.provision', vm);
    const disk = (v: string) =>
      w.get('VBD', (w.get('VM', v).VBDs as string[]).find((b) => w.get('VBD', b).type === 'Disk') ?? '')
        .VDI as string;
    const parentOf = (vdi: string) => (w.get('VDI', vdi).sm_config as Record<string, string>)['vhd-parent'];
    const bases = () =>
      w.engine.store.all('VDI').filter(([, r]) => r.managed === false && r.name_label === 'base copy');
    const clones: string[] = [];
    for (let i = 0; i < 40; i++) clones.push((await w.call('VM.clone', vm, `c-${String(i)}`)) as string);
    // One base copy: the golden disk is an empty leaf after the first clone, so every later clone shares its parent.
    expect(bases()).toHaveLength(1);
    const base = bases()[0]?.[1].uuid;
    expect(parentOf(disk(vm))).toBe(base);
    expect(new Set(clones.map((c) => parentOf(disk(c))))).toEqual(new Set([base]));
    // The base goes when nothing builds on it any more (SM's garbage collector).
    for (const c of [...clones, vm]) {
      const vdi = disk(c);
      await w.call('VM.destroy', c);
      await w.call('VDI.destroy', vdi);
    }
    expect(bases()).toEqual([]);
  });

  it('refuses to clone a running VM (VM_BAD_POWER_STATE) and copies a halted one into another SR in full', async () => {
    const vm = (await w.call('VM.clone', w.byName('VM', 'Alpine Linux 3.20'), 'a')) as string;
    await w.call('VM.provision', vm);
    await w.call('VM.start', vm, false, false);
    expect(await w.fails('VM.clone', vm, 'b')).toEqual(['VM_BAD_POWER_STATE', vm, 'halted', 'running']);
    await w.call('VM.hard_shutdown', vm);
    const local = w.byName('SR', 'Local storage');
    const copy = (await w.call('VM.copy', vm, 'a-copy', local)) as string;
    const [vdi] = disksOf(copy);
    expect(w.get('VDI', vdi ?? '').SR).toBe(local);
    expect((w.get('VDI', vdi ?? '').sm_config as Record<string, string>)['vhd-parent']).toBeUndefined();
  });

  it('snapshots, reverts and destroys (record only: disks stay)', async () => {
    const vm = (await w.call('VM.clone', w.byName('VM', 'Alpine Linux 3.20'), 'snapme')) as string;
    await w.call('VM.provision', vm);
    await w.call('VM.start', vm, false, false);
    const snap = (await w.call('VM.snapshot', vm, 'before-upgrade', [])) as string;
    expect(w.get('VM', snap)).toMatchObject({ is_a_snapshot: true, is_a_template: true, snapshot_of: vm });
    expect(w.get('VM', vm).snapshots).toContain(snap);
    expect(await w.fails('VM.start', snap, false, false)).toEqual(['VM_IS_SNAPSHOT', snap, 'start']);
    expect(await w.fails('VM.revert', vm)).toEqual(['REVERT_ONLY_ALLOWED_ON_SNAPSHOT']);
    await w.call('VM.revert', snap);
    expect(w.get('VM', vm).power_state).toBe('Halted');
    const [disk] = disksOf(vm);
    await w.call('VM.destroy', vm);
    expect(w.engine.store.find('VM', vm)).toBeUndefined();
    expect(w.engine.store.find('VDI', disk ?? '')).toBeDefined();
    const tpl = w.byName('VM', 'Debian Bookworm 12');
    expect(await w.fails('VM.destroy', tpl)).toEqual(['VM_IS_TEMPLATE', tpl, 'destroy']);
  });
});
