import { describe, expect, it } from 'vitest';
import { formatXapiDate, parseXapiDate } from './wire-values.js';

describe('XAPI datetimes', () => {
  it('formats in UTC without hyphens, to the second, with Z', () => {
    expect(formatXapiDate(new Date('2025-03-19T04:16:24.900Z'))).toBe('20250319T04:16:24Z');
    expect(formatXapiDate(new Date(0))).toBe('19700101T00:00:00Z');
  });

  it('parses the XAPI form, RFC 3339 and zone-less stamps (as UTC)', () => {
    const iso = '2025-03-19T04:16:24.000Z';
    expect(parseXapiDate('20250319T04:16:24Z')?.toISOString()).toBe(iso);
    expect(parseXapiDate('2025-03-19T04:16:24Z')?.toISOString()).toBe(iso);
    expect(parseXapiDate('20250319T04:16:24')?.toISOString()).toBe(iso);
    expect(parseXapiDate('2025-03-19T06:16:24+02:00')?.toISOString()).toBe(iso);
    expect(parseXapiDate('2025-03-19T04:16:24.5Z')?.toISOString()).toBe('2025-03-19T04:16:24.500Z');
  });

  it('returns undefined for text that is not a datetime', () => {
    expect(parseXapiDate('Halted')).toBeUndefined();
    expect(parseXapiDate('')).toBeUndefined();
  });

  it('refuses to format an invalid Date', () => {
    expect(() => formatXapiDate(new Date('nope'))).toThrow(RangeError);
  });
});
