/**
 * `<xenlab-terminal>`: the terminal island of a lesson or lab page (markup: components/Terminal.astro). The
 * element only wires its life to the page; the parts live beside it:
 * - lifecycle.ts: the xterm.js terminal, the connection, the teardown;
 * - events.ts: what the connection's messages and states do to the page;
 * - parts.ts: the markup's parts, the screen reader live region, timers that stop with the element;
 * - keyboard.ts: copy/paste keys, leaving with Escape then Tab or Ctrl+M, paste cleaning, screen reader mode;
 * - starting.ts: the panels shown while an environment comes up, cannot run here, or sends what the page cannot read;
 * - server-message.ts: which of the gateway's text frames the page acts on, ignores, or cannot go on after;
 * - banner.ts: the idle countdown (Extend), an instructor's message, the paused notice;
 * - help.ts: the raised hand.
 * @module
 */
import { mount } from './lifecycle.ts';

class XenlabTerminal extends HTMLElement {
  /** Undoes everything connectedCallback set up (the connection, listeners, timers, the terminal itself). */
  #teardown: (() => void) | undefined;

  connectedCallback(): void {
    this.#teardown ??= mount(this);
  }

  /**
   * Taken out of the page: the connection stops for good (no reconnect) and the terminal is disposed. Moving the
   * element (taken out and put back in the same task) keeps it as it is.
   */
  disconnectedCallback(): void {
    queueMicrotask(() => {
      if (!this.isConnected) this.stop();
    });
  }

  /** Ends this terminal now: the socket closes, nothing reconnects, the xterm.js instance is disposed. */
  stop(): void {
    const teardown = this.#teardown;
    this.#teardown = undefined;
    teardown?.();
  }
}

if (!customElements.get('xenlab-terminal')) customElements.define('xenlab-terminal', XenlabTerminal);
