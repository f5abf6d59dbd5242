import { describe, expect, it } from 'vitest';
import { mismatchDetail, mismatchLog } from '../../terminal/server-message.ts';
import { readLabServerMessage } from './server-message.ts';

const STATE = {
  type: 'lab.state',
  v: 1,
  view: { lab: 'playground', title: 'Playground', score: 0, maxScore: 10, tasks: [] },
  trigger: 'initial',
  seq: 1,
  at: 1_700_000_000_000,
};
const frame = (o: object) => JSON.stringify(o);

describe('a text frame from the lab channel, as the task panel takes it', () => {
  it('acts on a message that fits its schema', () => {
    expect(readLabServerMessage(frame(STATE))).toEqual({ kind: 'message', msg: STATE });
    const answer = { type: 'lab.answer.result', check: 'c', correct: true, message: 'Correct!' };
    expect(readLabServerMessage(frame(answer))).toEqual({ kind: 'message', msg: answer });
  });

  it('cannot read a known type with a wrong or missing field, and says which message and field', () => {
    // The bug this was made for: the panel dropped such a state without a word.
    const bad = readLabServerMessage(frame({ ...STATE, trigger: 'telepathy' }));
    expect(bad).toMatchObject({ kind: 'mismatch', type: 'lab.state' });
    if (bad.kind !== 'mismatch') return;
    expect(bad.issues.map((i) => i.path)).toEqual([['trigger']]);
    expect(mismatchDetail(bad.type, bad.issues)).toMatch(/^lab\.state · trigger: Invalid option/);
    const [line, details] = mismatchLog(bad.type, bad.issues, frame(STATE));
    expect(line).toMatch(
      /^\[xenlab\] the lab server sent a lab\.state message this page cannot read: trigger: /,
    );
    expect(details).toMatchObject({ type: 'lab.state', paths: [['trigger']], frame: frame(STATE) });

    const nested = readLabServerMessage(frame({ ...STATE, view: { ...STATE.view, score: 'ten' } }));
    expect(nested.kind === 'mismatch' && nested.issues.map((i) => i.path)).toEqual([['view', 'score']]);
    const { seq: _gone, ...missing } = STATE;
    const r = readLabServerMessage(frame(missing));
    expect(r.kind === 'mismatch' && r.issues.map((i) => i.path)).toEqual([['seq']]);
  });

  it('cannot read a frame that is no protocol message, and says so without a type', () => {
    const r = readLabServerMessage('<html>');
    expect(r).toMatchObject({ kind: 'mismatch', type: undefined });
    if (r.kind !== 'mismatch') return;
    expect(mismatchDetail(r.type, r.issues)).toBe('message · (the message): not JSON');
    expect(mismatchLog(r.type, r.issues, 'x'.repeat(5000))[1].frame).toHaveLength(1000);
    expect(readLabServerMessage(frame({ code: 'X' }))).toMatchObject({ kind: 'mismatch', type: undefined });
  });

  it("knows the lab channel's types, not the terminal's: a type it does not know is ignored, with a warning", () => {
    const r = readLabServerMessage(frame({ type: 'term.ready', v: 1 }));
    expect(r).toMatchObject({ kind: 'ignored', type: 'term.ready' });
    expect(readLabServerMessage(frame({ type: 'lab.weather' }))).toMatchObject({ kind: 'ignored' });
  });

  it('goes on without fields a newer gateway added to a known type, with a warning naming them', () => {
    const r = readLabServerMessage(frame({ ...STATE, view: { ...STATE.view, colour: 'blue' } }));
    expect(r).toMatchObject({ kind: 'message', msg: STATE });
    expect(r.kind === 'message' && r.warning).toContain('view.colour');
  });
});
