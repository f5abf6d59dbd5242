/**
 * Course tracks: the same course cut to the time an instructor has. A track is an ordered agenda, one list of
 * segments per day — a talk (a concept page), a lab (a lab id, all of it or some of its tasks, with the minutes it
 * takes) or a break — and a budget each day must fit. The agenda pages (`/tracks/<id>/`), the sidebar and the
 * progress page read this file; `validateTracks` is what the unit test (tracks.test.ts) and the build check.
 *
 * Rules (each broken one is a line of `validateTracks`):
 * - a day's segments add up to at most the track's `budgetMinutes`;
 * - a talk names a page under `site/src/content/docs/` (its slug, e.g. `concepts/xenapi`);
 * - a lab names a lab folder; `tasks`, when given, are task ids of that lab, in the manifest's order, each once;
 * - a whole lab (no `tasks`, or all of them) takes its manifest's `minutes`: leave `minutes` out or give that number;
 * - a subset of tasks gives its own `minutes`, fewer than the whole lab's.
 *
 * No Node imports: the agenda's clock script and the config import this module too.
 */

/** A talk: the concept page the instructor presents (and learners read). */
export interface TalkSegment {
  readonly kind: 'talk';
  /** The page's slug under src/content/docs, e.g. `concepts/xen-and-xcp`. */
  readonly page: string;
  readonly minutes: number;
  /** What this talk covers in this track, when it is not the whole page. */
  readonly note?: string;
}

/** Hands-on time in a lab. */
export interface LabSegment {
  readonly kind: 'lab';
  /** The lab id (its folder under labs/). */
  readonly lab: string;
  /** The tasks done in this slot, in the lab's order; all of them when absent. */
  readonly tasks?: readonly string[];
  /** Expected minutes: the manifest's `minutes` for the whole lab (may be left out), required for a subset. */
  readonly minutes?: number;
  readonly note?: string;
}

/** A break (coffee, lunch). */
export interface BreakSegment {
  readonly kind: 'break';
  readonly title: string;
  readonly minutes: number;
}

export type Segment = TalkSegment | LabSegment | BreakSegment;

/** One day of a track: its clock starts again at the track's start time. */
export interface TrackDay {
  readonly title?: string;
  readonly segments: readonly Segment[];
}

export interface Track {
  /** kebab-case; the page is `/tracks/<id>/`. */
  readonly id: string;
  readonly title: string;
  /** One sentence: who it is for and what it covers. */
  readonly summary: string;
  /** What the room needs (drivers, network), shown on the agenda. */
  readonly needs: string;
  /** Minutes each day may take, breaks included. */
  readonly budgetMinutes: number;
  /** Default start of each day, `HH:MM` (the reader can change it on the page). */
  readonly start: string;
  readonly days: readonly TrackDay[];
}

/** What validation and schedules need to know about a lab (from `labs.ts`, read at build time). */
export interface TrackLab {
  readonly id: string;
  readonly title: string;
  readonly minutes: number;
  readonly driver: string;
  readonly tasks: readonly { readonly id: string; readonly title: string; readonly points: number }[];
}

const c = (page: string) => `concepts/${page}`;

/**
 * The tracks, in the order the index lists them.
 *
 * The conference tutorial follows the seed tutorial's own order (Xen and XCP, cloud concepts, the API, PXE,
 * templates, performance, HA, networking, orchestration, the enterprise, Xen 4.2/4.3) in three hours with about 90
 * minutes of labs: only labs on the `local` driver (a room of laptops on conference wifi shares one gateway; the
 * nested-Xen labs need KVM hosts), each cut to the tasks that carry its point. The rest of each lab is homework;
 * progress is kept.
 */
