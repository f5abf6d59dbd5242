/**
 * The credit scheduler in a simulated pool: VCPUs_params weight and cap share each host's pCPUs, and follow xapi's
 * semantics — a running domain keeps the parameters it was built with until it is built again.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hostDataSources, vmDataSources } from './metrics.js';
import { createTestWorld, type TestWorld } from './test-harness.js';
import { setHog } from './workload.js';

let w: TestWorld;
beforeEach(async () => {
  w = await createTestWorld();
});
afterEach(() => {
  w.close();
});

const host = (n: number): string => w.byName('host', `xcp-ng-0${String(n)}`);

/** A Debian VM with `vcpus` vCPUs and these VCPUs_params, started on a host, burning `cpu` of every vCPU. */
async function vmOn(h: string, name: string, vcpus: number, params: Record<string, string>, cpu = 1) {
  const vm = (await w.call('VM.clone', w.byName('VM', 'Debian Bookworm 12'), name)) as string;
  await w.call('VM.provision', vm);
  await w.call('VM.set_VCPUs_max', vm, vcpus);
  await w.call('VM.set_VCPUs_at_startup', vm, vcpus);
  await w.call('VM.set_VCPUs_params', vm, params);
  await w.call('VM.start_on', vm, h, false, false);
  if (cpu > 0) setHog(w.ctx, vm, 'cpu', cpu);
  return vm;
}

const ds = (vm: string) => vmDataSources(w.engine.store, vm, new Date());
/** pCPUs' worth a VM runs now (the sum of its cpu<N>). */
const cpuOf = (vm: string): number =>
  Object.entries(ds(vm))
    .filter(([k]) => /^cpu\d+$/.test(k))
    .reduce((n, [, v]) => n + v, 0);

describe('credit scheduler in a pool', () => {
  it('weights 512:256 share a contended host 2:1, and the lighter waits more', async () => {
    const heavy = await vmOn(host(1), 'heavy', 8, { weight: '512' });
    const light = await vmOn(host(1), 'light', 8, {});
    expect(cpuOf(heavy) / cpuOf(light)).toBeCloseTo(2, 1);
    expect(cpuOf(heavy) + cpuOf(light)).toBeGreaterThan(7.3);
    expect(ds(light).runstate_runnable).toBeGreaterThan(ds(heavy).runstate_runnable ?? 1);
    expect(ds(heavy).runstate_runnable).toBeGreaterThan(0.3);
    const h = hostDataSources(w.engine.store, host(1), new Date());
    expect(h.cpu_avg).toBeGreaterThan(0.95);
    // The run queue: 16 busy vCPUs plus dom0's.
    expect(h.loadavg).toBeGreaterThan(16);
    for (let i = 0; i < 8; i++) expect(ds(heavy)[`cpu${String(i)}`]).toBeLessThanOrEqual(1);
  });

  it('holds a cap alone and under contention; capped time is parked, not waiting', async () => {
    const capped = await vmOn(host(2), 'capped', 8, { cap: '200' });
    expect(cpuOf(capped)).toBeCloseTo(2, 6);
    expect(ds(capped).runstate_runnable).toBe(0);
    const other = await vmOn(host(2), 'other', 8, {});
    expect(cpuOf(capped)).toBeLessThanOrEqual(2 + 1e-9);
    expect(cpuOf(capped)).toBeGreaterThan(1.9);
    expect(cpuOf(other)).toBeGreaterThan(5.4);
    expect(ds(other).runstate_runnable).toBeGreaterThan(0.2);
  });

  it('redistributes what an idle domain leaves, whatever its weight', async () => {
    const idle = await vmOn(host(3), 'idle', 8, { weight: '65535' }, 0);
    const busy = await vmOn(host(3), 'busy', 8, { weight: '1' });
    expect(cpuOf(idle)).toBeLessThan(0.5);
    expect(cpuOf(busy)).toBeGreaterThan(7);
  });

  it('a new cap changes the record, not the running domain, until a reboot, resume or migration', async () => {
    const vm = await vmOn(host(1), 'batch', 4, {});
    await w.call('VM.add_to_VCPUs_params', vm, 'cap', '100');
    expect(w.get('VM', vm).VCPUs_params).toEqual({ cap: '100' });
    expect(cpuOf(vm)).toBeGreaterThan(3.9);
    await w.call('VM.hard_reboot', vm);
    expect(cpuOf(vm)).toBeCloseTo(1, 6);
    await w.call('VM.remove_from_VCPUs_params', vm, 'cap');
    await w.call('VM.clean_reboot', vm);
    expect(cpuOf(vm)).toBeGreaterThan(3.9);
    await w.call('VM.set_VCPUs_params', vm, { cap: '50' });
    expect(cpuOf(vm)).toBeGreaterThan(3.9);
    await w.call('VM.pool_migrate', vm, host(2), {});
    expect(cpuOf(vm)).toBeCloseTo(0.5, 6);
    await w.call('VM.set_VCPUs_params', vm, { cap: '300' });
    await w.call('VM.suspend', vm);
    await w.call('VM.resume', vm, false, false);
    expect(cpuOf(vm)).toBeCloseTo(3, 6);
  });

  it('takes unparsable or out-of-range values as xapi and Xen would: the defaults', async () => {
    const odd = await vmOn(host(3), 'odd', 2, { cap: 'lots', weight: '0x200' });
    const rival = await vmOn(host(3), 'rival', 2, { weight: '-5' });
    const third = await vmOn(host(3), 'third', 4, {});
    // odd: weight 512 (OCaml reads hex), no cap; rival: weight 256; third: 256 with twice the vCPUs.
    expect(cpuOf(odd)).toBeCloseTo(2, 1);
    expect(cpuOf(third) / cpuOf(rival)).toBeCloseTo(2, 1);
  });

  it('VM.add_to_VCPUs_params_live is not implemented in xapi: NOT_IMPLEMENTED after the live checks', async () => {
    const vm = await vmOn(host(1), 'live', 2, { weight: '256' });
    expect(await w.fails('VM.add_to_VCPUs_params_live', vm, 'cap', '50')).toEqual([
      'NOT_IMPLEMENTED',
      'add_to_VCPUs_params_live',
    ]);
    expect(w.get('VM', vm).VCPUs_params).toEqual({ weight: '256' });
    await w.call('VM.hard_shutdown', vm);
    expect(await w.fails('VM.add_to_VCPUs_params_live', vm, 'cap', '50')).toEqual([
      'VM_BAD_POWER_STATE',
      vm,
      'running',
      'halted',
    ]);
  });
});
