/**
 * Behaviour conformance: lifecycle checks that real XAPI and the simulator must answer identically (codes and
 * parameter order, xapi_vm_lifecycle.ml). Every call here is refused by design, so nothing changes on the target:
 * safe against a real pool (`XENLAB_XAPI_URL`, `XENLAB_XAPI_USER`, `XENLAB_XAPI_PASSWORD`).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulator } from '../../sandbox/src/sim/index.js';
import type { RunningSimulator } from '../../sandbox/src/sim/index.js';

/** Registers the behaviour conformance tests (call inside a test file). */
export function defineBehaviourConformance(): void {
  let url = '';
  let s = '';
  let sim: RunningSimulator | undefined;
  const rpc = async (method: string, params: unknown[]): Promise<Record<string, unknown>> => {
    const res = await fetch(`${url}/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    return (await res.json()) as Record<string, unknown>;
  };
  const ok = async <T>(method: string, ...params: unknown[]): Promise<T> => {
    const r = await rpc(method, params);
    if (r.error) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
    return r.result as T;
  };
  const err = async (method: string, ...params: unknown[]): Promise<string[]> => {
    const r = await rpc(method, params);
    const e = r.error as { message: string; data?: string[] } | undefined;
    if (!e) throw new Error(`${method} should have failed`);
    return [e.message, ...(e.data ?? [])];
  };
  /** A default template and the control domain of the coordinator. */
  const subjects = async (): Promise<{ template: string; dom0: string }> => {
    const vms = await ok<Record<string, Record<string, unknown>>>('VM.get_all_records', s);
    const entries = Object.entries(vms);
    const template = entries.find(
      ([, r]) => r.is_default_template === true && r.power_state === 'Halted',
    )?.[0];
    const dom0 = entries.find(([, r]) => r.is_control_domain === true && r.power_state === 'Running')?.[0];
    if (!template || !dom0)
      throw new Error('the target has no default template or no running control domain');
    return { template, dom0 };
  };

  beforeAll(async () => {
    const target = process.env.XENLAB_XAPI_URL;
    let user = 'root';
    let password = 'xenlab';
    if (target) {
      url = target.replace(/\/$/, '');
      user = process.env.XENLAB_XAPI_USER ?? 'root';
      password = process.env.XENLAB_XAPI_PASSWORD ?? '';
    } else {
      sim = await startSimulator({ port: 0, fast: true });
      url = sim.url;
    }
    s = await ok<string>('session.login_with_password', user, password, '2.21', 'xenlab-conformance');
  });
  afterAll(async () => {
    if (s) await rpc('session.logout', [s]);
    await sim?.close();
  });

  describe('VM lifecycle checks (conformance)', () => {
    test('power state comes first: VM_BAD_POWER_STATE [vm, expected, actual] in lowercase', async () => {
      const { template, dom0 } = await subjects();
      expect(await err('VM.clean_shutdown', s, template)).toEqual([
        'VM_BAD_POWER_STATE',
        template,
        'running',
        'halted',
      ]);
      expect(await err('VM.unpause', s, template)).toEqual([
        'VM_BAD_POWER_STATE',
        template,
        'paused',
        'halted',
      ]);
      expect(await err('VM.provision', s, dom0)).toEqual(['VM_BAD_POWER_STATE', dom0, 'halted', 'running']);
    });

    test('templates refuse start and destroy with VM_IS_TEMPLATE [vm, op]', async () => {
      const { template } = await subjects();
      expect(await err('VM.start', s, template, false, false)).toEqual(['VM_IS_TEMPLATE', template, 'start']);
      expect(await err('VM.destroy', s, template)).toEqual(['VM_IS_TEMPLATE', template, 'destroy']);
    });

    test('allowed_operations agree with the checks', async () => {
      const { template, dom0 } = await subjects();
      const tplOps = await ok<string[]>('VM.get_allowed_operations', s, template);
      expect(tplOps).toContain('clone');
      expect(tplOps).not.toContain('start');
      expect(await ok<string[]>('VM.get_allowed_operations', s, dom0)).not.toContain('clean_shutdown');
    });

    test('restart priorities are validated: INVALID_VALUE [field, value]', async () => {
      const { template } = await subjects();
      expect(await err('VM.set_ha_restart_priority', s, template, 'sometimes')).toEqual([
        'INVALID_VALUE',
        'ha_restart_priority',
        'sometimes',
      ]);
    });

    test('free memory is a non-negative number of bytes below the total', async () => {
      const [host] = await ok<string[]>('host.get_all', s);
      // ints arrive as JSON numbers over JSON-RPC; Number() also accepts XML-RPC's digit strings
      const free = Number(await ok<unknown>('host.compute_free_memory', s, host));
      const total = Number(
        await ok<unknown>('host_metrics.get_memory_total', s, await ok<string>('host.get_metrics', s, host)),
      );
      expect(free).toBeGreaterThanOrEqual(0);
      expect(free).toBeLessThan(total);
    });
  });
}