export const TRACKS: readonly Track[] = [
  {
    id: 'conference-tutorial',
    title: 'Conference tutorial, 3 h',
    summary:
      'The tutorial as given at a conference: every topic as a short talk, with about 90 minutes of hands-on work on the labs that run in a browser.',
    needs: 'One gateway on the local driver; browsers only. No KVM needed.',
    budgetMinutes: 180,
    start: '09:00',
    days: [
      {
        segments: [
          { kind: 'talk', page: c('xen-and-xcp'), minutes: 8 },
          { kind: 'talk', page: c('cloud-concepts'), minutes: 7 },
          {
            kind: 'lab',
            lab: 'anatomy-of-a-pool',
            tasks: ['name-the-pool', 'count-the-parts', 'create-a-disk'],
            minutes: 15,
          },
          { kind: 'talk', page: c('xenapi'), minutes: 7 },
          { kind: 'lab', lab: 'the-xenapi', tasks: ['sessions-and-records', 'async-tasks'], minutes: 15 },
          {
            kind: 'talk',
            page: c('pxe-provisioning'),
            minutes: 6,
            note: 'Talk and demo: the PXE lab needs KVM.',
          },
          { kind: 'talk', page: c('templates-and-guests'), minutes: 5 },
          {
            kind: 'lab',
            lab: 'templates-and-guests',
            tasks: ['golden-template', 'install-from-template', 'provision-a-fleet'],
            minutes: 20,
          },
          { kind: 'break', title: 'Break', minutes: 15 },
          {
            kind: 'talk',
            page: c('performance'),
            minutes: 8,
            note: 'With a demo of the balancer repairing a hot host (its lab: homework).',
          },
          {
            kind: 'lab',
            lab: 'finding-the-bottleneck',
            tasks: ['which-host', 'move-one-away', 'cap-the-other'],
            minutes: 20,
          },
          { kind: 'talk', page: c('high-availability'), minutes: 8 },
          {
            kind: 'lab',
            lab: 'lose-a-host',
            tasks: ['heartbeat', 'priorities', 'plan', 'failover'],
            minutes: 20,
          },
          {
            kind: 'talk',
            page: c('advanced-networking'),
            minutes: 6,
            note: 'Bonds and VLANs lab: homework.',
          },
          { kind: 'talk', page: c('orchestration'), minutes: 5 },
          {
            kind: 'talk',
            page: c('orchestrators-and-the-xenapi'),
            minutes: 3,
            note: 'Demo: an Ansible playbook builds a tier on the pool (the orchestration lab: homework).',
          },
          { kind: 'talk', page: c('enterprise'), minutes: 5 },
          { kind: 'talk', page: c('xen-4-2-and-4-3'), minutes: 4 },
        ],
      },
    ],
  },
  {
    id: 'workshop-day',
    title: 'Workshop day',
    summary:
      'One full day (09:00–17:00): every topic, and every lab that runs in a browser done in full; PXE as a talk and demo.',
    needs: 'One gateway on the local driver; browsers only. No KVM needed.',
    budgetMinutes: 480,
    start: '09:00',
    days: [
      {
        segments: [
          { kind: 'talk', page: c('xen-and-xcp'), minutes: 15 },
          { kind: 'talk', page: c('cloud-concepts'), minutes: 10 },
          { kind: 'lab', lab: 'anatomy-of-a-pool' },
          { kind: 'talk', page: c('xenapi'), minutes: 10 },
          { kind: 'lab', lab: 'the-xenapi' },
          { kind: 'break', title: 'Break', minutes: 15 },
          { kind: 'talk', page: c('templates-and-guests'), minutes: 10 },
          { kind: 'lab', lab: 'templates-and-guests' },
          {
            kind: 'talk',
            page: c('pxe-provisioning'),
            minutes: 10,
            note: 'Talk and demo: the PXE lab needs KVM.',
          },
          { kind: 'break', title: 'Lunch', minutes: 60 },
          { kind: 'talk', page: c('performance'), minutes: 15 },
          { kind: 'lab', lab: 'finding-the-bottleneck' },
          { kind: 'lab', lab: 'workload-balancing' },
          { kind: 'talk', page: c('high-availability'), minutes: 15 },
          { kind: 'lab', lab: 'lose-a-host' },
          { kind: 'break', title: 'Break', minutes: 15 },
          { kind: 'talk', page: c('advanced-networking'), minutes: 10 },
          { kind: 'lab', lab: 'bonds-and-vlans' },
          { kind: 'talk', page: c('orchestration'), minutes: 10 },
          { kind: 'talk', page: c('enterprise'), minutes: 10 },
          { kind: 'talk', page: c('xen-4-2-and-4-3'), minutes: 10 },
        ],
      },
    ],
  },
  {
    id: 'full-course',
    title: 'Full course',
    summary:
      'Three days: every topic at length and every lab in full, including the real Xen host, PXE-booting a bare machine, NUMA and schedulers on Xen 4.2/4.3, Open vSwitch in dom0 and a DRBD/Pacemaker storage cluster that loses a node under a running guest.',
    needs:
      'A gateway that can run the qemu-xen driver (KVM on the host) for the five labs on emulated machines (four nested Xen hosts, one storage cluster); the rest on local.',
    budgetMinutes: 480,
    start: '09:00',
    days: [
      {
        title: 'Day 1: Xen, XCP and the API',
        segments: [
          { kind: 'talk', page: c('xen-and-xcp'), minutes: 30 },
          { kind: 'lab', lab: 'xen-under-the-hood' },
          { kind: 'talk', page: c('cloud-concepts'), minutes: 20 },
          { kind: 'lab', lab: 'anatomy-of-a-pool' },
          { kind: 'break', title: 'Break', minutes: 15 },
          { kind: 'talk', page: c('xenapi'), minutes: 25 },
          { kind: 'lab', lab: 'the-xenapi' },
          { kind: 'break', title: 'Lunch', minutes: 60 },
          { kind: 'talk', page: c('pxe-provisioning'), minutes: 20 },
          { kind: 'lab', lab: 'pxe-provisioning' },
          { kind: 'break', title: 'Break', minutes: 15 },
          { kind: 'talk', page: c('templates-and-guests'), minutes: 20 },
          { kind: 'lab', lab: 'templates-and-guests' },
          // Pools across data centers closes the day on pools (day 2 has no room left for 60 minutes).
          { kind: 'lab', lab: 'span-data-centers' },
        ],
      },
      {
        title: 'Day 2: running it — performance, availability, networks, clouds',
        segments: [
          { kind: 'talk', page: c('performance'), minutes: 25 },
          { kind: 'lab', lab: 'finding-the-bottleneck' },
          { kind: 'lab', lab: 'workload-balancing' },
          { kind: 'lab', lab: 'a-thousand-vms' },
          { kind: 'talk', page: c('high-availability'), minutes: 30 },
          { kind: 'lab', lab: 'lose-a-host' },
          { kind: 'break', title: 'Break', minutes: 15 },
          { kind: 'talk', page: c('advanced-networking'), minutes: 20 },
          { kind: 'lab', lab: 'bonds-and-vlans' },
          { kind: 'break', title: 'Lunch', minutes: 60 },
          { kind: 'talk', page: c('orchestration'), minutes: 30 },
          { kind: 'talk', page: c('orchestrators-and-the-xenapi'), minutes: 10 },
          { kind: 'lab', lab: 'orchestration' },
          { kind: 'talk', page: c('enterprise'), minutes: 25 },
          { kind: 'break', title: 'Break', minutes: 15 },
          { kind: 'talk', page: c('xen-4-2-and-4-3'), minutes: 20 },
        ],
      },
      // Days 1 and 2 are full (480 minutes each): the nested-Xen labs that came after them start a third day.
      {
        title: 'Day 3: inside the host, and storage that survives',
        segments: [
          { kind: 'lab', lab: 'xen-4-2-and-4-3' },
          { kind: 'lab', lab: 'open-vswitch' },
          { kind: 'break', title: 'Lunch', minutes: 60 },
          { kind: 'lab', lab: 'lose-a-storage-array' },
        ],
      },
    ],
  },
  {
    // Justification: the two labs on a real hypervisor need the qemu-xen driver (a nested Xen; KVM on the host to be
    // quick), which a conference room on one shared gateway rarely has. A room that does gets its own half day.
    id: 'hypervisor-half-day',
    title: 'Xen under the hood, half day',
    summary:
      'Three hours on the hypervisor itself: dom0, PV guests, schedulers and cpupools on a real Xen, then PXE-booting a bare host into Xen.',
    needs: 'A gateway that can run the qemu-xen driver, with KVM on the host (one nested Xen per learner).',
    budgetMinutes: 180,
    start: '13:30',
    days: [
      {
        segments: [
          { kind: 'talk', page: c('xen-and-xcp'), minutes: 20 },
          { kind: 'lab', lab: 'xen-under-the-hood' },
          { kind: 'break', title: 'Break', minutes: 15 },
          { kind: 'talk', page: c('pxe-provisioning'), minutes: 15 },
          { kind: 'lab', lab: 'pxe-provisioning' },
          {
            kind: 'talk',
            page: c('templates-and-guests'),
            minutes: 10,
            note: 'From a PXE-installed host to guests.',
          },
          { kind: 'talk', page: c('xen-4-2-and-4-3'), minutes: 20 },
        ],
      },
    ],
  },
];

