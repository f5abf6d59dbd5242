import { describe, expect, it } from 'vitest';
import { defineTool, parseOptions, toolHelp } from './command.js';
import { ToolError } from './errors.js';
import { vmName } from './provision/index.js';

const tool = defineTool({
  name: 'demo',
  summary: 'a demo',
  description: 'Does nothing.',
  examples: ['xenlab-tools demo --count 2'],
  usesPool: true,
  options: {
    count: { type: 'number', required: true, min: 1, placeholder: 'N', description: 'How many.' },
    mode: { type: 'string', default: 'fast', choices: ['fast', 'slow'], description: 'Speed.' },
    dryRun: { type: 'boolean', description: 'Change nothing.' },
    label: { type: 'string', env: 'DEMO_LABEL', description: 'A label.' },
  },
  run: () => Promise.resolve(0),
});

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ToolError) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('no error');
}

describe('parseOptions', () => {
  it('reads --name value, --name=value, flags, --no-flag, environment and defaults', () => {
    expect(parseOptions(tool, ['--count', '3', '--dry-run'], { DEMO_LABEL: 'x' })).toEqual({
      count: 3,
      dryRun: true,
      mode: 'fast',
      label: 'x',
      user: 'root',
      insecure: false,
    });
    expect(
      parseOptions(tool, ['--count=1', '--mode=slow', '--no-dry-run', '--label', 'y'], { DEMO_LABEL: 'x' }),
    ).toMatchObject({
      count: 1,
      mode: 'slow',
      dryRun: false,
      label: 'y',
    });
    expect(
      parseOptions(tool, ['--count', '1'], { XENLAB_URL: 'http://h', XENLAB_USER: 'admin' }),
    ).toMatchObject({
      url: 'http://h',
      user: 'admin',
    });
  });

  it('explains bad command lines', () => {
    const see = ' (see `xenlab-tools demo --help`)';
    expect(usageError(() => parseOptions(tool, [], {}))).toBe(`TOOLS_ERR_USAGE: --count is required${see}`);
    expect(usageError(() => parseOptions(tool, ['--count', '0'], {}))).toBe(
      `TOOLS_ERR_USAGE: --count must be at least 1${see}`,
    );
    expect(usageError(() => parseOptions(tool, ['--count', '2', '--mode', 'warp'], {}))).toBe(
      `TOOLS_ERR_USAGE: --mode must be one of fast, slow, got "warp"${see}`,
    );
    expect(usageError(() => parseOptions(tool, ['--count', '2', '--colour'], {}))).toBe(
      `TOOLS_ERR_USAGE: unknown option --colour${see}`,
    );
    expect(usageError(() => parseOptions(tool, ['--count'], {}))).toBe(
      `TOOLS_ERR_USAGE: --count needs a value${see}`,
    );
    expect(usageError(() => parseOptions(tool, ['stray', '--count', '1'], {}))).toBe(
      `TOOLS_ERR_USAGE: unexpected argument "stray"${see}`,
    );
  });
});

describe('toolHelp', () => {
  it('lists options with their placeholders, defaults and environment variables, then the pool options', () => {
    const help = toolHelp(tool);
    expect(help).toMatch(/^xenlab-tools demo — a demo\n\nDoes nothing\.\n\nOptions:\n/);
    expect(help).toMatch(/ {2}--count N +How many\. \(required\)\n/);
    expect(help).toMatch(/ {2}--mode fast\|slow +Speed\. \(default fast\)\n/);
    expect(help).toMatch(/ {2}--label STRING +A label\. \(env DEMO_LABEL\)\n/);
    expect(help).toContain('Pool connection:\n');
    expect(help).toMatch(/ {2}--url URL +The pool coordinator/);
    expect(help).toContain(
      'Exit codes:\n  0  success\n  1  failure (the message says why)\n  2  bad command line\n',
    );
  });
});

describe('vmName', () => {
  it('numbers and pads', () => {
    expect(vmName('web-{n}', 7)).toBe('web-7');
    expect(vmName('web-{n:3}', 7)).toBe('web-007');
    expect(vmName('{n:2}-{n}', 12)).toBe('12-12');
  });
});
