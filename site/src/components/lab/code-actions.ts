/**
 * Code blocks of a lab guide: shell blocks get a Run button that types them into the lab's active terminal
 * (Killercoda's `{{exec}}`, NRE Labs' runSnippetInTab), or into the terminal a task's solution names for the block
 * (`data-terminal`, from ```` ```sh terminal=storage-b ````: its tab is brought to the front first). Every block
 * already has Expressive Code's copy button.
 */
const RUNNABLE = new Set(['sh', 'bash', 'shell', 'console']);

interface TerminalElement extends HTMLElement {
  connection?: { input(data: string): void };
}

/** The terminal Run sends to: the visible one in the lab's terminal area. */
function activeTerminal(): TerminalElement | null {
  return document.querySelector<TerminalElement>('.lab-terminal-panel:not([hidden]) xenlab-terminal');
}

/**
 * Adds Run buttons to the runnable code blocks inside `root`; `onRun` hears which block (0-based, among the
 * runnable ones) was run — the task panel reports Run presses on a solution (`lab.ran`).
 */
export function addRunButtons(root: HTMLElement, onRun?: (block: number) => void): void {
  let index = -1;
  for (const pre of root.querySelectorAll<HTMLPreElement>('pre[data-language]')) {
    if (RUNNABLE.has(pre.dataset.language ?? '')) index++;
    const block = index;
    if (!RUNNABLE.has(pre.dataset.language ?? '') || pre.dataset.runnable) continue;
    pre.dataset.runnable = 'true';
    const figure = pre.closest('figure') ?? pre;
    const target = pre.dataset.terminal;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'lab-run';
    button.textContent = target ? `▶ Run on ${target}` : '▶ Run';
    button.title = target ? `Type this into the ${target} terminal` : 'Type this into the terminal';
    button.addEventListener('click', () => {
      if (target)
        document.querySelector<HTMLButtonElement>(`.lab-tab[data-terminal="${CSS.escape(target)}"]`)?.click();
      // Expressive Code renders one .ec-line per line; fall back to the text of the block.
      const lines = [...pre.querySelectorAll<HTMLElement>('.ec-line')].map((l) =>
        l.innerText.replace(/\n$/, ''),
      );
      const text = (lines.length ? lines.join('\n') : pre.innerText).replace(/\s+$/, '');
      const term = activeTerminal();
      if (!term?.connection) return;
      // Each line ends with Enter, as if typed; the terminal gets focus so the learner can carry on.
      term.connection.input(`${text.replace(/\n/g, '\r')}\r`);
      onRun?.(block);
      document.dispatchEvent(new CustomEvent('xenlab:run'));
      term.querySelector<HTMLElement>('textarea')?.focus();
    });
    figure.insertAdjacentElement('afterend', button);
  }
}
