import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadLabs } from './labs.ts';
import { clockAt, duration, parseClock } from './tracks-clock.ts';
import { TRACKS, scheduleOf, tasksOf, validateTracks, type Track, type TrackLab } from './tracks.ts';

const DOCS = fileURLToPath(new URL('./content/docs/', import.meta.url));

/** Every page of the docs collection by slug (`concepts/xenapi`), with its frontmatter title. */
function docsPages(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.mdx?$/.test(e.name)) {
        const title = /^title:\s*['"]?(.*?)['"]?\s*$/m.exec(readFileSync(p, 'utf8'))?.[1] ?? '';
        out.set(
          relative(DOCS, p)
            .replace(/\.mdx?$/, '')
            .replace(/\\/g, '/'),
          title,
        );
      }
    }
  };
  walk(DOCS);
  return out;
}

const labs = new Map<string, TrackLab>(loadLabs().map((l) => [l.id, l]));
const pages = docsPages();
const trackById = (id: string): Track => {
  const t = TRACKS.find((x) => x.id === id);
  if (!t) throw new Error(`no track ${id}`);
  return t;
};

describe('the course tracks', () => {
  it('fit their budgets and name only labs, tasks and pages that exist, with the labs’ own minutes', () => {
    expect(validateTracks(TRACKS, { labs, pages: new Set(pages.keys()) })).toEqual([]);
  });

  it('include a 3-hour conference tutorial with about 90 minutes of labs, talks on concept pages only', () => {
    const conf = trackById('conference-tutorial');
    expect(conf.budgetMinutes).toBe(180);
    const s = scheduleOf(conf, labs, (slug) => pages.get(slug));
    expect(s.totals.total).toBeLessThanOrEqual(180);
    expect(s.totals.lab).toBeGreaterThanOrEqual(80);
    expect(s.totals.lab).toBeLessThanOrEqual(95);
    const talks = conf.days.flatMap((d) => d.segments.flatMap((x) => (x.kind === 'talk' ? [x.page] : [])));
    expect(talks.length).toBeGreaterThan(0);
    expect(talks.filter((page) => !page.startsWith('concepts/'))).toEqual([]);
    // Labs on the room's one gateway: no nested Xen.
    const drivers = s.days.flatMap((d) => d.segments.flatMap((x) => (x.lab ? [x.lab.driver] : [])));
    expect(new Set(drivers)).toEqual(new Set(['local']));
  });

  it('give every concept page a talk in the conference tutorial and the full course', () => {
    const concepts = [...pages.keys()].filter((p) => p.startsWith('concepts/') && !p.endsWith('/index'));
    expect(concepts.length).toBeGreaterThanOrEqual(11);
    for (const id of ['conference-tutorial', 'full-course']) {
      const talked = new Set(
        trackById(id).days.flatMap((d) => d.segments.flatMap((s) => (s.kind === 'talk' ? [s.page] : []))),
      );
      expect(
        [...concepts].filter((p) => !talked.has(p)),
        id,
      ).toEqual([]);
    }
  });

  it('put every lab in the full course, whole', () => {
    const full = trackById('full-course');
    const wanted = tasksOf(full, labs);
    for (const lab of labs.values()) expect(wanted.get(lab.id), lab.id).toEqual(lab.tasks.map((t) => t.id));
  });

  it('schedule segments one after the other from the start of each day', () => {
    const full = trackById('full-course');
    const s = scheduleOf(full, labs, (slug) => pages.get(slug));
    for (const day of s.days) {
      let at = 0;
      for (const seg of day.segments) {
        expect(seg.offset).toBe(at);
        at += seg.minutes;
      }
      expect(day.totals.total).toBe(at);
    }
    expect(s.days[0]?.segments[0]).toMatchObject({ kind: 'talk', href: '/concepts/xen-and-xcp/', offset: 0 });
    expect(s.totals.total).toBe(s.days.reduce((n, d) => n + d.totals.total, 0));
  });
});