/** A segment with what the pages show: its start (minutes after the day's start), length, title and link. */
export interface ScheduledSegment {
  readonly kind: Segment['kind'];
  /** Minutes after the day's start. */
  readonly offset: number;
  readonly minutes: number;
  readonly title: string;
  /** The page it links to (`/concepts/…/`, `/labs/…/`), none for a break. */
  readonly href?: string;
  readonly note?: string;
  /** Lab segments: the lab id, its tasks in this slot, whether that is all of them, and its driver. */
  readonly lab?: {
    readonly id: string;
    readonly tasks: TrackLab['tasks'];
    readonly whole: boolean;
    readonly driver: string;
  };
}

/** Minutes by kind, and in all. */
export interface Totals {
  readonly talk: number;
  readonly lab: number;
  readonly break: number;
  readonly total: number;
}

export interface ScheduledDay {
  readonly title?: string;
  readonly segments: readonly ScheduledSegment[];
  readonly totals: Totals;
}

export interface Schedule {
  readonly days: readonly ScheduledDay[];
  readonly totals: Totals;
}

/** The minutes a lab segment takes: its own, else the lab's. */
function labMinutes(s: LabSegment, lab: TrackLab | undefined): number {
  return s.minutes ?? lab?.minutes ?? 0;
}

const sum = (t: Totals, kind: Segment['kind'], minutes: number): Totals => ({
  ...t,
  [kind]: t[kind] + minutes,
  total: t.total + minutes,
});
const ZERO: Totals = { talk: 0, lab: 0, break: 0, total: 0 };

