/**
 * The agenda's start-time field: every `<time data-offset>` of the agenda shows the start plus its offset. The start
 * comes from `?start=HH:MM` (so a shared link keeps it), else the track's default; changing the field updates the
 * times and the page's address (no reload). Bundled by Astro (the gateway's CSP pins script hashes: no inline
 * handlers).
 */
import { clockAt, parseClock } from '../../tracks-clock.ts';

function setUp(root: HTMLElement): void {
  const input = root.querySelector<HTMLInputElement>('.agenda-start-input');
  if (!input) return;
  const fallback = root.dataset.defaultStart ?? '09:00';
  const show = (text: string): boolean => {
    const start = parseClock(text);
    if (start === undefined) return false;
    for (const t of root.querySelectorAll<HTMLTimeElement>('time[data-offset]')) {
      const clock = clockAt(start, Number(t.dataset.offset ?? 0));
      t.textContent = clock;
      t.dateTime = clock;
    }
    return true;
  };
  const fromUrl = new URL(location.href).searchParams.get('start');
  if (fromUrl !== null && parseClock(fromUrl) !== undefined) {
    input.value = clockAt(parseClock(fromUrl) ?? 0, 0);
    show(input.value);
  }
  input.addEventListener('input', () => {
    if (!show(input.value)) return;
    const url = new URL(location.href);
    if (input.value === fallback) url.searchParams.delete('start');
    else url.searchParams.set('start', input.value);
    history.replaceState(history.state, '', url);
  });
  // Enter in the field must not reload the page.
  root.querySelector('form')?.addEventListener('submit', (ev) => {
    ev.preventDefault();
  });
}

for (const root of document.querySelectorAll<HTMLElement>('.agenda')) setUp(root);
