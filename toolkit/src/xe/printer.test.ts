import { describe, expect, test } from 'vitest';
import { escapeCommas, formatRecord, Printer } from './printer.js';
import { fieldKey, formatDate, formatFloat } from './records.js';

const capture = () => {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: (s: string) => {
        out.stdout += s;
      },
      stderr: (s: string) => {
        out.stderr += s;
      },
    },
  };
};

describe('the record layout of cli_printer.ml', () => {
  test('first key padded right, the others left, to 4 + the longest key', () => {
    expect(
      formatRecord([
        ['uuid ( RO)', 'u'],
        ['name-label ( RW)', 'web01'],
        ['power-state ( RO)', 'running'],
      ]),
    ).toBe('uuid ( RO)           : u\n     name-label ( RW): web01\n    power-state ( RO): running\n');
  });

  test('each record is followed by two blank lines', () => {
    const { out, io } = capture();
    const p = new Printer(io, false);
    p.table([[['uuid ( RO)', 'a']], [['uuid ( RO)', 'b']]]);
    p.flush();
    expect(out.stdout).toBe('uuid ( RO)    : a\n\n\nuuid ( RO)    : b\n\n\n');
  });

  test('--minimal: first value of each record, commas and backslashes escaped; nothing found is an empty line', () => {
    const { out, io } = capture();
    const p = new Printer(io, true);
    p.table([[['name-label ( RW)', 'a,b']], [['name-label ( RW)', 'c\\d']]]);
    p.flush();
    expect(out.stdout).toBe('a\\,b,c\\\\d\n');
    const empty = capture();
    const q = new Printer(empty.io, true);
    q.table([]);
    q.flush();
    expect(empty.out.stdout).toBe('\n');
    expect(escapeCommas('x,y')).toBe('x\\,y');
  });

  test('markers, floats and dates as xe prints them', () => {
    expect(fieldKey({ n: 'name-label', k: 'auto', x: 's' })).toBe('name-label ( RW)');
    expect(fieldKey({ n: 'uuid', k: 'auto' })).toBe('uuid ( RO)');
    expect(fieldKey({ n: 'other-config', k: 'map', x: 'MA' })).toBe('other-config (MRW)');
    expect(fieldKey({ n: 'cpu_info', k: 'map', x: 'M' })).toBe('cpu_info (MRO)');
    expect(fieldKey({ n: 'tags', k: 'set', x: 'Sa' })).toBe('tags (SRW)');
    expect(fieldKey({ n: 'VBDs', k: 'uuids', x: 'S' })).toBe('VBDs (SRO)');
    expect(fieldKey({ n: 'ha-always-run', k: 'auto', x: 'sd' })).toBe('ha-always-run ( RW) [DEPRECATED]');
    expect(formatFloat(0.5)).toBe('0.500');
    expect(formatDate(new Date(Date.UTC(2025, 2, 19, 4, 16, 24)))).toBe('20250319T04:16:24Z');
  });
});
