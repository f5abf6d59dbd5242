import '@xterm/xterm/css/xterm.css';
import { FitAddon } from '@xterm/addon-fit';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal } from '@xterm/xterm';
import { MeResponse, PATHS, PLAYGROUND_LAB, PERMANENT_ERRORS } from '@xenlab/sandbox/protocol';
import type { ServerMessage } from '@xenlab/sandbox/protocol';
import { inlineNodes } from '../components/lab/inline-text.ts';
import { TerminalConnection } from './connection.ts';
import { sanitizePaste } from './input.ts';

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

/** Is this key event Ctrl+M (the "Tab moves focus" toggle, as in VS Code and CodeMirror)? */
const isTabModeToggle = (ev: KeyboardEvent) =>
  ev.ctrlKey && !ev.shiftKey && !ev.altKey && !ev.metaKey && ev.key.toLowerCase() === 'm';

/** How long after Escape a Tab leaves the terminal instead of reaching the shell. */
const ESCAPE_TAB_MS = 2_000;

/** Text read out when screen reader mode is turned on, and shown as the keyboard hint's title. */
export const KEYBOARD_HELP =
  'To leave the terminal with the keyboard, press Escape then Tab (or Shift+Tab). ' +
  'Ctrl+M switches Tab between the shell and moving focus.';

/**
 * Row height as a multiple of the font size. At 1.0 (xterm.js's default) a font's underscore can fall below the
 * cell and be painted over by the next row, so `$LAB_POOL_NAME` reads as `$LAB POOL NAME`; 1.2 keeps the
 * underscore of DejaVu Sans Mono, Menlo and Consolas inside the cell at every size.
 */
export const LINE_HEIGHT = 1.2;

/** How often a raised hand is checked while it is up (the instructor may have marked it done). */
const HELP_POLL_MS = 5_000;

/** What each driver starts, for "Starting a nested Xen host…". */
const STARTS: Record<string, string> = {
  'qemu-xen': 'a nested Xen host',
  docker: 'a lab container',
  local: 'the lab',
};

/** "45 s", "2 min 5 s". */
export function formatSeconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 120
    ? `${String(Math.floor(s / 60))} min${s % 60 ? ` ${String(s % 60)} s` : ''}`
    : `${String(s)} s`;
}

type StartPhase = Extract<ServerMessage, { type: 'env.starting' }>;

/**
 * The lines shown while an environment comes up: what is starting and about how long is left (the current
 * phase's ETA), and how long the page has been waiting.
 * @example
 * startingText({ driver: 'qemu-xen', what: 'booting a Xen host', startedAt: t, etaMs: 90_000 }, t, t + 20_000)
 * // { title: 'Starting a nested Xen host… about 70 s', detail: 'booting a Xen host · 20 s elapsed', fraction: 0.22 }
 */
export function startingText(
  phase: Omit<StartPhase, 'type'> | undefined,
  since: number,
  now: number,
): { title: string; detail: string; fraction: number | undefined } {
  const elapsed = `${formatSeconds(now - since)} elapsed`;
  if (!phase) return { title: 'Starting the environment…', detail: elapsed, fraction: undefined };
  const noun = STARTS[phase.driver] ?? (phase.driver ? `the ${phase.driver} environment` : 'the environment');
  let title = `Starting ${noun}…`;
  let fraction: number | undefined;
  if (phase.etaMs !== undefined && phase.etaMs > 0) {
    const left = phase.startedAt + phase.etaMs - now;
    title += left > 0 ? ` about ${formatSeconds(left)}` : ' taking longer than usual';
    fraction = Math.min(0.99, Math.max(0, (now - phase.startedAt) / phase.etaMs));
  }
  return { title, detail: `${phase.what} · ${elapsed}`, fraction };
}

/** A permanent error's text without its stable code prefix, and the code. */
function splitCode(message: string): { code: string | undefined; text: string } {
  const m = /^([A-Z][A-Z0-9_]+): ([\s\S]*)$/.exec(message);
  const text = m?.[2] ?? message;
  return { code: m?.[1], text: text.charAt(0).toUpperCase() + text.slice(1) };
}

