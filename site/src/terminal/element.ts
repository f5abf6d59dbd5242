import '@xterm/xterm/css/xterm.css';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import { PATHS, PLAYGROUND_LAB } from '@xenlab/sandbox/protocol';
import { TerminalConnection } from './connection.ts';

// userAgent rather than the deprecated navigator.platform; only used to pick the copy/paste keys.
const isMac = /Macintosh|Mac OS X|iPhone|iPad/.test(navigator.userAgent);

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

function need<K extends keyof HTMLElementTagNameMap>(
  root: Element,
  tag: K,
  cls: string,
): HTMLElementTagNameMap[K] {
  const el = root.querySelector(`${tag}.${cls}`);
  if (!el) throw new Error(`xenlab-terminal: missing ${tag}.${cls}`);
  return el as HTMLElementTagNameMap[K];
}

/** `<xenlab-terminal>`: the terminal island of a lesson page. */
class XenlabTerminal extends HTMLElement {
  #conn: TerminalConnection | undefined;
  #observer: ResizeObserver | undefined;

  connectedCallback(): void {
    if (this.#conn) return;
    const screen = need(this, 'div', 'xt-screen');
    const status = need(this, 'span', 'xt-status');
    const srButton = need(this, 'button', 'xt-sr');
    const banner = need(this, 'div', 'xt-banner');
    const bannerText = need(this, 'span', 'xt-banner-text');
    const extend = need(this, 'button', 'xt-extend');
    const joinForm = need(this, 'form', 'xt-join');
    const helpButton = need(this, 'button', 'xt-help');
    const helpForm = need(this, 'form', 'xt-help-form');
    const helpResult = need(this, 'span', 'xt-help-result');
    const joinError = need(this, 'span', 'xt-join-error');

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

    let countdown = 0;
    const hideBanner = () => {
      window.clearInterval(countdown);
      banner.hidden = true;
    };
    const showBanner = (text: string, withExtend: boolean) => {
      bannerText.textContent = text;
      extend.hidden = !withExtend;
      banner.hidden = false;
    };
    const showCountdown = (cullAt: number) => {
      window.clearInterval(countdown);
      const tick = () => {
        const s = Math.max(0, Math.round((cullAt - Date.now()) / 1000));
        const left = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
        showBanner(
          `You have been away a while: this lab pauses in ${left} to free the machine. Your files are kept.`,
          true,
        );
      };
      tick();
      countdown = window.setInterval(tick, 1000);
    };

    const conn = new TerminalConnection(
      { cols: term.cols, rows: term.rows },
      {
        output: (data, done) => {
          term.write(data, done);
        },
        reset: () => {
          term.reset();
        },
        message: (msg) => {
          switch (msg.type) {
            case 'term.ready':
              if (extend.hidden) hideBanner();
              if (msg.notice) term.write(`\x1b[33m${msg.notice}\x1b[0m\r\n`);
              if (msg.readOnly) {
                status.textContent = 'Watching (read only)';
                this.dataset.readOnly = 'true';
                helpButton.hidden = true;
                // The learner's size, not this window's: their lines wrap where they wrap for them.
                if (msg.size) {
                  this.#observer?.disconnect();
                  term.resize(msg.size.cols, msg.size.rows);
                }
              }
              break;
            case 'term.size':
              if (this.dataset.readOnly === 'true') term.resize(msg.cols, msg.rows);
              break;
            case 'env.message': {
              window.clearInterval(countdown);
              const text = `Instructor: ${msg.text}`;
              showBanner(text, false);
              // Shown for two minutes, unless something else took the banner meanwhile.
              window.setTimeout(() => {
                if (bannerText.textContent === text) hideBanner();
              }, 120_000);
              break;
            }
            case 'error':
              term.write(`\r\n\x1b[31m[xenlab] ${msg.message}\x1b[0m\r\n`);
              break;
            case 'term.exit':
              term.write('\r\n\x1b[2m[shell exited — press Enter for a new one]\x1b[0m\r\n');
              break;
            case 'env.idle':
              showCountdown(msg.cullAt);
              break;
            case 'env.active':
              hideBanner();
              break;
            case 'env.culled':
              window.clearInterval(countdown);
              showBanner('This lab was paused to free the machine. It comes back as you left it.', false);
              break;
            case 'pong':
              break;
          }
        },
        state: (state, detail) => {
          status.dataset.state = state;
          status.textContent = detail;
          this.dataset.state = state;
          joinForm.hidden = state !== 'join';
        },
      },
      {
        ...(this.dataset.lab ? { lab: this.dataset.lab } : {}),
        ...(this.dataset.name ? { terminal: this.dataset.name } : {}),
        ...(this.dataset.watch ? { watch: this.dataset.watch } : {}),
      },
    );
    this.#conn = conn;
    extend.addEventListener('click', () => {
      conn.extend();
      hideBanner();
    });
    // A raised hand: the instructor's page shows it (with the note) and can watch this terminal.
    const ask = async (body: { lab: string; note?: string; cancel?: boolean }): Promise<boolean> => {
      const res = await fetch(PATHS.help, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      }).catch(() => undefined);
      return res?.ok === true;
    };
    const lab = this.dataset.lab ?? PLAYGROUND_LAB;
    helpButton.addEventListener('click', () => {
      if (helpButton.getAttribute('aria-pressed') === 'true') {
        void ask({ lab, cancel: true }).then((ok) => {
          if (!ok) return;
          helpButton.setAttribute('aria-pressed', 'false');
          helpButton.textContent = 'Ask for help';
          helpResult.textContent = '';
        });
        return;
      }
      helpForm.hidden = !helpForm.hidden;
      if (!helpForm.hidden) helpForm.querySelector('input')?.focus();
    });
    helpForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const note = new FormData(helpForm).get('note');
      void ask({ lab, note: typeof note === 'string' ? note : '' }).then((ok) => {
        if (!ok) {
          helpResult.textContent = 'Not sent: the lab server did not answer. Try again.';
          return;
        }
        helpForm.hidden = true;
        helpForm.reset();
        helpButton.setAttribute('aria-pressed', 'true');
        helpButton.textContent = 'Hand raised — lower it';
        term.focus();
      });
    });
    joinForm.addEventListener('submit', (ev) => {
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
    });
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
    // For tests and curious learners: the terminal instance (to read its buffer) and the connection.
    Object.assign(this, { terminal: term, connection: conn });
    void conn.connect();
  }

  disconnectedCallback(): void {
    this.#observer?.disconnect();
    this.#conn?.stop();
  }
}

if (!customElements.get('xenlab-terminal')) customElements.define('xenlab-terminal', XenlabTerminal);
