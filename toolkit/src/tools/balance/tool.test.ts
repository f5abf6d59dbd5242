import { describe, expect, it } from 'vitest';
import { parseOptions, toolHelp } from '../command.js';
import { ToolError } from '../errors.js';
import { balanceTool } from './index.js';

describe('the balance command line', () => {
  it('takes start, stop and status as a first bare word, and runs in the foreground otherwise', () => {
    expect(parseOptions(balanceTool, ['--policy', 'p.yaml'], {})).toMatchObject({
      action: 'run',
      policy: 'p.yaml',
    });
    expect(parseOptions(balanceTool, ['start', '--policy', 'p.yaml', '--dry-run'], {})).toMatchObject({
      action: 'start',
      dryRun: true,
    });
    expect(parseOptions(balanceTool, ['status'], {})).toMatchObject({ action: 'status' });
    expect(() => parseOptions(balanceTool, ['restart'], {})).toThrow(
      'action must be one of run, start, stop, status, got "restart"',
    );
    // Only the first word: a stray one later is still an error.
    expect(() => parseOptions(balanceTool, ['--once', 'stop'], {})).toThrow(ToolError);
  });

  it('reads the state directory from the environment', () => {
    expect(parseOptions(balanceTool, ['status'], { XENLAB_BALANCE_DIR: '/tmp/b' })).toMatchObject({
      stateDir: '/tmp/b',
    });
  });

  it('logs in with its own originator and documents itself', () => {
    expect(balanceTool.originator).toBe('xenlab-balance');
    const help = toolHelp(balanceTool);
    expect(help).toContain('--action run|start|stop|status');
    expect(help).toContain('or as the first argument');
    expect(help).toContain('xenlab-tools balance start --policy policy.yaml');
    expect(help).toContain('session originator "xenlab-balance"');
    expect(help).toContain('3  status: the balancer is not running');
    expect(balanceTool.details).toContain('memoryFree: { low: 0.10, critical: 0.05, target: 0.20 }');
  });
});
