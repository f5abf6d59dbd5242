/**
 * Terminals on a machine's console (its serial line): every terminal of a node shows the node's console from its
 * history on, and Enter on a powered-off node powers it on.
 * @module
 */
import type { TerminalProcess } from '../types.js';
import type { VmNode } from './node.js';

/** A terminal on `node`'s console. */
export function consoleTerminal(node: VmNode, size: { cols: number; rows: number }): TerminalProcess {
  const dataListeners = new Set<(d: Buffer) => void>();
  const exitListeners = new Set<(code: number | null) => void>();
  let killed = false;
  let paused = false;
  let pending: Buffer[] = [];
  const emit = (d: Buffer) => {
    if (paused) pending.push(d);
    else for (const l of dataListeners) l(d);
  };
  const unsub = node.subscribe(emit);
  const setSize = (cols: number, rows: number) => {
    // The serial line has no size of its own; tell dom0's tty so full-screen programs fit the browser.
    const agent = node.running ? node.vm?.agent : undefined;
    void agent?.exec(['stty', '-F', '/dev/hvc0', 'rows', String(rows), 'cols', String(cols)], {
      timeoutMs: 5000,
    });
  };
  const powerOn = () => {
    node.retryRequested = true;
    node.powerCut = false;
    node.ensure().then(
      (vm) => {
        setSize(size.cols, size.rows);
        vm.writeConsole('\r');
      },
      (err: unknown) => {
        node.say(`${node.name} did not start: ${(err as Error).message}`);
      },
    );
  };
  // Replay what the console showed (the boot log, the prompt), so a new tab is not blank.
  queueMicrotask(() => {
    if (killed) return;
    if (node.running && node.vm) {
      const history = node.vm.consoleHistory();
      if (history.length > 0) emit(history);
      else node.vm.writeConsole('\r');
      setSize(size.cols, size.rows);
    } else powerOn();
  });
  return {
    pid: node.vm?.pid ?? 0,
    write(data) {
      if (killed) return;
      if (node.running) node.vm?.writeConsole(data);
      else if (/[\r\n]/.test(typeof data === 'string' ? data : Buffer.from(data).toString('latin1')))
        powerOn();
    },
    resize(cols, rows) {
      size = { cols, rows };
      if (!killed) setSize(cols, rows);
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      const p = pending;
      pending = [];
      for (const d of p) for (const l of dataListeners) l(d);
    },
    kill() {
      if (killed) return;
      killed = true;
      unsub();
      for (const l of exitListeners) l(null);
      exitListeners.clear();
    },
    onData(listener) {
      dataListeners.add(listener);
    },
    onExit(listener) {
      exitListeners.add(listener);
    },
  };
}
