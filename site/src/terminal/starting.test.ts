import { describe, expect, it } from 'vitest';
import { aboutText, ordinal, queueText } from './starting.ts';

describe('the place in line, as the learner reads it', () => {
  it('says the place and about how long, counting down from when the gateway said it', () => {
    const q = { driver: 'qemu-xen', place: 4, waiting: 9, running: 6, capacity: 6, etaMs: 6 * 60_000 };
    expect(queueText(q, 1_000, 1_000).title).toBe('You are 4th in line, about 6 minutes');
    expect(queueText(q, 1_000, 1_000 + 3 * 60_000).title).toBe('You are 4th in line, about 3 minutes');
    expect(queueText(q, 0, 0).detail).toMatch(/^The room is full: 6 of 6 nested Xen hosts run/);
    expect(queueText({ ...q, place: 1, etaMs: 20_000 }, 0, 0).title).toBe('You are next, under a minute');
  });

  it('writes ordinals and durations in words', () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 103].map(ordinal)).toEqual([
      '1st',
      '2nd',
      '3rd',
      '4th',
      '11th',
      '12th',
      '13th',
      '21st',
      '22nd',
      '103rd',
    ]);
    expect(aboutText(60_000)).toBe('about 1 minute');
    expect(aboutText(3 * 3_600_000)).toBe('about 3 hours');
  });
});