describe('the track check', () => {
  const lab: TrackLab = {
    id: 'lab-a',
    title: 'Lab A',
    minutes: 30,
    driver: 'local',
    tasks: [
      { id: 'one', title: 'One', points: 10 },
      { id: 'two', title: 'Two', points: 20 },
      { id: 'three', title: 'Three', points: 30 },
    ],
  };
  const known = { labs: new Map([[lab.id, lab]]), pages: new Set(['concepts/a']) };
  const track = (segments: Track['days'][number]['segments'], budgetMinutes = 60): Track => ({
    id: 'test-track',
    title: 'Test',
    summary: '',
    needs: '',
    budgetMinutes,
    start: '09:00',
    days: [{ segments }],
  });

  it('accepts a track that fits', () => {
    expect(
      validateTracks(
        [
          track([
            { kind: 'talk', page: 'concepts/a', minutes: 10 },
            { kind: 'lab', lab: 'lab-a', tasks: ['one', 'three'], minutes: 15 },
            { kind: 'break', title: 'Break', minutes: 5 },
            { kind: 'lab', lab: 'lab-a' },
          ]),
        ],
        known,
      ),
    ).toEqual([]);
  });

  it('fails a day over its budget, saying by how much', () => {
    expect(
      validateTracks(
        [
          track([
            { kind: 'talk', page: 'concepts/a', minutes: 31 },
            { kind: 'lab', lab: 'lab-a' },
          ]),
        ],
        known,
      ),
    ).toEqual(['track test-track: 61 min of segments do not fit the budget of 60 min (1 over)']);
  });

  it('fails unknown labs, tasks and pages', () => {
    expect(
      validateTracks(
        [
          track([
            { kind: 'talk', page: 'concepts/nope', minutes: 5 },
            { kind: 'lab', lab: 'no-such-lab', minutes: 5 },
            { kind: 'lab', lab: 'lab-a', tasks: ['one', 'four'], minutes: 5 },
          ]),
        ],
        known,
      ),
    ).toEqual([
      'track test-track, segment 1: no page "concepts/nope" (a talk names a page under site/src/content/docs/)',
      'track test-track, segment 2: no lab "no-such-lab" (labs/no-such-lab/lab.yaml)',
      'track test-track, segment 3: lab lab-a has no task "four" (it has one, two, three)',
    ]);
  });

  it('fails lab minutes that disagree with the lab’s own', () => {
    expect(
      validateTracks(
        [
          track(
            [
              { kind: 'lab', lab: 'lab-a', minutes: 25 },
              { kind: 'lab', lab: 'lab-a', tasks: ['one', 'two', 'three'], minutes: 45 },
              { kind: 'lab', lab: 'lab-a', tasks: ['one'] },
              { kind: 'lab', lab: 'lab-a', tasks: ['one', 'two'], minutes: 30 },
            ],
            600,
          ),
        ],
        known,
      ),
    ).toEqual([
      'track test-track, segment 1: the whole of lab lab-a takes 30 min (its lab.yaml), not 25: leave "minutes" out or fix one of them',
      'track test-track, segment 2: the whole of lab lab-a takes 30 min (its lab.yaml), not 45: leave "minutes" out or fix one of them',
      'track test-track, segment 3: lab lab-a with some of its tasks needs its own "minutes"',
      'track test-track, segment 4: 30 min for part of lab lab-a, which takes 30 min in full (its lab.yaml): a part takes less',
    ]);
  });

  it('fails tasks out of the lab’s order or twice, and a second track with the same id', () => {
    const t = track([{ kind: 'lab', lab: 'lab-a', tasks: ['two', 'one', 'one'], minutes: 10 }]);
    expect(validateTracks([t, t], known)).toEqual([
      'track test-track, segment 1: lab lab-a lists a task twice',
      "track test-track, segment 1: lab lab-a's tasks must be in the lab's order (one, two, three)",
      'track test-track: two tracks have this id',
      'track test-track, segment 1: lab lab-a lists a task twice',
      "track test-track, segment 1: lab lab-a's tasks must be in the lab's order (one, two, three)",
    ]);
  });
});

describe('agenda clock times', () => {
  it('reads HH:MM and prints times after a start, wrapping past midnight', () => {
    expect(parseClock('09:00')).toBe(540);
    expect(parseClock('9:05')).toBe(545);
    expect(parseClock('24:00')).toBeUndefined();
    expect(parseClock('nine')).toBeUndefined();
    expect(clockAt(540, 95)).toBe('10:35');
    expect(clockAt(23 * 60 + 30, 45)).toBe('00:15');
    expect(duration(45)).toBe('45 min');
    expect(duration(180)).toBe('3 h');
    expect(duration(175)).toBe('2 h 55 min');
  });
});
