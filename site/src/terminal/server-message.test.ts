import { describe, expect, it } from 'vitest';
import { issueText, readServerMessage } from './server-message.ts';

const READY = {
  type: 'term.ready',
  v: 1,
  driver: 'local',
  jailed: true,
  instance: 'i-1',
  offset: 0,
  lab: 'playground',
  terminal: 'main',
};
const frame = (o: object) => JSON.stringify(o);

describe('a text frame from the gateway, as the page takes it', () => {
  it('acts on a message that fits its schema', () => {
    const r = readServerMessage(frame(READY));
    expect(r).toEqual({ kind: 'message', msg: READY });
  });

  it('cannot go on with a known type whose field is wrong or missing, and says which field', () => {
    // The bug this was made for: the page dropped it and sat at "starting" for good.
    const bad = readServerMessage(frame({ ...READY, offset: -1 }));
    expect(bad.kind).toBe('mismatch');
    if (bad.kind !== 'mismatch') return;
    expect(bad.type).toBe('term.ready');
    expect(bad.issues.map((i) => i.path)).toEqual([['offset']]);
    expect(issueText(bad.issues)).toMatch(/^offset: Too small/);

    const { instance: _gone, ...missing } = READY;
    const r = readServerMessage(frame(missing));
    expect(r.kind === 'mismatch' && r.issues.map((i) => i.path)).toEqual([['instance']]);
    const nested = readServerMessage(
      frame({ type: 'room.pace', pace: { rev: 1, locked: 'all', moveTo: null, timer: null } }),
    );
    expect(nested.kind === 'mismatch' && nested.issues.map((i) => i.path)).toEqual([['pace', 'locked']]);
  });

  it('cannot go on with a frame that is no protocol message at all', () => {
    expect(readServerMessage('<html>')).toMatchObject({ kind: 'mismatch', type: undefined });
    expect(readServerMessage(frame({ code: 'X' }))).toMatchObject({ kind: 'mismatch', type: undefined });
    expect(readServerMessage('[]')).toMatchObject({ kind: 'mismatch', type: undefined });
  });

  it('ignores a type it does not know (a newer gateway), with a warning naming it', () => {
    const r = readServerMessage(frame({ type: 'room.weather', sunny: true }));
    expect(r).toMatchObject({ kind: 'ignored', type: 'room.weather' });
    expect(r.kind === 'ignored' && r.warning).toContain('room.weather');
  });

  it('goes on without fields a newer gateway added to a known type, with a warning naming them', () => {
    const r = readServerMessage(frame({ ...READY, colour: 'blue' }));
    expect(r).toMatchObject({ kind: 'message', msg: READY });
    expect(r.kind === 'message' && r.warning).toContain('colour');
    const deep = readServerMessage(
      frame({
        type: 'room.pace',
        pace: {
          rev: 2,
          locked: [],
          moveTo: null,
          timer: { remainingMs: 5, label: '', durationMs: 9, paused: true },
        },
      }),
    );
    expect(deep.kind === 'message' && deep.warning).toContain('pace.timer.paused');
    // An added field beside a wrong one is still a mismatch.
    expect(readServerMessage(frame({ ...READY, colour: 'blue', offset: -1 })).kind).toBe('mismatch');
  });
});
