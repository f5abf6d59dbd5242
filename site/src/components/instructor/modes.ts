/**
 * The instructor's room modes and capacity (issue #13), beside the pacing: per lab, how many environments this
 * machine runs at once (measured, or set with `--capacity`) and how many run and wait now, and the lab's mode —
 * individual, a shared demo (you drive one environment, learners watch read-only) or tables of N (learners share an
 * environment per table; who sits where is listed). The state comes with the room (`modes`, `capacity` in
 * /api/instructor/room, every 2 s); a change POSTs /api/instructor/mode.
 * @module
 */
import { PATHS, type InstructorRoom } from '@xenlab/sandbox/protocol';

type Mode =
  | { mode: 'individual' }
  | { mode: 'demo' }
  | { mode: 'tables'; size: number; tables?: { table: number; members: string[] }[] };

interface CapacityLab {
  lab: string;
  driver: string;
  limit: number;
  by: string;
  why: string;
  running: number;
  waiting: number;
}

/** What /api/instructor/room adds for this section. */
export interface RoomModes {
  modes?: Record<string, Mode>;
  capacity?: { labs: CapacityLab[] };
}

const root = document.querySelector('.room-modes');
const body = root?.querySelector('tbody');
const result = root?.querySelector('.room-modes-result');
let drawn = '';

async function setMode(lab: string, body: Record<string, unknown>, done: string): Promise<void> {
  const res = await fetch(PATHS.instructorMode, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ lab, ...body }),
  }).catch(() => undefined);
  if (!result) return;
  if (!res) {
    result.textContent = 'Not done: the gateway did not answer.';
    return;
  }
  if (!res.ok) {
    const answer = (await res.json().catch(() => ({}))) as { message?: string };
    result.textContent = `Not done: ${answer.message ?? `HTTP ${String(res.status)}`}.`;
    return;
  }
  result.textContent = done;
  drawn = '';
}

const modeText = (m: Mode): string =>
  m.mode === 'demo' ? 'Shared demo' : m.mode === 'tables' ? `Tables of ${String(m.size)}` : 'Individual';

/** Shows each lab's capacity and mode (redrawn only when something changed, so a control keeps its focus). */
export function show(given: InstructorRoom): void {
  const room = given as InstructorRoom & RoomModes;
  if (!body || !room.modes || !room.capacity) return;
  const modes = room.modes;
  const cap = new Map(room.capacity.labs.map((c) => [c.lab, c]));
  const key = JSON.stringify([modes, room.capacity.labs]);
  if (key === drawn) return;
  drawn = key;
  body.replaceChildren(
    ...room.labs.map((lab) => {
      const m = modes[lab.id] ?? { mode: 'individual' };
      const c = cap.get(lab.id);
      const name = `Lab ${String(lab.order)}: ${lab.title}`;
      const tr = document.createElement('tr');
      tr.dataset.lab = lab.id;
      tr.dataset.mode = m.mode;
      const th = Object.assign(document.createElement('th'), { scope: 'row', textContent: name });
      const capCell = document.createElement('td');
      capCell.className = 'room-mode-capacity';
      capCell.textContent = c
        ? `${String(c.running)} running of ${String(c.limit)} (${c.driver})${c.waiting ? `, ${String(c.waiting)} waiting` : ''}`
        : '';
      if (c) capCell.title = c.why;
      const modeCell = document.createElement('td');
      modeCell.className = 'room-mode-state';
      modeCell.textContent = modeText(m);
      if (m.mode === 'tables' && m.tables?.length) {
        const list = document.createElement('ul');
        list.className = 'room-mode-tables';
        for (const t of m.tables)
          list.append(
            Object.assign(document.createElement('li'), {
              textContent: `Table ${String(t.table)}: ${t.members.join(', ')}`,
            }),
          );
        modeCell.append(list);
      }
      const actions = document.createElement('td');
      const select = document.createElement('select');
      select.setAttribute('aria-label', `Mode of ${name}`);
      for (const [value, text] of [
        ['individual', 'Individual'],
        ['demo', 'Shared demo'],
        ['tables', 'Tables of…'],
      ] as const)
        select.append(Object.assign(document.createElement('option'), { value, textContent: text }));
      select.value = m.mode;
      const size = Object.assign(document.createElement('input'), {
        type: 'number',
        min: '2',
        max: '12',
        value: String(m.mode === 'tables' ? m.size : 3),
      });
      size.setAttribute('aria-label', `Learners per table in ${name}`);
      const apply = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Apply' });
      apply.setAttribute('aria-label', `Apply the mode of ${name}`);
      apply.addEventListener('click', () => {
        const chosen = select.value;
        const n = Number(size.value);
        void setMode(
          lab.id,
          chosen === 'tables' ? { mode: 'tables', size: n } : { mode: chosen },
          chosen === 'demo'
            ? `${name} is a shared demo: open it yourself to drive it; learners' pages watch.`
            : chosen === 'tables'
              ? `${name}: learners share an environment, ${String(n)} to a table.`
              : `${name}: every learner has their own environment.`,
        );
      });
      actions.append(select, ' ', size, ' ', apply);
      tr.append(th, capCell, modeCell, actions);
      return tr;
    }),
  );
}
