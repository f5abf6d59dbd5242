/**
 * Workloads over the wire: the control API's `/_xenlab/workload` routes, and `/rrd_updates` following a change
 * within one sample (the metrics model keeps a per-instant memo; a change must not be hidden behind it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseScenario } from '../../../sandbox/src/sim/scenario.js';
import { RRD_STEP } from '../../../sandbox/src/sim/rrd.js';
import { callControl } from '../../../sandbox/src/sim/control.js';
import { fails, login, ok, start, type RunningSimulator } from './helpers.js';

let sim: RunningSimulator;
let s: string;
let vm: string;
let uuid: string;
beforeAll(async () => {
  sim = await start({ controlToken: 'workload-token' });
  s = await login(sim.url);
  const [tpl] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'Alpine Linux 3.20');
  vm = await ok<string>(sim.url, 'VM.clone', s, tpl, 'web');
  await ok(sim.url, 'VM.provision', s, vm);
  const [h2] = await ok<string[]>(sim.url, 'host.get_by_name_label', s, 'xcp-ng-02');
  await ok(sim.url, 'VM.start_on', s, vm, h2, false, false);
  uuid = await ok<string>(sim.url, 'VM.get_uuid', s, vm);
});
afterAll(async () => {
  await sim.close();
});

const control = (route: string, body?: Record<string, unknown>) => callControl(sim, route, body);

/** The newest row of this VM's cpu0 in rrd_updates (JSON). */
async function newestCpu0(): Promise<{ t: number; value: number }> {
  const res = await fetch(`${sim.url}/rrd_updates?start=-60&json=true&vm_uuid=${uuid}&session_id=${s}`);
  const body = (await res.json()) as { meta: { legend: string[] }; data: { t: number; values: string[] }[] };
  const col = body.meta.legend.indexOf(`AVERAGE:vm:${uuid}:cpu0`);
  const row = body.data[0];
  if (col < 0 || !row) throw new Error('no cpu0 column');
  return { t: row.t, value: Number(row.values[col]) };
}

describe('control API: workload', () => {
  test('sets, merges and lists a VM’s workload; a hog is a steady demand', async () => {
    expect(await control('workload')).toEqual({ status: 200, body: { workloads: [] } });
    const set = await control('workload', {
      name_label: 'web',
      cpu: 0.9,
      pattern: 'diurnal',
      base: 0.1,
      period: 600,
      memory: { peak: 0.7 },
    });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      ok: true,
      ref: vm,
      workload: {
        uuid,
        name_label: 'web',
        cpu: { pattern: 'diurnal', base: 0.1, peak: 0.9, period: 600, phase: 0 },
        memory: { pattern: 'diurnal', base: 0.1, peak: 0.7, period: 600 },
      },
    });
    const cpuNow = (set.body.workload as { now: { cpu: number } }).now.cpu;
    expect(cpuNow).toBeGreaterThanOrEqual(0.1);
    expect(cpuNow).toBeLessThan(0.11);
    expect((await control('fault/vm-hog', { uuid, kind: 'io', level: 0.5 })).status).toBe(200);
    const bursts = await control('workload', {
      uuid,
      net: { peak: 1, pattern: 'bursts', on: 10, every: 60 },
    });
    expect(bursts.body.workload).toMatchObject({
      cpu: { pattern: 'diurnal' },
      io: { pattern: 'steady', peak: 0.5 },
      net: { pattern: 'bursts', base: 0, peak: 1, on: 10, every: 60, phase: 0 },
      now: { io: 0.5, net: 1 },
    });
    const list = await control('workload');
    expect(list.body).toMatchObject({ workloads: [{ uuid, name_label: 'web' }] });
    const cleared = await control('workload', { uuid, clear: true });
    expect(cleared.body.workload).toEqual({
      uuid,
      name_label: 'web',
      now: { cpu: 0, memory: 0, io: 0, net: 0 },
    });
    expect((await control('workload')).body).toEqual({ workloads: [] });
  });

  test('refuses what it cannot read, saying why', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ uuid, cpus: 1 }, /^unknown field cpus; known: /],
      [{ uuid, cpu: 1.5 }, /^cpu\.peak must be a number 0\.\.1, not 1\.5$/],
      [{ uuid, cpu: { peak: 0.5, shape: 'x' } }, /^unknown cpu field shape/],
      [{ uuid, cpu: 0.5, pattern: 'weekly' }, /^cpu\.pattern must be one of steady, diurnal, bursts/],
      [
        { uuid, io: { peak: 0.2, base: 0.5, pattern: 'diurnal' } },
        /^io\.base \(0\.5\) must not exceed io\.peak/,
      ],
      [
        { uuid, net: 1, pattern: 'bursts', on: 90, every: 60 },
        /^net\.on \(90 s\) must not exceed net\.every/,
      ],
      [{ uuid, cpu: 0.5, pattern: 'diurnal', period: 0 }, /^cpu\.period must be a number of seconds > 0/],
      [{ uuid }, /^give at least one of cpu, memory, io, net/],
    ];
    for (const [body, message] of cases) {
      const r = await control('workload', body);
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('SIM_ERR_CONTROL_BAD_REQUEST');
      expect(r.body.message).toMatch(message);
    }
    expect(await control('workload', { name_label: 'nobody', cpu: 1 })).toMatchObject({
      status: 404,
      body: { error: 'SIM_ERR_FAULT_TARGET_NOT_FOUND' },
    });
    const denied = await fetch(`${sim.controlUrl}workload`);
    expect(denied.status).toBe(401);
  });
});

