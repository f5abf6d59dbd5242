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

async function installVm(name = 'web01', template = 'Debian Bookworm 12'): Promise<string> {
  const vm = (await w.call('VM.clone', w.byName('VM', template), name)) as string;
  await w.call('VM.provision', vm);
  return vm;
}

describe('VM power-state machine', () => {
  it('starts a VM: Running, resident on a host, domid, metrics and guest metrics with an IP', async () => {
    const vm = await installVm();
    await w.call('VM.start', vm, false, false);
    const rec = w.get('VM', vm);
    expect(rec.power_state).toBe('Running');
    expect(w.engine.store.find('host', rec.resident_on as string)).toBeDefined();
    expect(rec.domid).toBeGreaterThan(0);
    const metrics = w.get('VM_metrics', rec.metrics as string);
    expect(metrics.VCPUs_number).toBe(2);
    expect(metrics.memory_actual).toBe(2 * GiB);
    expect((metrics.start_time as Date).getTime()).toBeGreaterThan(0);
    const vbd = (rec.VBDs as string[])[0] ?? '';
    expect(w.get('VBD', vbd)).toMatchObject({ currently_attached: true, device: 'xvda' });
    expect(rec.allowed_operations).toContain('clean_shutdown');
    expect(rec.allowed_operations).not.toContain('start');
    expect(rec.current_operations).toEqual({});
  });

  it('gives a started VM with a VIF guest metrics networks "0/ip"', async () => {
    const vm = await installVm();
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
    await w.call('VM.start', vm, false, false);
    const gm = w.get('VM_guest_metrics', w.get('VM', vm).guest_metrics as string);
    expect((gm.networks as Record<string, string>)['0/ip']).toMatch(/^10\.0\.0\.\d+$/);
  });

  it('refuses to start a running VM with VM_BAD_POWER_STATE [vm, halted, running]', async () => {
    const vm = await installVm();
    await w.call('VM.start', vm, false, false);
    expect(await w.fails('VM.start', vm, false, false)).toEqual([
      'VM_BAD_POWER_STATE',
      vm,
      'halted',
      'running',
    ]);
  });

  it('refuses to start a template with VM_IS_TEMPLATE [vm, start]', async () => {
    const tpl = w.byName('VM', 'Debian Bookworm 12');
    expect(await w.fails('VM.start', tpl, false, false)).toEqual(['VM_IS_TEMPLATE', tpl, 'start']);
  });

  it('walks start_paused → unpause → pause → clean_shutdown and halts cleanly', async () => {
    const vm = await installVm();
    await w.call('VM.start', vm, true, false);
    expect(w.get('VM', vm).power_state).toBe('Paused');
    expect(await w.fails('VM.clean_shutdown', vm)).toEqual(['VM_BAD_POWER_STATE', vm, 'running', 'paused']);
    await w.call('VM.unpause', vm);
    await w.call('VM.pause', vm);
    await w.call('VM.unpause', vm);
    await w.call('VM.clean_shutdown', vm);
    const rec = w.get('VM', vm);
    expect(rec).toMatchObject({
      power_state: 'Halted',
      resident_on: 'OpaqueRef:NULL',
      domid: -1,
      guest_metrics: 'OpaqueRef:NULL',
    });
    expect(await w.fails('VM.clean_shutdown', vm)).toEqual(['VM_BAD_POWER_STATE', vm, 'running', 'halted']);
    expect(await w.fails('VM.hard_shutdown', vm)).toEqual([
      'VM_BAD_POWER_STATE',
      vm,
      'paused, suspended, running',
      'halted',
    ]);
  });

  it('reboots with a new domid, suspends to the suspend SR and resumes', async () => {
    const vm = await installVm();
    await w.call('VM.start', vm, false, false);
    const domid = w.get('VM', vm).domid as number;
    await w.call('VM.clean_reboot', vm);
    expect(w.get('VM', vm).domid).toBeGreaterThan(domid);
    await w.call('VM.hard_reboot', vm);
    await w.call('VM.suspend', vm);
    const rec = w.get('VM', vm);
    expect(rec.power_state).toBe('Suspended');
    const sv = w.get('VDI', rec.suspend_VDI as string);
    expect(sv.type).toBe('suspend');
    await w.call('VM.resume', vm, false, false);
    expect(w.get('VM', vm)).toMatchObject({ power_state: 'Running', suspend_VDI: 'OpaqueRef:NULL' });
    expect(w.engine.store.find('VDI', rec.suspend_VDI as string)).toBeUndefined();
  });

  it('power_state_reset refuses a VM on a live host (DOMAIN_EXISTS on the master)', async () => {
    const vm = await installVm();
    const master = w.get('pool', w.engine.store.all('pool')[0]?.[0] ?? '').master as string;
    await w.call('VM.start_on', vm, master, false, false);
    expect(await w.fails('VM.power_state_reset', vm)).toEqual([
      'DOMAIN_EXISTS',
      vm,
      String(w.get('VM', vm).domid),
    ]);
  });
});

