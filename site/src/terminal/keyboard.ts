/**
 * The terminal's keys: copy and paste with the keys people expect, a way out of the terminal with the keyboard
 * (Escape then Tab, or Ctrl+M), pasted text cleaned before the shell sees it, and the screen reader mode toggle.
 * @module
 */
import type { Terminal } from '@xterm/xterm';
import { sanitizePaste } from './input.ts';
import type { Parts, Say } from './parts.ts';

// userAgent rather than the deprecated navigator.platform; only used to pick the copy/paste keys.
const isMac = /Macintosh|Mac OS X|iPhone|iPad/.test(navigator.userAgent);

/** Text read out when screen reader mode is turned on, and shown as the keyboard hint's title. */
export const KEYBOARD_HELP =
  'To leave the terminal with the keyboard, press Escape then Tab (or Shift+Tab). ' +
  'Ctrl+M switches Tab between the shell and moving focus.';

/** How long after Escape a Tab leaves the terminal instead of reaching the shell. */
const ESCAPE_TAB_MS = 2_000;

/**
 * Copy and paste with the keys people expect: on Linux and Windows Ctrl+Shift+C / Ctrl+Shift+V and
 * Ctrl+Insert / Shift+Insert (plain Ctrl+C must stay an interrupt); on macOS ⌘C / ⌘V, which reach the browser's
 * copy and paste events and xterm.js handles them. Returning false lets the browser act instead of the terminal.
 */
function clipboardKeys(term: Terminal, ev: KeyboardEvent): boolean {
  if (ev.type !== 'keydown') return true;
  const key = ev.key.toLowerCase();
  const copy = (ev.ctrlKey && ev.shiftKey && key === 'c') || (ev.ctrlKey && key === 'insert');
  const paste = (ev.ctrlKey && ev.shiftKey && key === 'v') || (ev.shiftKey && key === 'insert');
  if (copy && term.hasSelection()) {
    void navigator.clipboard.writeText(term.getSelection()).catch(() => undefined);
    ev.preventDefault();
    return false;
  }
  if (copy) return false;
  if (paste) return false; // the browser fires a paste event on xterm.js's textarea
  if (isMac && ev.metaKey && (key === 'c' || key === 'v')) return false;
  return true;
}

/** Is this key event Ctrl+M (the "Tab moves focus" toggle, as in VS Code and CodeMirror)? */
const isTabModeToggle = (ev: KeyboardEvent) =>
  ev.ctrlKey && !ev.shiftKey && !ev.altKey && !ev.metaKey && ev.key.toLowerCase() === 'm';

/**
 * Leaving the terminal with the keyboard (WCAG 2.1.2, no keyboard trap): Tab belongs to the shell (completion),
 * so Escape then Tab moves focus on, and Ctrl+M makes Tab move focus until pressed again. Returning false from the
 * handler leaves the key to the browser, which moves focus as usual. The hint in the bar describes the terminal.
 */
export function attachKeyboard(
  term: Terminal,
  host: HTMLElement,
  { keysHint, keysDesc }: Pick<Parts, 'keysHint' | 'keysDesc'>,
  say: Say,
): void {
  let tabMovesFocus = false;
  let escapeAt = -Infinity;
  const setTabMode = (on: boolean) => {
    tabMovesFocus = on;
    host.dataset.tabMovesFocus = String(on);
    if (keysHint) keysHint.dataset.tabMovesFocus = String(on);
    say(
      on
        ? 'Tab moves focus. Ctrl+M gives Tab back to the shell.'
        : 'Tab goes to the shell. Escape then Tab leaves the terminal.',
    );
  };
  term.attachCustomKeyEventHandler((ev) => {
    if (isTabModeToggle(ev)) {
      if (ev.type === 'keydown') setTabMode(!tabMovesFocus);
      ev.preventDefault();
      return false;
    }
    if (ev.key === 'Tab' && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
      if (tabMovesFocus || performance.now() - escapeAt < ESCAPE_TAB_MS) {
        if (ev.type === 'keydown') escapeAt = -Infinity;
        return false;
      }
    } else if (ev.type === 'keydown' && !['Shift', 'Control', 'Alt', 'Meta'].includes(ev.key)) {
      // Escape still reaches the shell (vi needs it); only the Tab right after it leaves.
      escapeAt = ev.key === 'Escape' ? performance.now() : -Infinity;
    }
    return clipboardKeys(term, ev);
  });
  // The description is the full sentence, in an element that is never hidden (the visible hint is, on a phone).
  const described = keysDesc ?? keysHint;
  if (described && term.textarea) {
    if (keysDesc) keysDesc.textContent = KEYBOARD_HELP;
    described.id ||= `xt-keys-${Math.random().toString(36).slice(2, 10)}`;
    term.textarea.setAttribute('aria-describedby', described.id);
  }
  if (keysHint) keysHint.title = KEYBOARD_HELP;
}

/**
 * Pasted text is cleaned before xterm.js brackets it (xterm.js 6 does not): a clipboard holding "ESC[201~" could
 * otherwise end the bracketed paste and run what follows as typed commands. Capture phase on the screen, so this
 * runs before xterm.js's own listeners on its textarea and element. A read-only (watching) terminal takes none.
 */
export function attachPaste(
  term: Terminal,
  host: HTMLElement,
  screen: HTMLElement,
  signal: AbortSignal,
): void {
  const onPaste = (ev: ClipboardEvent) => {
    ev.preventDefault();
    ev.stopImmediatePropagation();
    const text = ev.clipboardData?.getData('text/plain') ?? '';
    if (text && host.dataset.readOnly !== 'true') term.paste(sanitizePaste(text));
  };
  screen.addEventListener('paste', onPaste, { capture: true, signal });
}

/** The screen reader mode toggle in the bar: remembered in this browser, said aloud when changed. */
export function attachScreenReader(
  term: Terminal,
  srButton: HTMLButtonElement,
  say: Say,
  signal: AbortSignal,
): void {
  const setSr = (on: boolean, announceIt: boolean) => {
    term.options.screenReaderMode = on;
    srButton.setAttribute('aria-pressed', String(on));
    localStorage.setItem('xenlab.screenReader', on ? 'on' : 'off');
    if (announceIt) say(on ? `Screen reader mode on. ${KEYBOARD_HELP}` : 'Screen reader mode off.');
  };
  setSr(term.options.screenReaderMode === true, false);
  srButton.addEventListener(
    'click',
    () => {
      setSr(term.options.screenReaderMode !== true, true);
    },
    { signal },
  );
}
