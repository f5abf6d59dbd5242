/**
 * Fills the progress page's tables with this browser's learner's progress (`GET /api/progress`): each task done (with
 * when) or not yet, and the points per lab and per track. The page has every track's tasks already; tasks the learner
 * never attempted are simply absent from the answer. With no gateway behind the site (a static preview, `astro
 * preview`, a file server) the request fails or answers something else, and the page says there is no progress here.
 */
import { PATHS, ProgressResponse } from '@xenlab/sandbox/protocol';

const root = document.querySelector<HTMLElement>('.progress');
const status = root?.querySelector<HTMLElement>('.progress-status');

function say(state: 'offline' | 'error' | 'empty' | 'ready', text: string): void {
  if (root) root.dataset.state = state;
  if (status) status.textContent = text;
}

/** A time as the learner's browser shows dates, in a `<time>` a machine can read. */
function timeOf(ms: number): HTMLTimeElement {
  const t = document.createElement('time');
  const d = new Date(ms);
  t.dateTime = d.toISOString();
  t.textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  return t;
}

function render(p: ProgressResponse): void {
  for (const row of document.querySelectorAll<HTMLElement>('.progress-task')) {
    const task = p.labs[row.dataset.lab ?? '']?.tasks[row.dataset.task ?? ''];
    const cell = row.querySelector<HTMLElement>('.progress-done');
    row.dataset.pass = String(task?.passed ?? false);
    if (!cell) continue;
    cell.replaceChildren();
    if (task?.passed && task.passedAt !== null) cell.append('✓ ', timeOf(task.passedAt));
    else cell.textContent = 'not yet';
  }
  const earned = (scope: ParentNode) =>
    [...scope.querySelectorAll<HTMLElement>('.progress-task[data-pass="true"]')].reduce(
      (n, r) => n + Number(r.dataset.points ?? 0),
      0,
    );
  for (const lab of document.querySelectorAll<HTMLElement>('tbody[data-lab]')) {
    const out = lab.querySelector('.progress-lab-points');
    if (out) out.textContent = String(earned(lab));
  }
  for (const track of document.querySelectorAll<HTMLElement>('.progress-track')) {
    const out = track.querySelector('.progress-track-points');
    if (out) out.textContent = String(earned(track));
  }
}

async function load(): Promise<void> {
  let res: Response;
  try {
    res = await fetch(PATHS.progress, { credentials: 'same-origin', cache: 'no-store' });
  } catch {
    say('offline', 'No lab server answered: there is no progress to show in this preview of the course.');
    return;
  }
  // A gateway answers JSON; a static server answers its 404 page (or the like): no lab server behind this site.
  if (!(res.headers.get('content-type') ?? '').includes('application/json')) {
    say(
      'offline',
      'This is a preview of the course without a lab server, so there is no progress to show: progress is kept by the lab server (npm start, or your instructor’s link).',
    );
    return;
  }
  const parsed = ProgressResponse.safeParse(res.ok ? await res.json().catch(() => undefined) : undefined);
  if (!parsed.success) {
    say(
      'error',
      `The lab server’s answer could not be read (HTTP ${String(res.status)}). Reload to try again.`,
    );
    return;
  }
  render(parsed.data);
  const p = parsed.data;
  if (p.learner === null) {
    say('empty', 'Nothing done yet in this browser: open a lab and your progress appears here.');
    return;
  }
  const who = p.learner.name ? `${p.learner.name}’s progress` : 'Progress of this browser';
  const done = Object.values(p.labs).reduce(
    (n, l) => n + Object.values(l.tasks).filter((t) => t.passed).length,
    0,
  );
  say('ready', `${who}: ${String(done)} task${done === 1 ? '' : 's'} done.`);
}

void load();
