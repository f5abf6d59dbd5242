import { describe, expect, it } from 'vitest';
import { SPLIT_DEFAULT, SPLIT_MAX, SPLIT_MIN, clampSplit, splitAfterKey } from './layout.ts';

describe('the lab page split', () => {
  it('keeps a remembered value within bounds, and falls back to the default for garbage', () => {
    expect(clampSplit(5)).toBe(SPLIT_MIN);
    expect(clampSplit(95)).toBe(SPLIT_MAX);
    expect(clampSplit(33.333)).toBe(33.3);
    expect(clampSplit(Number('nope'))).toBe(SPLIT_DEFAULT);
  });

  it('moves by 2 % per arrow key, 10 % with Shift, to the ends with Home and End', () => {
    expect(splitAfterKey(30, 'ArrowLeft', false)).toBe(28);
    expect(splitAfterKey(30, 'ArrowRight', true)).toBe(40);
    expect(splitAfterKey(21, 'ArrowDown', false)).toBe(SPLIT_MIN);
    expect(splitAfterKey(30, 'Home', false)).toBe(SPLIT_MIN);
    expect(splitAfterKey(30, 'End', false)).toBe(SPLIT_MAX);
    expect(splitAfterKey(30, 'a', false)).toBeUndefined();
  });
});