describe('placement', () => {
  it('fails start_on a disabled host with HOST_DISABLED and too big a VM with HOST_NOT_ENOUGH_FREE_MEMORY', async () => {
    const vm = await installVm();
    const host = w.byName('host', 'xcp-ng-02');
    await w.call('host.disable', host);
    expect(await w.fails('VM.start_on', vm, host, false, false)).toEqual(['HOST_DISABLED', host]);
    await w.call('host.enable', host);
    await w.call('VM.set_memory_limits', vm, 64 * GiB, 64 * GiB, 64 * GiB, 64 * GiB);
    const [code, needed, available] = await w.fails('VM.start_on', vm, host, false, false);
    expect(code).toBe('HOST_NOT_ENOUGH_FREE_MEMORY');
    expect(Number(needed)).toBeGreaterThan(64 * GiB);
    expect(Number(available)).toBe(Number(await w.call('host.compute_free_memory', host)));
    // placement retries ignoring memory, then the reservation on the chosen host fails
    expect((await w.fails('VM.start', vm, false, false))[0]).toBe('HOST_NOT_ENOUGH_FREE_MEMORY');
    for (const [h] of w.engine.store.all('host')) await w.call('host.disable', h);
    expect(await w.fails('VM.start', vm, false, false)).toEqual(['NO_HOSTS_AVAILABLE']);
  });

  it('requires the SR of a local disk: VM_REQUIRES_SR on another host', async () => {
    const host1 = w.byName('host', 'xcp-ng-01');
    const host2 = w.byName('host', 'xcp-ng-02');
    const local1 =
      w.engine.store
        .all('SR')
        .find(
          ([, r]) =>
            r.name_label === 'Local storage' && w.get('PBD', (r.PBDs as string[])[0] ?? '').host === host1,
        )?.[0] ?? '';
    const vm = (await w.call('VM.clone', w.byName('VM', 'Debian Bookworm 12'), 'local')) as string;
    const disks = w.get('VM', vm).other_config as Record<string, string>;
    const sruuid = w.get('SR', local1).uuid as string;
    await w.call('VM.remove_from_other_config', vm, 'disks');
    await w.call(
      'VM.add_to_other_config',
      vm,
      'disks',
      (disks.disks ?? '').replace('sr=""', `sr="${sruuid}"`),
    );
    await w.call('VM.provision', vm);
    expect(await w.fails('VM.start_on', vm, host2, false, false)).toEqual(['VM_REQUIRES_SR', vm, local1]);
    await w.call('VM.start', vm, false, false);
    expect(w.get('VM', vm).resident_on).toBe(host1);
    expect(await w.fails('VM.pool_migrate', vm, host2, {})).toEqual(['VM_REQUIRES_SR', vm, local1]);
  });

  it('live-migrates a VM on shared storage to another host', async () => {
    const vm = await installVm();
    const host1 = w.byName('host', 'xcp-ng-01');
    const host3 = w.byName('host', 'xcp-ng-03');
    await w.call('VM.start_on', vm, host1, false, false);
    await w.call('VM.pool_migrate', vm, host3, { live: 'true' });
    expect(w.get('VM', vm)).toMatchObject({ resident_on: host3, power_state: 'Running' });
    expect(w.get('host', host3).resident_VMs).toContain(vm);
  });
});

describe('memory and vCPUs', () => {
  it('enforces static_min ≤ dynamic_min ≤ dynamic_max ≤ static_max', async () => {
    const vm = await installVm();
    expect(await w.fails('VM.set_memory_limits', vm, 2 * GiB, 1 * GiB, 1 * GiB, 1 * GiB)).toEqual([
      'MEMORY_CONSTRAINT_VIOLATION_ORDER',
    ]);
    expect(await w.fails('VM.set_memory_dynamic_range', vm, 3 * GiB, 2 * GiB)).toEqual([
      'MEMORY_CONSTRAINT_VIOLATION_ORDER',
    ]);
    await w.call('VM.set_memory', vm, 4 * GiB);
    expect(w.get('VM', vm)).toMatchObject({
      memory_static_max: 4 * GiB,
      memory_dynamic_max: 4 * GiB,
      memory_dynamic_min: 4 * GiB,
    });
  });

  it('pins memory of a nested-virt VM: MEMORY_CONSTRAINT_VIOLATION_MAXPIN', async () => {
    const vm = await installVm();
    await w.call('VM.add_to_platform', vm, 'nested-virt', 'true');
    const [code] = await w.fails('VM.set_memory_limits', vm, GiB, 4 * GiB, 2 * GiB, 4 * GiB);
    expect(code).toBe('MEMORY_CONSTRAINT_VIOLATION_MAXPIN');
    await w.call('VM.set_memory_limits', vm, GiB, 4 * GiB, 4 * GiB, 4 * GiB);
  });

  it('validates vCPU counts and changes them live', async () => {
    const vm = await installVm();
    expect(await w.fails('VM.set_VCPUs_max', vm, 0)).toEqual(['INVALID_VALUE', 'VCPUs_max', '0']);
    expect((await w.fails('VM.set_VCPUs_at_startup', vm, 4))[0]).toBe('INVALID_VALUE');
    await w.call('VM.set_VCPUs_max', vm, 4);
    await w.call('VM.start', vm, false, false);
    expect(await w.fails('VM.set_VCPUs_max', vm, 8)).toEqual(['VM_BAD_POWER_STATE', vm, 'halted', 'running']);
    await w.call('VM.set_VCPUs_number_live', vm, 3);
    expect(w.get('VM_metrics', w.get('VM', vm).metrics as string).VCPUs_number).toBe(3);
    expect(await w.fails('VM.set_VCPUs_number_live', vm, 5)).toEqual(['INVALID_VALUE', 'nvcpu', '5']);
  });
});
