import { describe, expect, it } from 'vitest';
import { XapiError } from './errors.js';

describe('XapiError', () => {
  it('names the parameters as the datamodel does', () => {
    const err = XapiError.fromDescription(
      ['VM_BAD_POWER_STATE', 'OpaqueRef:v', 'halted', 'running'],
      'VM.start',
    );
    expect(err.code).toBe('VM_BAD_POWER_STATE');
    expect(err.params).toEqual(['OpaqueRef:v', 'halted', 'running']);
    expect(err.named).toEqual({ vm: 'OpaqueRef:v', expected: 'halted', actual: 'running' });
    expect(err.message).toMatch(
      /^VM_BAD_POWER_STATE \[OpaqueRef:v, halted, running\] \(VM\.start\): You attempted/,
    );
  });

  it('keeps names with spaces exactly as the datamodel spells them', () => {
    expect(new XapiError('HOST_IS_SLAVE', ['192.0.2.1']).named).toEqual({ 'Master IP address': '192.0.2.1' });
  });

  it('passes unknown codes and extra parameters through', () => {
    const err = XapiError.fromDescription(['SR_BACKEND_FAILURE_109', '', 'Snapshot chain too long', 7]);
    expect(err.code).toBe('SR_BACKEND_FAILURE_109');
    expect(err.params).toEqual(['', 'Snapshot chain too long', '7']);
    expect(err.named).toEqual({});
  });
});
