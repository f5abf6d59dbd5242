/**
 * The instructor's pacing controls (issue #16), beside the room: lock or unlock labs (one, or every lab after
 * one), send the room to a lab (a link on every learner's page) and a countdown in every terminal bar. The state
 * comes with the room (`pace` in /api/instructor/room, every 2 s); each control POSTs to /api/instructor/* and
 * shows the answer at once.
 * @module
 */
import { PATHS, type InstructorRoom, type RoomPace } from '@xenlab/sandbox/protocol';
import { mmss } from '../../terminal/pace.ts';

function need<T extends Element>(root: ParentNode, selector: string, type: new () => T): T {
  const el = root.querySelector(selector);
  if (!(el instanceof type)) throw new Error(`instructor page: missing ${selector}`);
  return el;
}

const root = need(document, '.room-pacing', HTMLElement);
const labsBody = need(root, '.room-pacing-table tbody', HTMLTableSectionElement);
const result = need(root, '.room-pacing-result', HTMLElement);
const timerForm = need(root, '.room-timer-form', HTMLFormElement);
const timerState = need(root, '.room-timer-state', HTMLElement);
const timerText = need(root, '.room-timer-text', HTMLElement);
const moveState = need(root, '.room-move-state', HTMLElement);
const moveText = need(root, '.room-move-text', HTMLElement);

type Labs = InstructorRoom['labs'];
let labs: Labs = [];
let pace: { value: RoomPace; receivedAt: number } | undefined;
/** What the lab table shows now (pacing revision and labs): redrawn only when it changes, keeping focus. */
let drawn = '';

const labName = (id: string): string => {
  const lab = labs.find((l) => l.id === id);
  return lab ? `Lab ${String(lab.order)}: ${lab.title}` : id;
};

async function post(path: string, body: unknown, done: string): Promise<void> {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  }).catch(() => undefined);
  if (!res) {
    result.textContent = 'Not done: the gateway did not answer.';
    return;
  }
  const answer = (await res.json().catch(() => ({}))) as RoomPace & { message?: string };
  if (!res.ok) {
    result.textContent = `Not done: ${answer.message ?? `HTTP ${String(res.status)}`}.`;
    return;
  }
  result.textContent = done;
  show(labs, answer);
}

const lock = (ids: string[], locked: boolean, done: string) =>
  post(PATHS.instructorLock, { labs: ids, locked }, done);

function button(text: string, cls: string, label: string, onClick: () => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = cls;
  b.textContent = text;
  b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

function drawLabs(p: RoomPace): void {
  const key = `${String(p.rev)}|${labs.map((l) => l.id).join(',')}`;
  if (key === drawn) return;
  drawn = key;
  labsBody.replaceChildren(
    ...labs.map((lab, i) => {
      const tr = document.createElement('tr');
      tr.dataset.lab = lab.id;
      const isLocked = p.locked.includes(lab.id);
      tr.dataset.locked = String(isLocked);
      const name = labName(lab.id);
      const th = Object.assign(document.createElement('th'), { scope: 'row', textContent: name });
      const state = Object.assign(document.createElement('td'), {
        className: 'room-lab-state',
        textContent: isLocked ? 'Locked' : 'Open',
      });
      if (p.moveTo?.lab === lab.id) state.append(' · the room is sent here');
      const actions = document.createElement('td');
      actions.className = 'room-lab-actions';
      actions.append(
        button(
          isLocked ? 'Unlock' : 'Lock',
          'room-lab-lock',
          `${isLocked ? 'Unlock' : 'Lock'} ${name}`,
          () => {
            void lock([lab.id], !isLocked, `${name} is ${isLocked ? 'open' : 'locked'}.`);
          },
        ),
      );
      const later = labs.slice(i + 1).map((l) => l.id);
      if (later.length)
        actions.append(
          ' ',
          button('Lock all after', 'room-lab-lock-after', `Lock every lab after ${name}`, () => {
            void lock(later, true, `Every lab after ${name} is locked.`);
          }),
        );
      actions.append(
        ' ',
        button('Send the room here', 'room-lab-move', `Send the room to ${name}`, () => {
          void post(
            PATHS.instructorMoveTo,
            { lab: lab.id },
            `Every learner's page now shows a link to ${name}.`,
          );
        }),
      );
      tr.append(th, state, actions);
      return tr;
    }),
  );
}

function tick(): void {
  const t = pace?.value.timer;
  if (!pace || !t) {
    timerState.hidden = true;
    return;
  }
  const left = Math.max(0, t.remainingMs - (performance.now() - pace.receivedAt));
  timerText.textContent = `${t.label ? `${t.label}: ` : ''}${left > 0 ? `${mmss(left)} left` : "time's up"} (of ${mmss(t.durationMs)})`;
  timerState.hidden = false;
}

/** Shows the room's pacing (from the room, or from the answer to a change). */
export function show(roomLabs: Labs, p: RoomPace | undefined): void {
  labs = roomLabs;
  if (!p) return;
  pace = { value: p, receivedAt: performance.now() };
  drawLabs(p);
  const move = p.moveTo;
  moveState.hidden = move === null;
  if (move)
    moveText.textContent = `The room is sent to Lab ${String(move.order)}: ${move.title} (since ${new Date(
      move.at,
    ).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}).`;
  tick();
}

timerForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const data = new FormData(timerForm);
  const minutes = Number(data.get('minutes'));
  const given = data.get('label');
  const label = typeof given === 'string' ? given : '';
  if (!Number.isFinite(minutes) || minutes <= 0) return;
  void post(
    PATHS.instructorTimer,
    { seconds: Math.round(minutes * 60), label },
    `Every terminal bar now counts down ${mmss(minutes * 60_000)}.`,
  );
});
need(root, '.room-timer-stop', HTMLButtonElement).addEventListener('click', () => {
  void post(PATHS.instructorTimer, { stop: true }, 'The countdown is stopped.');
});
need(root, '.room-move-clear', HTMLButtonElement).addEventListener('click', () => {
  void post(PATHS.instructorMoveTo, { lab: null }, 'Learners’ pages no longer show the link.');
});
window.setInterval(tick, 1000);
