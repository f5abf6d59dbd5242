import { describe, expect, it } from 'vitest';
import {
  allowedConcurrently,
  allowedPowerStates,
  vmAllowedOperations,
  vmOperationError,
} from './vm-lifecycle.js';

const REF = 'OpaqueRef:vm';
const vm = (fields: Record<string, unknown>) => ({
  power_state: 'Halted',
  current_operations: {},
  blocked_operations: {},
  ...fields,
});
const err = (rec: Record<string, unknown>, op: string) => {
  const e = vmOperationError(REF, rec, op);
  return e ? [e.code, ...e.params] : undefined;
};

describe('VM lifecycle checks (xapi_vm_lifecycle.ml order)', () => {
  it('reports a bad power state with lowercase expected and actual states', () => {
    expect(err(vm({ power_state: 'Running' }), 'start')).toEqual([
      'VM_BAD_POWER_STATE',
      REF,
      'halted',
      'running',
    ]);
    expect(err(vm({}), 'hard_shutdown')).toEqual([
      'VM_BAD_POWER_STATE',
      REF,
      'paused, suspended, running',
      'halted',
    ]);
  });

  it('checks blocked operations before the power state', () => {
    const rec = vm({ power_state: 'Running', blocked_operations: { start: 'locked by admin' } });
    expect(err(rec, 'start')).toEqual(['OPERATION_BLOCKED', REF, 'locked by admin']);
  });

  it('checks the power state before a concurrent operation', () => {
    const rec = vm({ power_state: 'Running', current_operations: { 'OpaqueRef:t1': 'clean_shutdown' } });
    expect(err(rec, 'start')?.[0]).toBe('VM_BAD_POWER_STATE');
    expect(err(rec, 'clean_reboot')).toEqual([
      'OTHER_OPERATION_IN_PROGRESS',
      'VM',
      REF,
      'clean_shutdown',
      'OpaqueRef:t1',
    ]);
    // a hard shutdown or reboot may interrupt a clean shutdown, not another hard shutdown
    expect(err(rec, 'hard_shutdown')).toBeUndefined();
    const two = vm({
      power_state: 'Running',
      current_operations: { 'OpaqueRef:t1': 'hard_shutdown', 'OpaqueRef:t2': 'clean_shutdown' },
    });
    expect(err(two, 'hard_reboot')).toEqual([
      'OTHER_OPERATION_IN_PROGRESS',
      'VM',
      REF,
      '{hard_shutdown,clean_shutdown}',
      '{OpaqueRef:t1,OpaqueRef:t2}',
    ]);
  });

  it('lets clones and copies overlap but not a start during a clone', () => {
    const rec = vm({ current_operations: { 'OpaqueRef:t1': 'clone' } });
    expect(err(rec, 'copy')).toBeUndefined();
    expect(err(rec, 'start')).toEqual(['OTHER_OPERATION_IN_PROGRESS', 'VM', REF, 'clone', 'OpaqueRef:t1']);
    expect(allowedConcurrently('hard_shutdown', ['migrate_send'])).toBe(true);
  });

  it('refuses to start a template with VM_IS_TEMPLATE [vm, op] after the power-state check', () => {
    const tpl = vm({ is_a_template: true, other_config: { default_template: 'true' } });
    expect(err(tpl, 'start')).toEqual(['VM_IS_TEMPLATE', REF, 'start']);
    expect(err(tpl, 'clone')).toBeUndefined();
    expect(err(tpl, 'destroy')).toEqual(['VM_IS_TEMPLATE', REF, 'destroy']);
    expect(err(vm({ is_a_template: true }), 'destroy')).toBeUndefined();
    expect(err(vm({ is_a_template: true, power_state: 'Running' }), 'start')?.[0]).toBe('VM_BAD_POWER_STATE');
  });

  it('allows only revert, clone, copy, export, destroy and hard_shutdown on snapshots', () => {
    const snap = vm({ is_a_template: true, is_a_snapshot: true });
    expect(err(snap, 'start')).toEqual(['VM_IS_SNAPSHOT', REF, 'start']);
    expect(err(snap, 'revert')).toBeUndefined();
    expect(err(vm({}), 'revert')).toEqual(['REVERT_ONLY_ALLOWED_ON_SNAPSHOT']);
    expect(err(vm({}), 'provision')).toEqual(['PROVISION_ONLY_ALLOWED_ON_TEMPLATE']);
  });

  it('restricts the control domain', () => {
    const dom0 = vm({ power_state: 'Running', is_control_domain: true, domid: 0 });
    expect(err(dom0, 'destroy')?.[0]).toBe('VM_BAD_POWER_STATE');
    expect(err(dom0, 'changing_VCPUs')).toEqual([
      'OPERATION_NOT_ALLOWED',
      'This operation is not allowed on dom0',
    ]);
    expect(err(dom0, 'clean_shutdown')).toEqual([
      'OPERATION_NOT_ALLOWED',
      'This operation is not allowed on a control domain',
    ]);
  });

  it('lists allowed operations the way update_allowed_operations does', () => {
    expect(vmAllowedOperations(REF, vm({}))).toEqual(
      expect.arrayContaining(['start', 'start_on', 'clone', 'copy', 'destroy', 'export', 'snapshot']),
    );
    const running = vmAllowedOperations(REF, vm({ power_state: 'Running' }));
    expect(running).toContain('clean_shutdown');
    expect(running).not.toContain('start');
    expect(allowedPowerStates('clone', vm({ is_a_snapshot: true }))).toEqual(['Halted', 'Suspended']);
  });
});
