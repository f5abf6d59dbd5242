/**
 * The lab page's layout controls: the split between guide and terminal (a handle to drag, or to focus and move
 * with the arrow keys), the guide folded away, the course menu shown or not, and on a phone one view at a time.
 * The split, the guide and the menu are remembered in this browser. The terminal refits itself when its box
 * changes size (`<xenlab-terminal>` observes it), so nothing here talks to the terminal.
 */

/** The guide's share of the width (%), within these bounds. */
export const SPLIT_MIN = 20;
export const SPLIT_MAX = 70;
export const SPLIT_DEFAULT = 30;

const KEYS = {
  split: 'xenlab.lab.split',
  guide: 'xenlab.lab.guide',
  menu: 'xenlab.courseMenu',
} as const;

const read = (key: string): string | null => {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
};
const write = (key: string, value: string): void => {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Private mode: the layout is not remembered.
  }
};

/** A split value made safe: a number within bounds, else the default. */
export function clampSplit(value: number): number {
  if (!Number.isFinite(value)) return SPLIT_DEFAULT;
  return Math.round(Math.min(SPLIT_MAX, Math.max(SPLIT_MIN, value)) * 10) / 10;
}

/** The split after a key press on the handle (undefined: the key is not one of the handle's). */
export function splitAfterKey(current: number, key: string, shift: boolean): number | undefined {
  const step = shift ? 10 : 2;
  switch (key) {
    case 'ArrowLeft':
    case 'ArrowDown':
      return clampSplit(current - step);
    case 'ArrowRight':
    case 'ArrowUp':
      return clampSplit(current + step);
    case 'Home':
      return SPLIT_MIN;
    case 'End':
      return SPLIT_MAX;
    default:
      return undefined;
  }
}

type View = 'guide' | 'terminal' | 'tasks';

/** Wires one `.lab-layout`. */
export function setupLabLayout(layout: HTMLElement): void {
  const splitter = layout.querySelector<HTMLElement>('.lab-splitter');
  const guideToggle = layout.querySelector<HTMLButtonElement>('.lab-guide-toggle');
  const menuToggle = layout.querySelector<HTMLButtonElement>('.lab-menu-toggle');
  const viewTabs = [...layout.querySelectorAll<HTMLButtonElement>('.lab-view-tab')];

  let split = clampSplit(Number(read(KEYS.split) ?? SPLIT_DEFAULT));
  const applySplit = (value: number, save: boolean) => {
    split = clampSplit(value);
    layout.style.setProperty('--lab-guide', `${String(split)}%`);
    splitter?.setAttribute('aria-valuenow', String(Math.round(split)));
    splitter?.setAttribute('aria-valuetext', `guide ${String(Math.round(split))}% of the width`);
    if (save) write(KEYS.split, String(split));
  };
  applySplit(split, false);

  const setGuide = (open: boolean, save: boolean) => {
    layout.dataset.guide = open ? 'open' : 'closed';
    if (guideToggle) {
      guideToggle.setAttribute('aria-expanded', String(open));
      guideToggle.textContent = open ? 'Hide guide' : 'Show guide';
    }
    if (save) write(KEYS.guide, open ? 'open' : 'closed');
  };
  setGuide(read(KEYS.guide) !== 'closed', false);
  guideToggle?.addEventListener('click', () => {
    const open = layout.dataset.guide === 'closed';
    setGuide(open, true);
    if (open) splitter?.focus();
  });

  const setMenu = (open: boolean, save: boolean) => {
    if (open) document.documentElement.dataset.courseMenu = 'open';
    else delete document.documentElement.dataset.courseMenu;
    menuToggle?.setAttribute('aria-pressed', String(open));
    if (save) write(KEYS.menu, open ? 'open' : 'closed');
  };
  setMenu(read(KEYS.menu) === 'open', false);
  menuToggle?.addEventListener('click', () => {
    setMenu(menuToggle.getAttribute('aria-pressed') !== 'true', true);
  });

  if (splitter) {
    splitter.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        setGuide(false, true);
        guideToggle?.focus();
        return;
      }
      const next = splitAfterKey(split, ev.key, ev.shiftKey);
      if (next === undefined) return;
      ev.preventDefault();
      applySplit(next, true);
    });
    splitter.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0) return;
      ev.preventDefault();
      splitter.setPointerCapture(ev.pointerId);
      splitter.dataset.dragging = 'true';
      layout.dataset.dragging = 'true';
      const rect = layout.getBoundingClientRect();
      const move = (e: PointerEvent) => {
        applySplit(((e.clientX - rect.left) / rect.width) * 100, false);
      };
      const up = () => {
        splitter.removeEventListener('pointermove', move);
        splitter.removeEventListener('pointerup', up);
        splitter.removeEventListener('pointercancel', up);
        delete splitter.dataset.dragging;
        delete layout.dataset.dragging;
        applySplit(split, true);
      };
      splitter.addEventListener('pointermove', move);
      splitter.addEventListener('pointerup', up);
      splitter.addEventListener('pointercancel', up);
    });
    splitter.addEventListener('dblclick', () => {
      applySplit(SPLIT_DEFAULT, true);
    });
  }

  const show = (view: View) => {
    layout.dataset.view = view;
    for (const t of viewTabs) t.setAttribute('aria-selected', String(t.dataset.view === view));
    window.scrollTo({ top: 0 });
  };
  for (const tab of viewTabs)
    tab.addEventListener('click', () => {
      show((tab.dataset.view ?? 'guide') as View);
    });
  // On a phone, a guide's Run button shows the terminal it typed into.
  document.addEventListener('xenlab:run', () => {
    const views = layout.querySelector('.lab-views');
    if (views && getComputedStyle(views).display !== 'none' && layout.dataset.view === 'guide')
      show('terminal');
  });
}
