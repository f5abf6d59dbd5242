/**
 * Clock times of an agenda: shared by the agenda pages at build time and by their start-time picker in the browser,
 * so both print the same times. No imports: it is bundled into the page's script.
 */

/** Minutes after midnight of a 24-hour `HH:MM` (`9:05` too), or undefined when it is not a time of day. */
export function parseClock(text: string): number | undefined {
  const m = /^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * 60 + Number(m[2]);
}

/**
 * The time of day `offset` minutes after `start` (minutes after midnight), as `HH:MM`; past midnight it wraps.
 * @example
 * clockAt(9 * 60, 95) // '10:35'
 */
export function clockAt(start: number, offset: number): string {
  const t = (((start + offset) % 1440) + 1440) % 1440;
  return `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
}

/** Minutes in words: `45 min`, `1 h`, `2 h 55 min`. */
export function duration(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h === 0) return `${String(m)} min`;
  return m === 0 ? `${String(h)} h` : `${String(h)} h ${String(m)} min`;
}
