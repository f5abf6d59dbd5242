import { describe, expect, it } from 'vitest';
import { ToolError } from '../errors.js';
import {
  DEFAULT_POLICY,
  EXAMPLE_POLICY,
  parsePolicy,
  parseRate,
  tagMatches,
  validatePolicy,
} from './policy.js';
import { fixture } from './fixtures.js';
import { decide } from './decide.js';
import { machineLine, messageBody, parseMachineLine } from './render.js';

/** The message and detail lines of a policy that fails validation. */
function problems(doc: unknown, source = 'p.yaml'): string[] {
  try {
    validatePolicy(doc, source);
  } catch (e) {
    if (e instanceof ToolError) return [e.message, ...e.details];
    throw e;
  }
  throw new Error('the policy was accepted');
}

describe('the policy file', () => {
  it('reads the documented example', () => {
    const p = parsePolicy(EXAMPLE_POLICY, 'policy.yaml');
    expect(p.thresholds.cpu).toEqual({ high: 0.85, critical: 0.95, target: 0.65 });
    // Memory is kept as "used": low 10 % free = high 90 % used.
    expect(p.thresholds.memory.high).toBeCloseTo(0.9);
    expect(p.thresholds.memory.critical).toBeCloseTo(0.95);
    expect(p.thresholds.memory.target).toBeCloseTo(0.8);
    expect(p.thresholds.disk).toEqual({ high: 200e6, target: 120e6 });
    expect(p.thresholds.network).toEqual({ high: 100e6, target: 60e6 });
    expect(p.hysteresis).toEqual({ samples: 2, criticalSamples: 1, cooldown: 300 });
    expect(p.affinity).toEqual({ anti: ['ha-pair', 'anti:*'], together: ['app-stack'] });
    expect(p.spare).toEqual({ hosts: ['xcp-ng-16'], keepEmpty: 0 });
    expect(p.maintenance.evacuate).toBe(true);
    expect(p.exclude).toEqual({ vms: [], tags: ['no-balance'] });
  });

  it('is all optional: an empty file is the built-in policy', () => {
    expect(parsePolicy('', 'empty.yaml')).toEqual(DEFAULT_POLICY);
    expect(parsePolicy('{}', 'empty.json')).toEqual(DEFAULT_POLICY);
  });

  it('reads JSON too', () => {
    const p = parsePolicy(
      JSON.stringify({ thresholds: { cpu: { high: 0.7, target: 0.5 } }, maxMovesPerInterval: 4 }),
      'p.json',
    );
    expect(p.thresholds.cpu).toEqual({ high: 0.7, target: 0.5 });
    expect(p.maxMovesPerInterval).toBe(4);
  });

  it('names every bad field', () => {
    expect(
      problems({
        thresholds: { cpu: { high: 1.5, target: 'low' }, memoryFree: { low: 0.2, target: 0.1 }, gpu: {} },
        hysteresis: { samples: 0, cooldown: -1 },
        maxMovesPerInterval: 2.5,
        affinity: { anti: 'web', together: ['a*b'] },
        spare: { hosts: [1] },
        maintenance: { evacuate: 'yes' },
        extra: true,
      }),
    ).toEqual([
      'p.yaml is not a valid policy',
      'extra: unknown field (known: interval, thresholds, hysteresis, maxMovesPerInterval, affinity, spare, maintenance, exclude)',
      'thresholds.gpu: unknown field (known: cpu, memoryFree, disk, network)',
      'thresholds.cpu.high: must be a number > 0 and ≤ 1, got 1.5',
      'thresholds.cpu.target: must be a number > 0 and ≤ 1, got "low"',
      'thresholds.memoryFree.target: must be above thresholds.memoryFree.low (0.2), got 0.1',
      'hysteresis.samples: must be a whole number ≥ 1 and ≤ 120, got 0',
      'hysteresis.cooldown: must be a number ≥ 0, got -1',
      'maxMovesPerInterval: must be a whole number ≥ 1 and ≤ 1000, got 2.5',
      'affinity.together: "a*b": a tag, or a prefix ending in one "*" (e.g. "anti:*")',
      'spare.hosts: must be a list of names, got [1]',
      'maintenance.evacuate: must be true or false, got "yes"',
    ]);
  });

  it('keeps the target mark below high and critical above it', () => {
    expect(problems({ thresholds: { cpu: { high: 0.8, target: 0.9, critical: 0.7 } } }).slice(1)).toEqual([
      'thresholds.cpu.critical: must be above thresholds.cpu.high (0.8), got 0.7',
      'thresholds.cpu.target: must be below thresholds.cpu.high (0.8), got 0.9',
    ]);
    expect(problems({ thresholds: { disk: { target: '10M' } } }).slice(1)).toEqual([
      'thresholds.disk.high: required (e.g. 200M)',
    ]);
    // A high of its own gets a target of its own (¾ of it), not the default's.
    expect(validatePolicy({ thresholds: { cpu: { high: 0.6 } } }).thresholds.cpu).toEqual({
      high: 0.6,
      target: 0.44999999999999996,
    });
  });

  it('says when the file is not YAML or JSON at all', () => {
    expect(() => parsePolicy('thresholds: [', 'bad.yaml')).toThrow(/^bad\.yaml is not valid YAML: /);
    expect(() => parsePolicy('{', 'bad.json')).toThrow(/^bad\.json is not valid JSON: /);
    expect(() => parsePolicy('- 1\n- 2\n', 'list.yaml')).toThrow(
      'list.yaml is not a valid policy: the top level must be a mapping',
    );
  });

  it('reads rates with units, and tag prefixes', () => {
    expect(parseRate('200M')).toBe(200e6);
    expect(parseRate('1.5G')).toBe(1.5e9);
    expect(parseRate('64Mi')).toBe(64 * 1024 ** 2);
    expect(parseRate('100MB/s')).toBe(100e6);
    expect(parseRate(5)).toBe(5);
    expect(parseRate('fast')).toBeNaN();
    expect(tagMatches('anti:*', 'anti:db')).toBe(true);
    expect(tagMatches('anti:*', 'db')).toBe(false);
    expect(tagMatches('db', 'db')).toBe(true);
  });
});

describe('the move message', () => {
  it('ends with a machine line the next run reads back as history', () => {
    const snap = fixture(
      [
        { name: 'a', cpu: 0.9 },
        { name: 'b', cpu: 0.1 },
      ],
      [
        { name: 'hog', host: 'a', cpu: 1 },
        { name: 'rest', host: 'a', vcpus: 8, cpu: 0.65 },
      ],
    );
    const d = decide(snap, DEFAULT_POLICY, []).decisions[0];
    if (!d) throw new Error('no decision');
    const vm = d.vms[0] ?? { uuid: '', name: '' };
    const body = messageBody(d, vm, DEFAULT_POLICY, 1_767_225_601);
    expect(body.split('\n')[0]).toBe('moved VM hog from a to b (cpu high)');
    expect(body.split('\n').at(-1)).toBe(machineLine(d, vm, 1_767_225_601));
    expect(parseMachineLine(body)).toEqual({
      vm: 'vm-hog',
      from: 'host-a',
      to: 'host-b',
      time: 1_767_225_601,
    });
    expect(parseMachineLine('some other message')).toBeUndefined();
  });
});
