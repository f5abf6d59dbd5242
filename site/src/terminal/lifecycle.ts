/**
 * A `<xenlab-terminal>`'s life: {@link mount} makes the xterm.js terminal in the element's markup, wires the bar,
 * the keys, the banner, the panels and the raised hand to a {@link TerminalConnection} and connects; the function
 * it returns ends it all for good (the socket closes and nothing reconnects, every listener and timer goes, the
 * xterm.js instance is disposed).
 * @module
 */
import '@xterm/xterm/css/xterm.css';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import { createBanner } from './banner.ts';
import { TerminalConnection, type TerminalTarget } from './connection.ts';
import { connectionEvents } from './events.ts';
import { attachHelp } from './help.ts';
import { attachKeyboard, attachPaste, attachScreenReader } from './keyboard.ts';
import { announcer, findParts, type Parts } from './parts.ts';
import { startingPanels } from './starting.ts';

/**
 * Row height as a multiple of the font size. At 1.0 (xterm.js's default) a font's underscore can fall below the
 * cell and be painted over by the next row, so `$LAB_POOL_NAME` reads as `$LAB POOL NAME`; 1.2 keeps the
 * underscore of DejaVu Sans Mono, Menlo and Consolas inside the cell at every size.
 */
export const LINE_HEIGHT = 1.2;

/** The xterm.js terminal, opened in `screen`, and its fit addon. */
function openTerminal(screen: HTMLElement): { term: Terminal; fit: FitAddon } {
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    lineHeight: LINE_HEIGHT,
    scrollback: 5000,
    screenReaderMode: localStorage.getItem('xenlab.screenReader') === 'on',
    macOptionIsMeta: true,
    theme: { background: '#101418' },
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  // Links open in a new tab without access to this page (xterm.js security guide).
  term.loadAddon(
    new WebLinksAddon((_ev, uri) => {
      if (/^https?:\/\//i.test(uri)) window.open(uri, '_blank', 'noopener,noreferrer');
    }),
  );
  term.open(screen);
  return { term, fit };
}

/** What the element's data attributes ask for: a lab, a terminal name, or (instructor) an environment to watch. */
function targetOf(host: HTMLElement): TerminalTarget {
  return {
    ...(host.dataset.lab ? { lab: host.dataset.lab } : {}),
    ...(host.dataset.name ? { terminal: host.dataset.name } : {}),
    ...(host.dataset.watch ? { watch: host.dataset.watch } : {}),
  };
}

/** Keystrokes and sizes go to the connection; the course code form joins through it. */
function wireInput(
  term: Terminal,
  conn: TerminalConnection,
  { joinForm, joinError }: Pick<Parts, 'joinForm' | 'joinError'>,
  signal: AbortSignal,
): void {
  joinForm.addEventListener(
    'submit',
    (ev) => {
      ev.preventDefault();
      const data = new FormData(joinForm);
      joinError.textContent = '';
      const field = (k: string) => {
        const v = data.get(k);
        return typeof v === 'string' ? v : '';
      };
      void conn.join(field('code'), field('name')).then((err) => {
        if (err) joinError.textContent = err;
      });
    },
    { signal },
  );
  term.onData((d) => {
    conn.input(d);
  });
  term.onBinary((d) => {
    conn.input(d);
  });
  term.onResize(({ cols, rows }) => {
    conn.resize(cols, rows);
  });
}

/** Refits whenever the screen or the element changes size (a window resize, a resizable lab pane). */
function fitOnResize(
  host: HTMLElement,
  screen: HTMLElement,
  fit: FitAddon,
  signal: AbortSignal,
): ResizeObserver {
  let pending = 0;
  const observer = new ResizeObserver(() => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      if (host.dataset.readOnly !== 'true') fit.fit();
    });
  });
  observer.observe(screen);
  observer.observe(host);
  signal.addEventListener(
    'abort',
    () => {
      observer.disconnect();
      cancelAnimationFrame(pending);
    },
    { once: true },
  );
  return observer;
}

/**
 * Brings the terminal in `host`'s markup to life and connects it. Returns the teardown: the connection stops for
 * good (no reconnect), every listener and timer set up here goes, the xterm.js instance is disposed, and the
 * element says `data-state="closed"`.
 */
export function mount(host: HTMLElement): () => void {
  const parts = findParts(host);
  // Every listener and timer set up here goes when the element is torn down (it may be put back in later).
  const listening = new AbortController();
  const { signal } = listening;
  const { term, fit } = openTerminal(parts.screen);
  const say = announcer(parts.announce);
  attachKeyboard(term, host, parts, say);
  attachPaste(term, host, parts.screen, signal);
  fit.fit();
  attachScreenReader(term, parts.srButton, say, signal);
  const banner = createBanner(parts, signal);
  const starting = startingPanels(host, parts, term, signal);
  // Observations arrive when the page next renders, by when the connection below takes the sizes.
  const resizer = fitOnResize(host, parts.screen, fit, signal);
  const stopFitting = () => {
    resizer.disconnect();
  };
  const conn = new TerminalConnection(
    { cols: term.cols, rows: term.rows },
    connectionEvents({ host, parts, term, banner, starting, stopFitting }),
    targetOf(host),
  );
  parts.extend.addEventListener(
    'click',
    () => {
      conn.extend();
      banner.hide();
    },
    { signal },
  );
  const help = attachHelp(host, parts, term, say, signal);
  wireInput(term, conn, parts, signal);
  // For tests and curious learners: the terminal instance (to read its buffer) and the connection.
  Object.assign(host, { terminal: term, connection: conn });
  if (!host.dataset.watch) help.refresh();
  void conn.connect();
  return () => {
    resizer.disconnect();
    conn.stop();
    listening.abort();
    term.dispose();
    host.dataset.state = 'closed';
    Object.assign(host, { terminal: undefined, connection: undefined });
  };
}
