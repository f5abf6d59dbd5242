import { describe, expect, it } from 'vitest';
import { arrowLine, exitPoint, layoutSequence, type Box } from './geometry.ts';

const box = (id: string, x: number, y: number): Box => ({ id, x, y, w: 100, h: 40, label: id });

describe('diagram geometry', () => {
  it('starts and ends arrows on the edges of the boxes, not inside them', () => {
    const a = box('a', 0, 0);
    expect(exitPoint(a, { x: 50, y: 500 })).toEqual({ x: 50, y: 40 }); // straight down: the bottom edge
    expect(exitPoint(a, { x: 500, y: 20 })).toEqual({ x: 100, y: 20 }); // right: the right edge
    const { a: from, b: to, mid } = arrowLine(a, box('b', 0, 200));
    expect(from).toEqual({ x: 50, y: 40 });
    expect(to).toEqual({ x: 50, y: 200 });
    expect(mid).toEqual({ x: 50, y: 120 });
  });

  it('lays a sequence out in columns and rows, and names a participant it does not know', () => {
    const people = [
      { id: 'host', label: 'host' },
      { id: 'dhcp', label: 'dhcp' },
    ];
    const l = layoutSequence(people, [
      { from: 'host', to: 'dhcp', label: 'discover' },
      { from: 'dhcp', to: 'host', label: 'offer' },
      { from: 'host', to: 'host', label: 'boot' },
    ]);
    expect(l.columns.map((c) => c.x)).toEqual([106, 286]);
    expect(l.rows.map((r) => [r.x1, r.x2, r.self, r.n])).toEqual([
      [106, 286, false, 1],
      [286, 106, false, 2],
      [106, 106, true, 3],
    ]);
    expect(l.rows[1]?.y).toBeGreaterThan(l.rows[0]?.y ?? Infinity);
    expect(() => layoutSequence(people, [{ from: 'host', to: 'tftp', label: 'get' }])).toThrow(
      'sequence diagram: no participant "tftp"',
    );
  });
});
