import { describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import { Admission } from './admission.js';
import { capacityFor, parseCapacity, type HostFacts } from './capacity.js';

const box: HostFacts = { totalMb: 24_105, availableMb: 20_000, cores: 2, kvm: false };

describe('capacity from measured facts', () => {
  it('puts a three-VM qemu-xen lab at one at a time on 2 cores without KVM, and more with KVM', () => {
    const heavy = { driver: 'qemu-xen', nodes: 3, memoryMb: 3 * 2048 };
    expect(capacityFor(heavy, box)).toMatchObject({ limit: 1, by: 'cpu' });
    // 64 cores and 256 GiB with KVM: memory binds (6 GiB + QEMU per environment).
    const big = { totalMb: 262_144, availableMb: 250_000, cores: 64, kvm: true };
    expect(capacityFor(heavy, big)).toMatchObject({ limit: 36, by: 'memory' });
    expect(capacityFor(heavy, big).why).toMatch(/KVM; 6\.3 GiB each \(3 nodes\)/);
  });

  it('keeps simulator labs cheap but bounded, and the operator’s word replaces the measure', () => {
    expect(capacityFor({ driver: 'local', nodes: 1 }, box).limit).toBe(300);
    expect(capacityFor({ driver: 'local', nodes: 1 }, { ...box, availableMb: 3_000 }).limit).toBe(93);
    expect(capacityFor({ driver: 'qemu-xen', nodes: 1 }, box, new Map([['qemu-xen', 6]]))).toMatchObject({
      limit: 6,
      by: 'override',
    });
  });

  it('parses --capacity, and names what is wrong', () => {
    expect(parseCapacity('qemu-xen=6, local=80')).toEqual(
      new Map([
        ['qemu-xen', 6],
        ['local', 80],
      ]),
    );
    expect(parseCapacity('')).toEqual(new Map());
    expect(() => parseCapacity('qemu-xen=0')).toThrow(/capacity "qemu-xen=0" is not <driver>=/);
    expect(() => parseCapacity('six')).toThrow(/"six"/);
  });
});

describe('the line', () => {
  it('admits in order, moves when someone leaves, and starts the next when a place frees', async () => {
    let now = 0;
    const a = new Admission({ capacity: () => 2, now: () => now, defaultLifetimeMs: 40 * 60_000 });
    const t1 = a.enter('e1', 'qemu-xen', 'lab');
    const t2 = a.enter('e2', 'qemu-xen', 'lab');
    await Promise.all([t1.admitted, t2.admitted]);
    now = 10 * 60_000;
    const t3 = a.enter('e3', 'qemu-xen', 'lab');
    const t4 = a.enter('e4', 'qemu-xen', 'lab');
    const t4b = a.enter('e4', 'qemu-xen', 'lab');
    // Two running for 10 of their 40 minutes: the first place frees in about 30 min, the third waits a round more.
    expect(t3.status()).toMatchObject({ place: 1, waiting: 2, running: 2, capacity: 2, etaMs: 30 * 60_000 });
    expect(t4.status()).toMatchObject({ place: 2, etaMs: 30 * 60_000 });
    const t5 = a.enter('e5', 'qemu-xen', 'lab');
    expect(t5.status()?.etaMs).toBe(70 * 60_000);
    // Another driver's line is its own.
    await a.enter('s1', 'local', 'other').admitted;

    const seen: number[] = [];
    t5.onChange((s) => seen.push(s.place));
    t3.leave();
    expect(t4.status()?.place).toBe(1);
    // Two pages of e4 hold one place: it goes with the last of them.
    t4.leave();
    expect(t4b.status()?.place).toBe(1);
    expect(seen).toEqual([2]);

    now = 25 * 60_000;
    a.release('e1');
    await t4b.admitted;
    expect(t4b.status()).toBeUndefined();
    expect(t5.status()).toMatchObject({ place: 1, running: 2 });
    // e1 lived 25 minutes: that is the estimate now, not the default 40.
    expect(a.lifetimeMs('qemu-xen')).toBe(25 * 60_000);
  });

  it('keeps its measurements across restarts', () => {
    const db = openStore(':memory:');
    let now = 0;
    const first = new Admission({ db, capacity: () => 1, now: () => now });
    void first.enter('e1', 'local', 'lab');
    now = 90_000;
    first.started('e1');
    now = 600_000;
    first.release('e1');
    const second = new Admission({ db, capacity: () => 1, now: () => now });
    expect(second.startMs('local')).toBe(90_000);
    expect(second.lifetimeMs('local')).toBe(600_000);
    db.close();
  });
});
