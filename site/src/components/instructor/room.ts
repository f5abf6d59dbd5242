import { PATHS, type InstructorRoom, type RoomLearner } from '@xenlab/sandbox/protocol';

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

function render(room: InstructorRoom): void {
  const head = document.createElement('tr');
  const sub = document.createElement('tr');
  for (const h of ['Learner', 'Help', 'Last seen', 'Running'])
    head.append(Object.assign(document.createElement('th'), { textContent: h, rowSpan: 2 }));
  for (const lab of room.labs) {
    const th = document.createElement('th');
    th.colSpan = lab.tasks.length + 1;
    th.textContent = lab.title;
    th.dataset.lab = lab.id;
    head.append(th);
    sub.append(Object.assign(document.createElement('th'), { textContent: 'points' }));
    lab.tasks.forEach((t, i) => {
      sub.append(Object.assign(document.createElement('th'), { textContent: String(i + 1), title: t.title }));
    });
  }
  thead.replaceChildren(head, sub);

  // Raised hands first, longest waiting on top; then everyone in the order they joined.
  const ordered = [...room.learners].sort(
    (a, b) => (a.help?.at ?? Infinity) - (b.help?.at ?? Infinity) || a.joinedAt - b.joinedAt,
  );
  const rows = ordered.map((l) => {
    const tr = document.createElement('tr');
    tr.dataset.learner = l.id;
    tr.append(cell(l.name ?? l.id.slice(0, 8), { class: 'name', title: l.id }));
    const help = document.createElement('td');
    help.className = 'help';
    if (l.help) {
      help.dataset.raised = 'true';
      help.append(`✋ ${l.help.lab} · ${ago(l.help.at)}${l.help.note ? `: ${l.help.note}` : ''} `);
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
        }).then(refresh);
      });
      help.append(done);
    }
    tr.append(help);
    tr.append(cell(ago(l.lastSeenAt), { class: 'seen' }));
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
    for (const lab of room.labs) {
      const mine = l.labs[lab.id];
      tr.append(
        cell(`${String(mine?.score ?? 0)} / ${String(lab.maxScore)}`, { class: 'score', 'data-lab': lab.id }),
      );
      for (const t of lab.tasks) {
        const s = mine?.tasks[t.id];
        const pass = s?.passedAt != null;
        const td = cell(pass ? '✓' : s ? '…' : '', {
          class: 'task',
          'data-lab': lab.id,
          'data-task': t.id,
          'data-pass': String(pass),
          'data-tried': String(s !== undefined),
          title:
            `${t.title}: ` +
            (pass && s.passedAt != null
              ? `done at ${clock(s.passedAt)}`
              : s
                ? `not yet (${String(s.attempts)} checks, ${String(s.hints)} hints)`
                : 'not started') +
            (s?.solutionShown ? ', solution shown' : ''),
        });
        tr.append(td);
      }
    }
    return tr;
  });
  tbody.replaceChildren(...rows);
  const now = room.learners.filter((l) => l.environments.some((e) => e.state === 'running')).length;
  const hands = room.learners.filter((l) => l.help).length;
  status.textContent =
    `${String(room.learners.length)} learners, ${String(now)} working now` +
    (hands > 0 ? `, ${String(hands)} asking for help` : '') +
    ` · updated ${clock(room.generatedAt)}`;
}

async function refresh(): Promise<void> {
  try {
    const res = await fetch(PATHS.instructorRoom, { credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 403) {
      status.textContent =
        'Instructors only: open the instructor link that xenlab serve printed when it started.';
      return;
    }
    if (!res.ok) throw new Error(`HTTP ${String(res.status)}`);
    render((await res.json()) as InstructorRoom);
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

void refresh();
window.setInterval(() => {
  void refresh();
}, REFRESH_MS);
