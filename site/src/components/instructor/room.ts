import { PATHS, type InstructorRoom, type RoomLearner } from '@xenlab/sandbox/protocol';
import { show as showPacing } from './pacing.ts';
import { show as showModes } from './modes.ts';

/** How often the room refreshes (ms): cheap (one query per table), and a room changes at typing speed. */
const REFRESH_MS = 2000;

function need<T extends Element>(root: ParentNode, selector: string, type: new () => T): T {
  const el = root.querySelector(selector);
  if (!(el instanceof type)) throw new Error(`instructor page: missing ${selector}`);
  return el;
}

const ago = (t: number): string => {
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  if (s < 60) return `${String(s)} s ago`;
  if (s < 3600) return `${String(Math.round(s / 60))} min ago`;
  return `${String(Math.round(s / 3600))} h ago`;
};
const clock = (t: number): string =>
  new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
/** A time on a task, short: 45s, 12m, 1h05. */
const took = (ms: number): string => {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${String(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${String(m)}m`;
  return `${String(Math.floor(m / 60))}h${String(m % 60).padStart(2, '0')}`;
};
/** The same in words, for titles. */
const tookWords = (ms: number): string => {
  const m = Math.round(ms / 60_000);
  return m < 1 ? 'under a minute' : m === 1 ? '1 minute' : `${String(m)} minutes`;
};

/** The lab and task a learner looks stuck on (issue #16), and why; null when they do not. */
function stuckOf(l: RoomLearner): { lab: string; task: string; why: readonly ('slow' | 'checks')[] } | null {
  for (const [lab, mine] of Object.entries(l.labs)) {
    const c = mine.current;
    if (c?.stuck?.length) return { lab, task: c.task, why: c.stuck };
  }
  return null;
}
const stuckWords = (why: readonly ('slow' | 'checks')[]): string =>
  why
    .map((w) => (w === 'slow' ? 'on this task more than twice the room’s median' : 'many failed Checks'))
    .join(' and ');

function cell(text: string, attrs: Record<string, string> = {}): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  for (const [k, v] of Object.entries(attrs)) td.setAttribute(k, v);
  return td;
}

const root = need(document, '.room', HTMLElement);
const status = need(root, '.room-status', HTMLElement);
const thead = need(root, '.room-table thead', HTMLTableSectionElement);
const tbody = need(root, '.room-table tbody', HTMLTableSectionElement);
const watchSection = need(root, '.room-watch', HTMLElement);
const watchTitle = need(root, '.room-watch-title', HTMLElement);
const watchSlot = need(root, '.room-watch-slot', HTMLElement);
const watchTemplate = need(root, '.room-watch-template', HTMLTemplateElement);
const broadcast = need(root, '.room-broadcast', HTMLFormElement);
const broadcastResult = need(root, '.room-broadcast-result', HTMLElement);
const filterName = need(root, '.room-filter-name', HTMLInputElement);
const filterLab = need(root, '.room-filter-lab', HTMLSelectElement);
const filterHelp = need(root, '.room-filter-help', HTMLInputElement);
const sortBy = need(root, '.room-sort', HTMLSelectElement);
const shown = need(root, '.room-shown', HTMLElement);

/** The last room the gateway sent: filters and sorting apply to it at once, without waiting for the next. */
let last: InstructorRoom | undefined;

const SVG = 'http://www.w3.org/2000/svg';
/** A raised hand, drawn (the emoji is a box in fonts that lack it). */
function handIcon(): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'room-hand');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'Hand raised');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute(
    'd',
    'M7 11V5.5a1.5 1.5 0 0 1 3 0V10 4a1.5 1.5 0 0 1 3 0v6-4.5a1.5 1.5 0 0 1 3 0V11v-2a1.5 1.5 0 0 1 3 0v6a7 7 0 0 1-7 7h-.5a7 7 0 0 1-5.6-2.8L3.3 14.6a1.5 1.5 0 0 1 2.3-1.9L7 14.2Z',
  );
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '1.6');
  path.setAttribute('stroke-linejoin', 'round');
  svg.append(path);
  return svg;
}

const displayName = (l: RoomLearner): string => l.name ?? l.id.slice(0, 8);
/** The latest sign of life: the page asking, or typing in a terminal. */
const lastActivity = (l: RoomLearner): number =>
  Math.max(l.lastSeenAt, ...l.environments.map((e) => e.lastActiveAt));
/** Points over the labs shown, as a share of what they could have. */
function progress(l: RoomLearner, labs: InstructorRoom['labs']): { points: number; max: number } {
  let points = 0;
  let max = 0;
  for (const lab of labs) {
    points += l.labs[lab.id]?.score ?? 0;
    max += lab.maxScore;
  }
  return { points, max };
}

type SortKey = 'help' | 'stuck' | 'name' | 'progress' | 'activity';

/** Which learners and labs the instructor asked to see, in the order asked. */
function view(room: InstructorRoom): { labs: InstructorRoom['labs']; learners: RoomLearner[] } {
  const lab = filterLab.value;
  const labs = lab ? room.labs.filter((l) => l.id === lab) : room.labs;
  const text = filterName.value.trim().toLowerCase();
  const learners = room.learners.filter(
    (l) =>
      (!text || displayName(l).toLowerCase().includes(text) || l.id.toLowerCase().startsWith(text)) &&
      (!filterHelp.checked || l.help !== null || stuckOf(l) !== null) &&
      (!lab || l.labs[lab] !== undefined || l.environments.some((e) => e.lab === lab) || l.help?.lab === lab),
  );
  const key: SortKey =
    (['help', 'stuck', 'name', 'progress', 'activity'] as const).find((k) => k === sortBy.value) ?? 'help';
  const byHelp = (a: RoomLearner, b: RoomLearner) =>
    (a.help?.at ?? Infinity) - (b.help?.at ?? Infinity) || a.joinedAt - b.joinedAt;
  const pct = (l: RoomLearner) => {
    const p = progress(l, labs);
    return p.max ? p.points / p.max : 0;
  };
  const compare: Record<SortKey, (a: RoomLearner, b: RoomLearner) => number> = {
    // Raised hands first, longest waiting on top; then everyone in the order they joined.
    help: byHelp,
    // Stuck first, the longest on their task on top; then as "help".
    stuck: (a, b) => stuckTime(b) - stuckTime(a) || byHelp(a, b),
    name: (a, b) =>
      displayName(a).localeCompare(displayName(b), undefined, { sensitivity: 'base' }) || byHelp(a, b),
    progress: (a, b) => pct(b) - pct(a) || byHelp(a, b),
    activity: (a, b) => lastActivity(b) - lastActivity(a) || byHelp(a, b),
  };
  return { labs, learners: learners.sort(compare[key]) };
}

/** The lab filter lists the course's labs (kept as chosen across refreshes). */
function fillLabs(room: InstructorRoom): void {
  const want = ['', ...room.labs.map((l) => l.id)].join('\n');
  const have = [...filterLab.options].map((o) => o.value).join('\n');
  if (want === have) return;
  const chosen = filterLab.value;
  filterLab.replaceChildren(
    new Option('All labs', ''),
    ...room.labs.map((l) => new Option(l.title, l.id, false, l.id === chosen)),
  );
}

async function removeLearner(l: RoomLearner): Promise<void> {
  if (
    !window.confirm(
      `Remove ${displayName(l)} from the room? Their terminals end and their progress is deleted; ` +
        'their browser has to join again.',
    )
  )
    return;
  const res = await fetch(PATHS.instructorRemove, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ learner: l.id }),
  }).catch(() => undefined);
  status.textContent = res?.ok
    ? `${displayName(l)} was removed from the room.`
    : `${displayName(l)} could not be removed (${res ? `HTTP ${String(res.status)}` : 'no answer'}).`;
  await refresh(false);
}

/** Shows one learner's running terminal, read-only, below the table. */
function watch(learner: RoomLearner, envId: string, lab: string, terminal: string): void {
  watchSlot.replaceChildren();
  const frag = watchTemplate.content.cloneNode(true) as DocumentFragment;
  const el = frag.querySelector<HTMLElement>('xenlab-terminal');
  if (!el) return;
  el.dataset.watch = envId;
  el.dataset.name = terminal;
  watchTitle.textContent = `${learner.name ?? learner.id} — ${lab} / ${terminal}`;
  watchSection.hidden = false;
  watchSlot.append(frag);
}
need(root, '.room-watch-close', HTMLButtonElement).addEventListener('click', () => {
  watchSlot.replaceChildren();
  watchSection.hidden = true;
});

/** How long a stuck learner has been on their task (-1 when not stuck), to sort by. */
function stuckTime(l: RoomLearner): number {
  const s = stuckOf(l);
  return s ? (l.labs[s.lab]?.current?.elapsedMs ?? 0) : -1;
}

function render(room: InstructorRoom, announce = true): void {
  last = room;
  fillLabs(room);
  showPacing(room.labs, room.pace);
  showModes(room);
  const { labs, learners } = view(room);
  const head = document.createElement('tr');
  const sub = document.createElement('tr');
  for (const h of ['Learner', 'Help', 'Progress', 'Last seen', 'Running'])
    head.append(
      Object.assign(document.createElement('th'), {
        textContent: h,
        rowSpan: 2,
        className: h === 'Learner' ? 'learner-h' : '',
        scope: 'col',
      }),
    );
  for (const lab of labs) {
    const th = document.createElement('th');
    th.colSpan = lab.tasks.length + 1;
    th.textContent = lab.title;
    th.dataset.lab = lab.id;
    head.append(th);
    sub.append(Object.assign(document.createElement('th'), { textContent: 'points' }));
    lab.tasks.forEach((t, i) => {
      const th = Object.assign(document.createElement('th'), {
        textContent: String(i + 1),
        title:
          t.medianMs == null
            ? `${t.title}: nobody has finished it yet`
            : `${t.title}: the room's median is ${tookWords(t.medianMs)} (${String(t.finished ?? 0)} finished)`,
      });
      // Not data-lab: that names a lab's own header (one per lab).
      th.className = 'task-h';
      th.dataset.ofLab = lab.id;
      th.dataset.task = t.id;
      if (t.medianMs != null) {
        th.dataset.medianMs = String(t.medianMs);
        th.append(
          Object.assign(document.createElement('span'), {
            className: 'median',
            textContent: `~${took(t.medianMs)}`,
          }),
        );
      }
      sub.append(th);
    });
  }
  thead.replaceChildren(head, sub);

  const rows = learners.map((l) => {
    const tr = document.createElement('tr');
    tr.dataset.learner = l.id;
    const name = document.createElement('th');
    name.scope = 'row';
    name.className = 'name';
    name.title = l.id;
    const nameText = Object.assign(document.createElement('span'), {
      className: 'name-text',
      textContent: displayName(l),
    });
    if (l.name === null) nameText.dataset.unnamed = 'true';
    const stuck = stuckOf(l);
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'room-remove';
    remove.textContent = 'Remove';
    remove.setAttribute('aria-label', `Remove ${displayName(l)} from the room`);
    remove.addEventListener('click', () => {
      void removeLearner(l);
    });
    name.append(nameText);
    if (stuck) {
      // Not the raised hand (which stays as it is): the room noticed, the learner did not ask.
      tr.dataset.stuck = 'true';
      const lab = room.labs.find((x) => x.id === stuck.lab);
      const task = lab?.tasks.find((x) => x.id === stuck.task);
      name.append(
        ' ',
        Object.assign(document.createElement('span'), {
          className: 'room-stuck',
          textContent: 'Stuck',
          title: `Looks stuck on ${lab?.title ?? stuck.lab} / ${task?.title ?? stuck.task}: ${stuckWords(stuck.why)}`,
        }),
      );
    }
    name.append(' ', remove);
    tr.append(name);
    const help = document.createElement('td');
    help.className = 'help';
    if (l.help) {
      help.dataset.raised = 'true';
      help.append(handIcon(), ` ${l.help.lab} · ${ago(l.help.at)}${l.help.note ? `: ${l.help.note}` : ''} `);
      const done = document.createElement('button');
      done.type = 'button';
      done.className = 'room-help-done';
      done.textContent = 'Done';
      done.addEventListener('click', () => {
        void fetch(PATHS.instructorHelpDone, {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ learner: l.id }),
        }).then(() => refresh());
      });
      help.append(done);
    }
    tr.append(help);
    const p = progress(l, labs);
    tr.append(
      cell(p.max ? `${String(Math.round((p.points / p.max) * 100))}%` : '–', {
        class: 'progress',
        'data-points': String(p.points),
        title: `${String(p.points)} of ${String(p.max)} points`,
      }),
    );
    tr.append(cell(ago(lastActivity(l)), { class: 'seen', 'data-at': String(lastActivity(l)) }));
    const running = document.createElement('td');
    running.className = 'running';
    for (const env of l.environments.filter((e) => e.state === 'running'))
      for (const t of env.terminals.filter((x) => x.running)) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'room-watch-btn';
        b.dataset.env = env.id;
        b.dataset.terminal = t.name;
        b.textContent = `${env.lab}/${t.name}`;
        b.title = `Watch (read only)${t.viewers > 0 ? ' — the learner has it open' : ''}`;
        b.addEventListener('click', () => {
          watch(l, env.id, env.lab, t.name);
        });
        running.append(b, ' ');
      }
    tr.append(running);
    for (const lab of labs) {
      const mine = l.labs[lab.id];
      tr.append(
        cell(`${String(mine?.score ?? 0)} / ${String(lab.maxScore)}`, { class: 'score', 'data-lab': lab.id }),
      );
      for (const t of lab.tasks) {
        const s = mine?.tasks[t.id];
        const pass = s?.passedAt != null;
        // Answers refused by the rate limit mean someone is guessing: a visible mark, the counts in the title.
        const refused = s?.answersRefused ?? 0;
        const current = mine?.current?.task === t.id ? mine.current : undefined;
        const mark = current ? took(current.elapsedMs) : pass ? '✓' : s?.skipped ? '↷' : s ? '…' : '';
        const td = cell(`${mark}${refused > 0 ? ' !' : ''}`, {
          class: refused > 0 ? 'task guessing' : 'task',
          'data-answers': String(s?.answerAttempts ?? 0),
          'data-refused': String(refused),
          'data-lab': lab.id,
          'data-task': t.id,
          'data-pass': String(pass),
          'data-tried': String(s !== undefined),
          'data-skipped': String(s?.skipped === true),
          'data-assisted': s?.assisted ?? '',
          title:
            `${t.title}: ` +
            (pass && s.passedAt != null
              ? `done at ${clock(s.passedAt)}`
              : s?.skipped
                ? 'skipped ahead (no points)'
                : s
                  ? `not yet (${String(s.attempts)} checks, ${String(s.hints)} hints)`
                  : 'not started') +
            (s?.assisted ? `, assisted: ${s.assisted}` : '') +
            (s?.answerAttempts ? `, ${String(s.answerAttempts)} answers given` : '') +
            (refused > 0 ? `, ${String(refused)} refused by the rate limit (guessing?)` : '') +
            (current
              ? `; on it for ${tookWords(current.elapsedMs)}` +
                (t.medianMs != null ? ` (room median ${tookWords(t.medianMs)})` : '') +
                (current.failedChecks ? `, ${String(current.failedChecks)} failed Checks` : '') +
                (current.stuck?.length ? ` — looks stuck: ${stuckWords(current.stuck)}` : '')
              : ''),
        });
        if (current) {
          td.dataset.current = 'true';
          td.dataset.elapsedMs = String(current.elapsedMs);
          if (current.stuck?.length) td.dataset.stuck = current.stuck.join(' ');
        }
        tr.append(td);
      }
    }
    return tr;
  });
  tbody.replaceChildren(...rows);
  shown.textContent =
    learners.length === room.learners.length
      ? ''
      : `Showing ${String(learners.length)} of ${String(room.learners.length)} learners.`;
  if (!announce) return;
  const now = room.learners.filter((l) => l.environments.some((e) => e.state === 'running')).length;
  const hands = room.learners.filter((l) => l.help).length;
  const stuck = room.learners.filter((l) => stuckOf(l)).length;
  status.textContent =
    `${String(room.learners.length)} learners, ${String(now)} working now` +
    (hands > 0 ? `, ${String(hands)} asking for help` : '') +
    (stuck > 0 ? `, ${String(stuck)} looking stuck` : '') +
    ` · updated ${clock(room.generatedAt)}`;
}

