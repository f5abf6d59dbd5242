import '@xterm/xterm/css/xterm.css';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import { TerminalConnection } from './connection.ts';

const isMac = /Mac|iPhone|iPad/.test(navigator.platform);

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

/** `<xenlab-terminal>`: the terminal island of a lesson page. */
class XenlabTerminal extends HTMLElement {
  #conn: TerminalConnection | undefined;
  #observer: ResizeObserver | undefined;

  connectedCallback(): void {
    const screen = this.querySelector<HTMLElement>('.xt-screen');
    const status = this.querySelector<HTMLElement>('.xt-status');
    const srButton = this.querySelector<HTMLButtonElement>('.xt-sr');
    if (!screen || !status || !srButton || this.#conn) return;

    const term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
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
    term.attachCustomKeyEventHandler((ev) => clipboardKeys(term, ev));
    fit.fit();

    const setSr = (on: boolean) => {
      term.options.screenReaderMode = on;
      srButton.setAttribute('aria-pressed', String(on));
      localStorage.setItem('xenlab.screenReader', on ? 'on' : 'off');
    };
    setSr(term.options.screenReaderMode === true);
    srButton.addEventListener('click', () => {
      setSr(term.options.screenReaderMode !== true);
    });

    const conn = new TerminalConnection(
      { cols: term.cols, rows: term.rows },
      {
        output: (data, done) => {
          term.write(data, done);
        },
        message: (msg) => {
          if (msg.type === 'term.ready' && msg.notice) term.write(`\x1b[33m${msg.notice}\x1b[0m\r\n`);
          if (msg.type === 'error') term.write(`\r\n\x1b[31m[xenlab] ${msg.message}\x1b[0m\r\n`);
          if (msg.type === 'term.exit')
            term.write('\r\n\x1b[2m[shell exited — press Enter for a new one]\x1b[0m\r\n');
        },
        state: (state, detail) => {
          status.dataset.state = state;
          status.textContent = detail;
          this.dataset.state = state;
        },
      },
    );
    this.#conn = conn;
    term.onData((d) => {
      conn.input(d);
    });
    term.onBinary((d) => {
      conn.input(d);
    });
    term.onResize(({ cols, rows }) => {
      conn.resize(cols, rows);
    });
    let pending = 0;
    this.#observer = new ResizeObserver(() => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => {
        fit.fit();
      });
    });
    this.#observer.observe(screen);
    // For tests and curious learners: the terminal instance, to read its buffer.
    (this as unknown as { terminal: Terminal }).terminal = term;
    void conn.connect();
  }

  disconnectedCallback(): void {
    this.#observer?.disconnect();
    this.#conn?.stop();
  }
}

if (!customElements.get('xenlab-terminal')) customElements.define('xenlab-terminal', XenlabTerminal);