/**
 * A track's days with each segment's offset, title and link, and the totals. `pageTitle` names a concept page
 * (from the docs collection at build time); a lab's title, tasks and minutes come from `labs`.
 * @example
 * scheduleOf(TRACKS[0], labs, (slug) => titles.get(slug)).days[0].segments[1].offset // 8
 */
export function scheduleOf(
  track: Track,
  labs: ReadonlyMap<string, TrackLab>,
  pageTitle: (slug: string) => string | undefined,
): Schedule {
  let all = ZERO;
  const days = track.days.map((day): ScheduledDay => {
    let totals = ZERO;
    const segments = day.segments.map((s): ScheduledSegment => {
      const offset = totals.total;
      let out: ScheduledSegment;
      if (s.kind === 'talk') {
        out = {
          kind: 'talk',
          offset,
          minutes: s.minutes,
          title: pageTitle(s.page) ?? s.page,
          href: `/${s.page}/`,
          ...(s.note === undefined ? {} : { note: s.note }),
        };
      } else if (s.kind === 'lab') {
        const lab = labs.get(s.lab);
        const every = lab?.tasks ?? [];
        const tasks = s.tasks ? every.filter((t) => s.tasks?.includes(t.id)) : every;
        out = {
          kind: 'lab',
          offset,
          minutes: labMinutes(s, lab),
          title: lab?.title ?? s.lab,
          href: `/labs/${s.lab}/`,
          ...(s.note === undefined ? {} : { note: s.note }),
          lab: { id: s.lab, tasks, whole: tasks.length === every.length, driver: lab?.driver ?? 'local' },
        };
      } else {
        out = { kind: 'break', offset, minutes: s.minutes, title: s.title };
      }
      totals = sum(totals, s.kind, out.minutes);
      return out;
    });
    all = {
      talk: all.talk + totals.talk,
      lab: all.lab + totals.lab,
      break: all.break + totals.break,
      total: all.total + totals.total,
    };
    return { ...(day.title === undefined ? {} : { title: day.title }), segments, totals };
  });
  return { days, totals: all };
}

/** Every lab task a track has learners do: lab id → task ids (in the lab's order). */
export function tasksOf(track: Track, labs: ReadonlyMap<string, TrackLab>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const day of track.days)
    for (const s of day.segments) {
      if (s.kind !== 'lab') continue;
      const every = labs.get(s.lab)?.tasks.map((t) => t.id) ?? [];
      const want = new Set([...(out.get(s.lab) ?? []), ...(s.tasks ?? every)]);
      out.set(
        s.lab,
        every.filter((id) => want.has(id)),
      );
    }
  return out;
}