describe('rrd_updates follows a workload', () => {
  test('the next sample after a change shows it (within one RRD step)', async () => {
    const before = await newestCpu0();
    expect(before.value).toBeLessThan(0.1);
    const changed = Date.now();
    expect((await control('workload', { uuid, cpu: 0.8 })).status).toBe(200);
    let after = await newestCpu0();
    while (after.value <= 0.7 && Date.now() - changed < (RRD_STEP + 4) * 1000) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      after = await newestCpu0();
    }
    expect(after.value).toBeCloseTo(0.8, 6);
    expect(Date.now() - changed).toBeLessThan((RRD_STEP + 2.5) * 1000);
    // The VM query sees it at once, and the record is untouched (a workload is not pool state).
    expect(await ok<number>(sim.url, 'VM.query_data_source', s, vm, 'cpu0')).toBeCloseTo(0.8, 6);
    expect(await fails(sim.url, 'VM.add_to_VCPUs_params_live', s, vm, 'cap', '50')).toEqual([
      'NOT_IMPLEMENTED',
      'add_to_VCPUs_params_live',
    ]);
    await control('workload', { uuid, cpu: null });
  });
});

describe('scenario workloads', () => {
  const scenario = {
    hosts: [{ name: 'solo', cpus: 4 }],
    vms: [
      { name: 'batch', vcpus: 4, workload: { cpu: 1 } },
      { name: 'web', workload: { cpu: { peak: 0.6, base: 0.1, pattern: 'diurnal', period: 600 }, net: 0.2 } },
    ],
  };

  test('are applied at build, and again after a reset and after a restart from the saved pool', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenlab-workload-'));
    const stateFile = join(dir, 'pool.json');
    const names = async (x: RunningSimulator) =>
      ((await callControl(x, 'workload')).body.workloads as { name_label: string }[]).map(
        (w) => w.name_label,
      );
    const first = await start({ scenario, stateFile });
    try {
      expect(await names(first)).toEqual(['batch', 'web']);
      const fs = await login(first.url);
      const [batch] = await ok<string[]>(first.url, 'VM.get_by_name_label', fs, 'batch');
      expect(await ok<number>(first.url, 'VM.query_data_source', fs, batch, 'cpu3')).toBeGreaterThan(0.8);
      await callControl(first, 'workload', { name_label: 'batch', clear: true });
      expect(await names(first)).toEqual(['web']);
      expect((await callControl(first, 'reset', {})).status).toBe(200);
      expect(await names(first)).toEqual(['batch', 'web']);
      await callControl(first, 'workload', { name_label: 'web', clear: true });
    } finally {
      await first.close();
    }
    const second = await start({ scenario, stateFile });
    try {
      expect(await names(second)).toEqual(['batch', 'web']);
    } finally {
      await second.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a bad workload names the VM and the field', () => {
    expect(() =>
      parseScenario({ hosts: [{ name: 'h' }], vms: [{ name: 'x', workload: { cpu: 2 } }] }, 'lab.yaml'),
    ).toThrow(
      /lab\.yaml is not a valid scenario:\n {2}- vms\.0\.workload: cpu\.peak must be a number 0\.\.1, not 2/,
    );
    expect(() =>
      parseScenario({ hosts: [{ name: 'h' }], vms: [{ name: 'x', workload: { uuid: 'u', cpu: 1 } }] }),
    ).toThrow(/unknown workload field uuid/);
  });
});
