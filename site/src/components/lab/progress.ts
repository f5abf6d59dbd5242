import { NAME_PATTERN, type LabView } from '@xenlab/sandbox/protocol';

/** Progress of one lab as the sidebar shows it, kept in this browser. */
interface Progress {
  score: number;
  max: number;
  done: number;
  tasks: number;
}

const key = (lab: string) => `xenlab.progress.${lab}`;

/** Remembers a lab's progress for the sidebar (called on every state the grader sends). */
export function saveProgress(view: LabView): void {
  const p: Progress = {
    score: view.score,
    max: view.maxScore,
    done: view.tasks.filter((t) => t.firstPassedAt !== undefined || t.pass).length,
    tasks: view.tasks.length,
  };
  try {
    localStorage.setItem(key(view.lab), JSON.stringify(p));
  } catch {
    // Private mode: the sidebar just shows no progress.
  }
  markSidebar();
}

/** The lab a link goes to (`/labs/<id>/`; the id as the gateway accepts it), or undefined for any other link. */
export function labIdOfLink(a: HTMLAnchorElement): string | undefined {
  const id = /\/labs\/([^/]+)\/?$/.exec(a.getAttribute('href') ?? '')?.[1];
  return id !== undefined && NAME_PATTERN.test(id) ? id : undefined;
}

/** Adds a progress badge to every sidebar link of a lab (`/labs/<id>/`). */
export function markSidebar(): void {
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a[href*="/labs/"]')) {
    const id = labIdOfLink(a);
    if (!id) continue;
    let p: Progress | undefined;
    try {
      p = JSON.parse(localStorage.getItem(key(id)) ?? 'null') as Progress | undefined;
    } catch {
      p = undefined;
    }
    let badge = a.querySelector<HTMLElement>('.lab-progress');
    if (!p) {
      badge?.remove();
      continue;
    }
    if (!badge) {
      badge = document.createElement('span');
      badge.className = 'lab-progress';
      a.append(badge);
    }
    const complete = p.done === p.tasks;
    badge.dataset.complete = String(complete);
    badge.textContent = complete ? '✓' : `${p.done}/${p.tasks}`;
    badge.title = `${p.score} of ${p.max} points`;
  }
}