async function refresh(announce = true): Promise<void> {
  try {
    const res = await fetch(PATHS.instructorRoom, { credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 403) {
      status.textContent =
        'Instructors only: open the instructor link that xenlab serve printed when it started.';
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${String(res.status)}`);
    render((await res.json()) as InstructorRoom, announce);
  } catch (err) {
    status.textContent = `The room could not be loaded (${(err as Error).message}); retrying…`;
  }
}

broadcast.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const text = new FormData(broadcast).get('text');
  if (typeof text !== 'string') return;
  void fetch(PATHS.instructorBroadcast, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ text }),
  })
    .then(async (res) => {
      const body = (await res.json()) as { reached?: number; message?: string };
      broadcastResult.textContent = res.ok
        ? `Sent to ${String(body.reached ?? 0)} environments.`
        : (body.message ?? `HTTP ${String(res.status)}`);
      if (res.ok) broadcast.reset();
    })
    .catch(() => {
      broadcastResult.textContent = 'Not sent: the gateway did not answer.';
    });
});

for (const control of [filterName, filterLab, filterHelp, sortBy])
  control.addEventListener(control === filterName ? 'input' : 'change', () => {
    if (last) render(last, false);
  });

void refresh();
window.setInterval(() => {
  void refresh();
}, REFRESH_MS);