/** A part of the markup, made when an older page's markup lacks it. */
function part(root: Element, before: Element, cls: string, html: string): HTMLElement {
  const found = root.querySelector<HTMLElement>(`.${cls}`);
  if (found) return found;
  const tpl = document.createElement('template');
  tpl.innerHTML = html;
  const el = tpl.content.firstElementChild as HTMLElement;
  before.before(el);
  return el;
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
  /** Undoes everything connectedCallback set up (timers, listeners, the terminal itself). */
  #teardown: (() => void) | undefined;

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
    // Newer parts of the markup: optional, so an older page's markup still works.
    const announce = this.querySelector<HTMLElement>('.xt-announce');
    const keysHint = this.querySelector<HTMLElement>('.xt-keys');
    const keysDesc = this.querySelector<HTMLElement>('.xt-keys-desc');
    // While the environment comes up: what starts, the time left and the time elapsed (not a live region: the
    // status line says it once per phase).
    const progress = part(
      this,
      screen,
      'xt-progress',
      '<div class="xt-progress" hidden><span class="xt-progress-title"></span> ' +
        '<span class="xt-progress-detail"></span><progress class="xt-progress-bar" max="1"></progress></div>',
    );
    // The lab cannot run on this machine: which driver, why, what to do.
    const unavailable = part(
      this,
      screen,
      'xt-unavailable',
      '<div class="xt-unavailable" role="alert" hidden><strong class="xt-unavailable-title"></strong>' +
        '<p class="xt-unavailable-text"></p><p class="xt-unavailable-code"></p></div>',
    );
    const cleanups: (() => void)[] = [];
    // Every listener set up here goes when the element is torn down (it may be put back in later).
    const listening = new AbortController();
    const { signal } = listening;
    cleanups.push(() => {
      listening.abort();
    });

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
    const say = (text: string) => {
      if (!announce) return;
      // Cleared first, so the same sentence twice is read twice.
      announce.textContent = '';
      window.setTimeout(() => {
        announce.textContent = text;
      }, 50);
    };

    // Leaving the terminal with the keyboard (WCAG 2.1.2, no keyboard trap): Tab belongs to the shell
    // (completion), so Escape then Tab moves focus on, and Ctrl+M makes Tab move focus until pressed again.
    // Returning false from the handler leaves the key to the browser, which moves focus as usual.
    let tabMovesFocus = false;
    let escapeAt = -Infinity;
    const setTabMode = (on: boolean) => {
      tabMovesFocus = on;
      this.dataset.tabMovesFocus = String(on);
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

    // Pasted text is cleaned before xterm.js brackets it (xterm.js 6 does not): a clipboard holding
    // "ESC[201~" could otherwise end the bracketed paste and run what follows as typed commands. Capture phase on
    // the screen, so this runs before xterm.js's own listeners on its textarea and element.
    const onPaste = (ev: ClipboardEvent) => {
      ev.preventDefault();
      ev.stopImmediatePropagation();
      const text = ev.clipboardData?.getData('text/plain') ?? '';
      if (text && this.dataset.readOnly !== 'true') term.paste(sanitizePaste(text));
    };
    screen.addEventListener('paste', onPaste, { capture: true, signal });
    fit.fit();

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

    let countdown = 0;
    cleanups.push(() => {
      window.clearInterval(countdown);
    });
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

    // The environment coming up: the current phase (from env.starting) and when the page began waiting.
    let phase: StartPhase | undefined;
    let waitingSince: number | undefined;
    let progressTimer = 0;
    cleanups.push(() => {
      window.clearInterval(progressTimer);
    });
    const renderProgress = () => {
      const now = Date.now();
      const since = Math.min(waitingSince ?? now, phase?.startedAt ?? now);
      const { title, detail, fraction } = startingText(phase, since, now);
      const [titleEl, detailEl, bar] = ['.xt-progress-title', '.xt-progress-detail', '.xt-progress-bar'].map(
        (sel) => progress.querySelector<HTMLElement>(sel),
      );
      if (titleEl) titleEl.textContent = title;
      if (detailEl) detailEl.textContent = detail;
      if (bar instanceof HTMLProgressElement) {
        if (fraction === undefined) bar.removeAttribute('value');
        else bar.value = fraction;
      }
      return title;
    };
    const showProgress = () => {
      waitingSince ??= Date.now();
      progress.hidden = false;
      this.dataset.starting = phase?.driver ?? '';
      window.clearInterval(progressTimer);
      progressTimer = window.setInterval(renderProgress, 1000);
      return renderProgress();
    };
    const hideProgress = () => {
      window.clearInterval(progressTimer);
      progress.hidden = true;
      delete this.dataset.starting;
    };
    const showUnavailable = (message: string | undefined) => {
      hideProgress();
      const { code, text } = splitCode(message ?? 'The lab server cannot run this lab on this machine.');
      const title = unavailable.querySelector('.xt-unavailable-title');
      const body = unavailable.querySelector('.xt-unavailable-text');
      const codeEl = unavailable.querySelector('.xt-unavailable-code');
      if (title) title.textContent = 'This lab cannot run on this machine';
      body?.replaceChildren(...inlineNodes(text));
      if (codeEl)
        codeEl.textContent = code
          ? `${code} · reload this page once it is fixed`
          : 'Reload this page once it is fixed.';
      unavailable.hidden = false;
      term.options.cursorBlink = false;
      term.options.disableStdin = true;
    };
    let refusal: string | undefined;

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
              hideProgress();
              phase = undefined;
              waitingSince = undefined;
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
              if (PERMANENT_ERRORS.includes(msg.code)) {
                // Said once, plainly, where the learner looks; the socket closes next and nothing retries.
                refusal = msg.message;
                term.write(
                  `\r\n\x1b[1;31m[xenlab] This lab cannot run on this machine.\x1b[0m\r\n` +
                    `\x1b[31m${msg.message}\x1b[0m\r\n\x1b[2mReload this page once it is fixed.\x1b[0m\x1b[?25l\r\n`,
                );
                break;
              }
              term.write(`\r\n\x1b[31m[xenlab] ${msg.message}\x1b[0m\r\n`);
              break;
            case 'env.starting':
              phase = msg;
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
          if (state === 'starting') {
            // Read out once per phase; the panel above the screen counts the seconds.
            status.textContent = showProgress();
          } else if (state === 'unavailable') {
            showUnavailable(refusal);
            status.textContent = 'This lab cannot run on this machine';
          } else if (state !== 'connecting') hideProgress();
        },
      },
      {
        ...(this.dataset.lab ? { lab: this.dataset.lab } : {}),
        ...(this.dataset.name ? { terminal: this.dataset.name } : {}),
        ...(this.dataset.watch ? { watch: this.dataset.watch } : {}),
      },
    );
    this.#conn = conn;
    extend.addEventListener(
      'click',
      () => {
        conn.extend();
        hideBanner();
      },
      { signal },
    );
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
    // The hand's state is the gateway's (the instructor marks it done, another tab lowers it): the button shows it
    // on load, and while the hand is up it is checked every few seconds and whenever the page comes back.
    let helpPoll = 0;
    const showHand = (raised: boolean, doneByInstructor = false) => {
      const was = helpButton.getAttribute('aria-pressed') === 'true';
      helpButton.setAttribute('aria-pressed', String(raised));
      helpButton.textContent = raised ? 'Hand raised — lower it' : 'Ask for help';
      this.dataset.help = raised ? 'raised' : 'lowered';
      window.clearInterval(helpPoll);
      if (raised) helpPoll = window.setInterval(refreshHand, HELP_POLL_MS);
      if (was && !raised && doneByInstructor) {
        helpResult.textContent = 'The instructor marked your question done.';
        say('The instructor marked your question done.');
      } else if (!raised) helpResult.textContent = '';
    };
    const refreshHand = () => {
      if (this.dataset.readOnly === 'true' || this.dataset.watch) return;
      void fetch(PATHS.me, { credentials: 'same-origin', cache: 'no-store' })
        .then(async (res) => (res.ok ? MeResponse.safeParse(await res.json()) : undefined))
        .then((me) => {
          // An older gateway does not say: leave the button as it is.
          if (!me?.success || me.data.help === undefined || !this.isConnected) return;
          const raised = me.data.help !== null;
          if (raised !== (helpButton.getAttribute('aria-pressed') === 'true')) showHand(raised, !raised);
        })
        .catch(() => undefined);
    };
    const onVisible = () => {
      if (document.visibilityState === 'visible' && helpButton.getAttribute('aria-pressed') === 'true')
        refreshHand();
    };
    document.addEventListener('visibilitychange', onVisible, { signal });
    cleanups.push(() => {
      window.clearInterval(helpPoll);
    });
    helpButton.addEventListener(
      'click',
      () => {
        if (helpButton.getAttribute('aria-pressed') === 'true') {
          void ask({ lab, cancel: true }).then((ok) => {
            if (ok) showHand(false);
          });
          return;
        }
        helpForm.hidden = !helpForm.hidden;
        if (!helpForm.hidden) helpForm.querySelector('input')?.focus();
      },
      { signal },
    );
    helpForm.addEventListener(
      'submit',
      (ev) => {
        ev.preventDefault();
        const note = new FormData(helpForm).get('note');
        void ask({ lab, note: typeof note === 'string' ? note : '' }).then((ok) => {
          if (!ok) {
            helpResult.textContent = 'Not sent: the lab server did not answer. Try again.';
            return;
          }
          helpForm.hidden = true;
          helpForm.reset();
          helpResult.textContent = '';
          showHand(true);
          term.focus();
        });
      },
      { signal },
    );
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
    // Refits whenever the screen or the element changes size (a window resize, a resizable lab pane).
    let pending = 0;
    this.#observer = new ResizeObserver(() => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => {
        if (this.dataset.readOnly !== 'true') fit.fit();
      });
    });
    this.#observer.observe(screen);
    this.#observer.observe(this);
    cleanups.push(() => {
      cancelAnimationFrame(pending);
    });
    // For tests and curious learners: the terminal instance (to read its buffer) and the connection.
    Object.assign(this, { terminal: term, connection: conn });
    this.#teardown = () => {
      this.#observer?.disconnect();
      this.#observer = undefined;
      conn.stop();
      for (const f of cleanups) f();
      term.dispose();
      this.#conn = undefined;
      this.#teardown = undefined;
      this.dataset.state = 'closed';
      Object.assign(this, { terminal: undefined, connection: undefined });
    };
    if (!this.dataset.watch) refreshHand();
    void conn.connect();
  }

  /**
   * Taken out of the page: the connection stops for good (no reconnect) and the terminal is disposed. Moving the
   * element (taken out and put back in the same task) keeps it as it is.
   */
  disconnectedCallback(): void {
    queueMicrotask(() => {
      if (!this.isConnected) this.#teardown?.();
    });
  }

  /** Ends this terminal now: the socket closes, nothing reconnects, the xterm.js instance is disposed. */
  stop(): void {
    this.#teardown?.();
  }
}

if (!customElements.get('xenlab-terminal')) customElements.define('xenlab-terminal', XenlabTerminal);
