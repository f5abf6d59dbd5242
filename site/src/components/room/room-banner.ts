/**
 * The room's banner (RoomBanner.astro): "Your instructor moved the room to Lab 5: Finding the bottleneck — Go",
 * from the page's pacing. Hidden on that lab's own page and once dismissed (remembered in this browser for that
 * move, so other pages do not show it again); a new move shows again.
 * @module
 */
import { onPace } from '../../terminal/pace.ts';

const DISMISSED = 'xenlab.roomMove.dismissed';

const banner = document.querySelector<HTMLElement>('.room-banner');
const text = banner?.querySelector<HTMLElement>('.room-banner-text');
const go = banner?.querySelector<HTMLAnchorElement>('.room-banner-go');
const dismiss = banner?.querySelector<HTMLButtonElement>('.room-banner-dismiss');

const dismissedAt = (): number => Number(localStorage.getItem(DISMISSED) ?? '0');
/** The lab this page is (`/labs/<id>/`), if it is one. */
const pageLab = /^\/labs\/([^/]+)\/?$/.exec(location.pathname)?.[1];

if (banner && text && go && dismiss) {
  let shownAt = 0;
  dismiss.addEventListener('click', () => {
    localStorage.setItem(DISMISSED, String(shownAt));
    banner.hidden = true;
  });
  onPace(({ pace }) => {
    const move = pace.moveTo;
    if (!move || move.lab === pageLab || move.at <= dismissedAt()) {
      banner.hidden = true;
      return;
    }
    shownAt = move.at;
    const sentence = `Your instructor moved the room to Lab ${String(move.order)}: ${move.title}`;
    if (text.textContent !== `${sentence} —`) text.textContent = `${sentence} —`;
    go.href = `/labs/${encodeURIComponent(move.lab)}/`;
    go.setAttribute('aria-label', `Go to Lab ${String(move.order)}: ${move.title}`);
    banner.hidden = false;
  });
}
