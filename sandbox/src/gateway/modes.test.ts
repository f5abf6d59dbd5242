import { describe, expect, it } from 'vitest';
import { Learners, openStore } from '../store/index.js';
import { RoomModes } from './modes.js';

describe('room modes', () => {
  it('seats learners N to a table in the order they come, keeps the seats across a restart, regroups on a new size', () => {
    const db = openStore(':memory:');
    const learners = new Learners(db);
    const [ana, ben, cy] = ['sa', 'sb', 'sc'].map((sid, i) =>
      learners.join(sid, null, ['Ana', 'Ben', 'Cy'][i]),
    );
    if (!ana || !ben || !cy) throw new Error('no learners');
    const modes = new RoomModes(db);
    expect(modes.seat(ana.id, 'lab-a', false)).toEqual({
      owner: ana.id,
      readOnly: false,
      mode: 'individual',
    });

    modes.set('lab-a', { mode: 'tables', size: 2 });
    const seated: number[] = [];
    modes.subscribe((e) => {
      if (e.kind === 'seated') seated.push(e.table);
    });
    expect(modes.seat(ana.id, 'lab-a', false)).toMatchObject({ owner: 'table-1-lab-a', table: 1 });
    expect(modes.seat(ben.id, 'lab-a', false)).toMatchObject({ table: 1, members: ['Ana', 'Ben (you)'] });
    expect(modes.seat(cy.id, 'lab-a', false)).toMatchObject({ owner: 'table-2-lab-a', table: 2 });
    expect(modes.seat(ana.id, 'lab-a', false).table).toBe(1);
    expect(seated).toEqual([1, 1, 2]);
    // The instructor keeps their own environment at a tables lab; another lab is untouched.
    expect(modes.seat(ana.id, 'lab-a', true).owner).toBe(ana.id);
    expect(modes.seat(ana.id, 'lab-b', false).owner).toBe(ana.id);

    const again = new RoomModes(db);
    expect(again.get('lab-a')).toEqual({ mode: 'tables', size: 2 });
    expect(again.seat(cy.id, 'lab-a', false).table).toBe(2);
    expect(again.tables('lab-a')).toEqual([
      { table: 1, owner: 'table-1-lab-a', members: ['Ana', 'Ben'] },
      { table: 2, owner: 'table-2-lab-a', members: ['Cy'] },
    ]);
    again.set('lab-a', { mode: 'tables', size: 3 });
    expect(again.seat(cy.id, 'lab-a', false).table).toBe(1);
    db.close();
  });

  it('puts everyone in the demo, the instructor driving and learners watching', () => {
    const db = openStore(':memory:');
    const learner = new Learners(db).join('s', null, null);
    const modes = new RoomModes(db);
    modes.set('lab-a', { mode: 'demo' });
    expect(modes.seat('', 'lab-a', true)).toMatchObject({ owner: 'demo-lab-a', readOnly: false });
    expect(modes.seat(learner.id, 'lab-a', false)).toMatchObject({ owner: 'demo-lab-a', readOnly: true });
    // The demo's environment belongs to a learner row of its own, named for the room.
    expect(db.prepare('SELECT display_name FROM learners WHERE id = ?').get('demo-lab-a')).toEqual({
      display_name: 'Shared demo',
    });
    modes.set('lab-a', { mode: 'individual' });
    expect(modes.seat(learner.id, 'lab-a', false).owner).toBe(learner.id);
    expect(new RoomModes(db).get('lab-a')).toEqual({ mode: 'individual' });
    db.close();
  });
});
