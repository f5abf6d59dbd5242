/**
 * Code blocks of a lab guide: shell blocks get a Run button that types them into the lab's active terminal
 * (Killercoda's `{{exec}}`, NRE Labs' runSnippetInTab), or into the terminal a task's solution names for the block
 * (`data-terminal`, from ```` ```sh terminal=storage-b ````: its tab is brought to the front first). A solution's
 * blocks that name none are for the lab's first terminal, as Skip runs them (labs/README.md). Every block already
 * has Expressive Code's copy button.
 */
const RUNNABLE = new Set(['sh', 'bash', 'shell', 'console']);

interface TerminalElement extends HTMLElement {
  connection?: { input(data: string): void };
}

/**
 * The terminal Run sends to: the one a block names (its panel, in front or behind another tab), else the visible one
 * in the lab's terminal area. A name the page has no terminal for gives none: typing it into whichever terminal is
 * in front would run it on the wrong machine.
 */
function terminalFor(target: string | undefined): TerminalElement | null {
  const panel =
    target === undefined
      ? '.lab-terminal-panel:not([hidden])'
      : `.lab-terminal-panel[data-terminal="${CSS.escape(target)}"]`;
  return document.querySelector<TerminalElement>(`${panel} xenlab-terminal`);
}

/** How long Run waits for a terminal that is not open (its shell starting again, its link coming back). */
const OPEN_WAIT_MS = 30_000;

/**
 * Resolves true once the terminal is open (`data-state`, set by its connection), false if it is not within
 * {@link OPEN_WAIT_MS}. A shell that exited (Reset ends the learner's shells; a tab behind another may show it) is
 * started again, as Enter does: without the wait, what Run typed went with the keystroke that restarts it.
 */
function whenOpen(term: TerminalElement): Promise<boolean> {
  if (term.dataset.state === 'open') return Promise.resolve(true);
  // Empty input starts a new shell after an exit (connection.ts `input`); a dropped link reconnects by itself.
  if (term.dataset.state === 'closed') term.connection?.input('');
  return new Promise((resolve) => {
    const done = (open: boolean) => {
      observer.disconnect();
      clearTimeout(timer);
      resolve(open);
    };
    const observer = new MutationObserver(() => {
      if (term.dataset.state === 'open') done(true);
    });
    const timer = setTimeout(() => {
      done(false);
    }, OPEN_WAIT_MS);
    observer.observe(term, { attributes: true, attributeFilter: ['data-state'] });
  });
}

/** The lab's terminals by name, in the manifest's order. */
const terminalNames = (): string[] =>
  [...document.querySelectorAll<HTMLElement>('.lab-terminal-panel')].flatMap((p) =>
    p.dataset.terminal === undefined ? [] : [p.dataset.terminal],
  );

/**
 * Adds Run buttons to the runnable code blocks inside `root`; `onRun` hears which block (0-based, among the
 * runnable ones) was run — the task panel reports Run presses on a solution (`lab.ran`). Blocks that name no
 * terminal go to the one in front, except in a task's solution (`.lab-solution`) of a lab with several terminals:
 * there they go to the first, as Skip runs them, not to a tab where the learner has just started a watcher.
 */
export function addRunButtons(root: HTMLElement, onRun?: (block: number) => void): void {
  let index = -1;
  const names = terminalNames();
  const solution = root.classList.contains('lab-solution');
  for (const pre of root.querySelectorAll<HTMLPreElement>('pre[data-language]')) {
    if (RUNNABLE.has(pre.dataset.language ?? '')) index++;
    const block = index;
    if (!RUNNABLE.has(pre.dataset.language ?? '') || pre.dataset.runnable) continue;
    pre.dataset.runnable = 'true';
    const figure = pre.closest('figure') ?? pre;
    const target = pre.dataset.terminal ?? (solution && names.length > 1 ? names[0] : undefined);
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'lab-run';
    button.textContent = target ? `▶ Run on ${target}` : '▶ Run';
    button.title = target ? `Type this into the ${target} terminal` : 'Type this into the terminal';
    if (target && !terminalFor(target)) {
      // The lab loader refuses such a solution; a page built from another version of the lab may still show one.
      button.disabled = true;
      button.title = `This lab has no terminal named ${target}`;
    }
    button.addEventListener('click', () => {
      const term = terminalFor(target);
      if (target)
        document.querySelector<HTMLButtonElement>(`.lab-tab[data-terminal="${CSS.escape(target)}"]`)?.click();
      // Expressive Code renders one .ec-line per line; fall back to the text of the block.
      const lines = [...pre.querySelectorAll<HTMLElement>('.ec-line')].map((l) =>
        l.innerText.replace(/\n$/, ''),
      );
      const text = (lines.length ? lines.join('\n') : pre.innerText).replace(/\s+$/, '');
      if (!term?.connection) return;
      void whenOpen(term).then((open) => {
        if (!open) return;
        // Each line ends with Enter, as if typed; the terminal gets focus so the learner can carry on.
        term.connection?.input(`${text.replace(/\n/g, '\r')}\r`);
        onRun?.(block);
        document.dispatchEvent(new CustomEvent('xenlab:run'));
        term.querySelector<HTMLElement>('textarea')?.focus();
      });
    });
    figure.insertAdjacentElement('afterend', button);
  }
}