const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * What is wrong with the tracks, one sentence each naming the track, the day and the segment (empty when all is
 * well): budgets, unknown labs, pages and tasks, and lab minutes that disagree with the manifests.
 * @example
 * validateTracks(TRACKS, { labs, pages }) // []
 */
export function validateTracks(
  tracks: readonly Track[],
  known: { labs: ReadonlyMap<string, TrackLab>; pages: ReadonlySet<string> },
): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const track of tracks) {
    const t = `track ${track.id}`;
    if (!KEBAB.test(track.id)) problems.push(`${t}: the id must be kebab-case`);
    if (ids.has(track.id)) problems.push(`${t}: two tracks have this id`);
    ids.add(track.id);
    if (!Number.isInteger(track.budgetMinutes) || track.budgetMinutes <= 0)
      problems.push(`${t}: budgetMinutes must be a positive whole number`);
    if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(track.start)) problems.push(`${t}: start must be HH:MM (24 h)`);
    if (track.days.length === 0) problems.push(`${t}: it has no days`);
    track.days.forEach((day, d) => {
      const where = track.days.length > 1 ? `${t}, day ${String(d + 1)}` : t;
      let total = 0;
      if (day.segments.length === 0) problems.push(`${where}: the day has no segments`);
      day.segments.forEach((s, i) => {
        const at = `${where}, segment ${String(i + 1)}`;
        const positive = (m: number | undefined, what: string) => {
          if (m !== undefined && (!Number.isInteger(m) || m <= 0))
            problems.push(`${at}: ${what} must be a positive whole number of minutes`);
        };
        if (s.kind === 'talk') {
          positive(s.minutes, 'minutes');
          if (!known.pages.has(s.page))
            problems.push(`${at}: no page "${s.page}" (a talk names a page under site/src/content/docs/)`);
          total += s.minutes;
          return;
        }
        if (s.kind === 'break') {
          positive(s.minutes, 'minutes');
          total += s.minutes;
          return;
        }
        positive(s.minutes, 'minutes');
        const lab = known.labs.get(s.lab);
        if (!lab) {
          problems.push(`${at}: no lab "${s.lab}" (labs/${s.lab}/lab.yaml)`);
          total += s.minutes ?? 0;
          return;
        }
        const order = lab.tasks.map((x) => x.id);
        const tasks = s.tasks ?? order;
        if (s.tasks?.length === 0)
          problems.push(`${at}: lab ${s.lab} with no tasks (leave "tasks" out for all)`);
        for (const id of tasks)
          if (!order.includes(id))
            problems.push(`${at}: lab ${s.lab} has no task "${id}" (it has ${order.join(', ')})`);
        if (new Set(tasks).size !== tasks.length) problems.push(`${at}: lab ${s.lab} lists a task twice`);
        const positions = tasks.map((id) => order.indexOf(id)).filter((p) => p >= 0);
        if (positions.some((p, k) => k > 0 && p < (positions[k - 1] ?? -1)))
          problems.push(`${at}: lab ${s.lab}'s tasks must be in the lab's order (${order.join(', ')})`);
        const whole = order.every((id) => tasks.includes(id));
        if (whole && s.minutes !== undefined && s.minutes !== lab.minutes)
          problems.push(
            `${at}: the whole of lab ${s.lab} takes ${String(lab.minutes)} min (its lab.yaml), not ${String(s.minutes)}: leave "minutes" out or fix one of them`,
          );
        if (!whole && s.minutes === undefined)
          problems.push(`${at}: lab ${s.lab} with some of its tasks needs its own "minutes"`);
        if (!whole && s.minutes !== undefined && s.minutes >= lab.minutes)
          problems.push(
            `${at}: ${String(s.minutes)} min for part of lab ${s.lab}, which takes ${String(lab.minutes)} min in full (its lab.yaml): a part takes less`,
          );
        total += labMinutes(s, lab);
      });
      if (total > track.budgetMinutes)
        problems.push(
          `${where}: ${String(total)} min of segments do not fit the budget of ${String(track.budgetMinutes)} min (${String(total - track.budgetMinutes)} over)`,
        );
    });
  }
  return problems;
}

/** The sidebar's entries for the tracks: the index, then each agenda. */
export function trackSidebarItems(tracks: readonly Track[] = TRACKS): { label: string; link: string }[] {
  return [
    { label: 'All tracks', link: '/tracks/' },
    ...tracks.map((t) => ({ label: t.title, link: `/tracks/${t.id}/` })),
  ];
}
