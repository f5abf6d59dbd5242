import { describe, expect, it } from 'vitest';
import { assistText, assistView, earnedPoints, nextHintCost } from './scoring.js';

const none = { hints: 0, solutionShown: false, ran: 0, skipped: false, resets: 0 };

describe('scoring (issue #16)', () => {
  it('gives full points unassisted, a quarter less per hint, never below 0', () => {
    expect(earnedPoints(20, none)).toBe(20);
    expect(earnedPoints(20, { ...none, hints: 1 })).toBe(15);
    expect(earnedPoints(20, { ...none, hints: 2 })).toBe(10);
    expect(earnedPoints(20, { ...none, hints: 4 })).toBe(0);
    expect(earnedPoints(20, { ...none, hints: 7 })).toBe(0);
    expect(earnedPoints(10, { ...none, hints: 1 })).toBe(8); // 7.5 rounds to 8
  });

  it('gives nothing for a solution seen, a solution run, or a skip; resets cost nothing', () => {
    expect(earnedPoints(20, { ...none, solutionShown: true })).toBe(0);
    expect(earnedPoints(20, { ...none, ran: 1 })).toBe(0);
    expect(earnedPoints(20, { ...none, skipped: true })).toBe(0);
    expect(earnedPoints(20, { ...none, resets: 3 })).toBe(20);
  });

  it('says what the next hint costs', () => {
    expect(nextHintCost(20, none)).toBe(5);
    expect(nextHintCost(10, none)).toBe(2); // 10 → 8
    expect(nextHintCost(10, { ...none, hints: 1 })).toBe(3); // 8 → 5
    expect(nextHintCost(20, { ...none, hints: 4 })).toBe(0);
    expect(nextHintCost(20, { ...none, solutionShown: true })).toBe(0);
  });

  it('words what helped, and nothing when nothing did', () => {
    expect(assistView(none)).toBeUndefined();
    expect(assistText(assistView(none))).toBe('');
    expect(assistText(assistView({ ...none, hints: 2 }))).toBe('2 hints');
    expect(assistText(assistView({ ...none, hints: 1, solutionShown: true, ran: 2, resets: 1 }))).toBe(
      '1 hint, solution shown, solution run 2 times, reset once',
    );
    expect(assistText(assistView({ ...none, skipped: true }))).toBe('skipped');
  });
});
