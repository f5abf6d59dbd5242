/**
 * The behaviour modules over the wire: a real simulator on a free port, called with raw JSON-RPC and XML-RPC, so
 * what is asserted is what a client sees (codes, parameter order, allowed/current operations during an operation).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, fails, login, ok, post, start, v, xmlCall } from '../sim/helpers.js';
import type { RunningSimulator } from '../sim/helpers.js';

describe('VM lifecycle over the wire (fast mode)', () => {
  let sim: RunningSimulator;
  let s: string;
  beforeAll(async () => {
    sim = await start();
    s = await login(sim.url);
  });
  afterAll(async () => {
    await sim.close();
  });

  async function install(name: string): Promise<string> {
    const [tpl] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'Debian Bookworm 12');
    const vm = await ok<string>(sim.url, 'VM.clone', s, tpl, name);
    await ok(sim.url, 'VM.provision', s, vm);
    return vm;
  }

  it('installs, starts and stops a VM, with allowed_operations following the power state', async () => {
    const vm = await install('wire-1');
    const halted = await ok<Record<string, unknown>>(sim.url, 'VM.get_record', s, vm);
    expect(halted.allowed_operations).toEqual(expect.arrayContaining(['start', 'clone', 'destroy']));
    await ok(sim.url, 'VM.start', s, vm, false, false);
    const running = await ok<Record<string, unknown>>(sim.url, 'VM.get_record', s, vm);
    expect(running).toMatchObject({ power_state: 'Running', current_operations: {} });
    expect(running.allowed_operations).toEqual(
      expect.arrayContaining(['clean_shutdown', 'hard_reboot', 'suspend']),
    );
    expect(running.allowed_operations).not.toContain('start');
    const metrics = await ok<Record<string, unknown>>(sim.url, 'VM_metrics.get_record', s, running.metrics);
    expect(metrics).toMatchObject({ VCPUs_number: 2, memory_actual: 2 * 1024 ** 3 });
    await ok(sim.url, 'VM.clean_shutdown', s, vm);
    expect(await ok(sim.url, 'VM.get_power_state', s, vm)).toBe('Halted');
  });

  it('sends VM_BAD_POWER_STATE over XML-RPC as [code, vm, expected, actual], lowercase', async () => {
    const vm = await install('wire-2');
    await ok(sim.url, 'VM.start', s, vm, false, false);
    const r = await post(
      sim.url,
      xmlCall(
        'VM.start',
        v(s),
        v(vm),
        '<value><boolean>0</boolean></value>',
        '<value><boolean>0</boolean></value>',
      ),
    );
    expect(r.status).toBe(200);
    expect(r.text).toContain(
      `<member><name>ErrorDescription</name><value><array><data><value>VM_BAD_POWER_STATE</value><value>${vm}</value><value>halted</value><value>running</value></data></array></value></member>`,
    );
  });

  it('refuses to start a template and to provision a VM', async () => {
    const [tpl] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'Alpine Linux 3.20');
    expect(await fails(sim.url, 'VM.start', s, tpl, false, false)).toEqual(['VM_IS_TEMPLATE', tpl, 'start']);
    const vm = await install('wire-3');
    expect(await fails(sim.url, 'VM.provision', s, vm)).toEqual(['PROVISION_ONLY_ALLOWED_ON_TEMPLATE']);
  });

  it('reports HOST_NOT_ENOUGH_FREE_MEMORY [needed, available] in bytes on start_on', async () => {
    const vm = await install('wire-4');
    const g = 64 * 1024 ** 3;
    await ok(sim.url, 'VM.set_memory_limits', s, vm, g, g, g, g);
    const [host] = await ok<string[]>(sim.url, 'host.get_by_name_label', s, 'xcp-ng-02');
    const [code, needed, available] = await fails(sim.url, 'VM.start_on', s, vm, host, false, false);
    expect(code).toBe('HOST_NOT_ENOUGH_FREE_MEMORY');
    expect(Number(needed)).toBeGreaterThan(g);
    expect(Number(available)).toBe(await ok<number>(sim.url, 'host.compute_free_memory', s, host));
  });
});

describe('operations take time and hold current_operations (timed mode)', () => {
  let sim: RunningSimulator;
  let s: string;
  beforeAll(async () => {
    sim = await start({
      fast: false,
      scenario: {
        hosts: [{ name: 'slow-01' }, { name: 'slow-02' }],
        sharedStorage: [{ name: 'NFS storage', type: 'nfs' }],
        durations: { 'VM.start': 600, 'VM.clone': 0, 'VM.provision': 0 },
      },
    });
    s = await login(sim.url);
  });
  afterAll(async () => {
    await sim.close();
  });

  it('lists the task in current_operations while VM.start runs, and a second start gets OTHER_OPERATION_IN_PROGRESS', async () => {
    const [tpl] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'Alpine Linux 3.20');
    const vm = await ok<string>(sim.url, 'VM.clone', s, tpl, 'slow');
    await ok(sim.url, 'VM.provision', s, vm);
    const task = await ok<string>(sim.url, 'Async.VM.start', s, vm, false, false);
    const ops = await eventually(async () => {
      const cur = await ok<Record<string, string>>(sim.url, 'VM.get_current_operations', s, vm);
      return Object.keys(cur).length > 0 ? cur : undefined;
    });
    expect(ops).toEqual({ [task]: 'start' });
    expect(await ok(sim.url, 'VM.get_allowed_operations', s, vm)).not.toContain('start');
    expect(await fails(sim.url, 'VM.start', s, vm, false, false)).toEqual([
      'OTHER_OPERATION_IN_PROGRESS',
      'VM',
      vm,
      'start',
      task,
    ]);
    await eventually(
      async () => (await ok<string>(sim.url, 'task.get_status', s, task)) === 'success',
      10_000,
    );
    expect(await ok(sim.url, 'VM.get_power_state', s, vm)).toBe('Running');
    expect(await ok(sim.url, 'VM.get_current_operations', s, vm)).toEqual({});
  });
});

describe('faults through the control API', () => {
  let sim: RunningSimulator;
  let s: string;
  beforeAll(async () => {
    sim = await start();
    s = await login(sim.url);
  });
  afterAll(async () => {
    await sim.close();
  });
  const control = async (name: string, body: Record<string, unknown>) => {
    const res = await fetch(`${sim.controlUrl}fault/${name}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.controlToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('a CPU hog shows on the VM and its host through query_data_source', async () => {
    const [tpl] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'Alpine Linux 3.20');
    const vm = await ok<string>(sim.url, 'VM.clone', s, tpl, 'noisy');
    await ok(sim.url, 'VM.provision', s, vm);
    await ok(sim.url, 'VM.start', s, vm, false, false);
    const host = await ok<string>(sim.url, 'VM.get_resident_on', s, vm);
    const before = await ok<number>(sim.url, 'host.query_data_source', s, host, 'cpu_avg');
    expect((await control('vm-hog', { name_label: 'noisy', kind: 'cpu', level: 1 })).status).toBe(200);
    expect(await ok<number>(sim.url, 'VM.query_data_source', s, vm, 'cpu0')).toBeGreaterThan(0.95);
    expect(await ok<number>(sim.url, 'host.query_data_source', s, host, 'cpu_avg')).toBeGreaterThan(
      before + 0.08,
    );
  });

  it('a failed host with HA on: protected VMs come back on a survivor, an alert is raised', async () => {
    const [tpl] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'Alpine Linux 3.20');
    const [h3] = await ok<string[]>(sim.url, 'host.get_by_name_label', s, 'xcp-ng-03');
    const vm = await ok<string>(sim.url, 'VM.clone', s, tpl, 'precious');
    await ok(sim.url, 'VM.provision', s, vm);
    await ok(sim.url, 'VM.set_ha_restart_priority', s, vm, 'restart');
    await ok(sim.url, 'VM.start_on', s, vm, h3, false, false);
    const [nfs] = await ok<string[]>(sim.url, 'SR.get_by_name_label', s, 'NFS storage');
    await ok(sim.url, 'pool.enable_ha', s, [nfs], { timeout: '60' });
    expect((await control('host-fail', { name_label: 'xcp-ng-03' })).status).toBe(200);
    const rec = await ok<Record<string, unknown>>(sim.url, 'VM.get_record', s, vm);
    expect(rec.power_state).toBe('Running');
    expect(rec.resident_on).not.toBe(h3);
    const metrics = await ok<string>(sim.url, 'host.get_metrics', s, h3);
    expect(await ok(sim.url, 'host_metrics.get_live', s, metrics)).toBe(false);
    const messages = await ok<Record<string, { name: string }>>(sim.url, 'message.get_all_records', s);
    expect(Object.values(messages).map((m) => m.name)).toContain('HA_HOST_FAILED');
  });
});
