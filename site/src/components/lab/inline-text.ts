/**
 * Text the grader sends (check feedback, answer results, errors), shown with its `inline code` as code — built
 * from text nodes and `<code>` elements, never innerHTML, so a message can name `xe vm-list` without showing
 * backticks and cannot inject markup. And the end of a lab: the panel says it is complete, and what next.
 */
import type { LabView } from '@xenlab/sandbox/protocol';
import { labIdOfLink } from './progress.js';

/** Text nodes and `<code>` elements for a text with backtick-quoted inline code. */
export function inlineNodes(text: string): Node[] {
  const out: Node[] = [];
  let last = 0;
  for (const m of text.matchAll(/`([^`\n]+)`/g)) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    const code = document.createElement('code');
    code.textContent = m[1] ?? '';
    out.push(code);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/** Replaces an element's content with `text`, its inline code as `<code>`. */
export function setInlineText(el: Element, text: string): void {
  el.replaceChildren(...inlineNodes(text));
}

/** The next lab after `lab` in the course menu (the sidebar lists labs in course order), if any. */
function nextLab(lab: string): HTMLAnchorElement | undefined {
  const links = [...document.querySelectorAll<HTMLAnchorElement>('nav a[href*="/labs/"]')];
  const ids = links.map((a) => labIdOfLink(a));
  const i = ids.indexOf(lab);
  return i < 0 ? undefined : links.find((_, j) => j > i && ids[j] !== undefined && ids[j] !== lab);
}

/**
 * Shows "Lab complete — 60/60 points" above the tasks once every task has been achieved (points are kept once
 * earned), with the next lab to go to; hides it otherwise.
 */
export function showCompletion(panel: HTMLElement, view: LabView): void {
  let box = panel.querySelector<HTMLElement>('.lab-complete');
  const complete = view.maxScore > 0 && view.score >= view.maxScore;
  if (!complete) {
    box?.remove();
    return;
  }
  if (!box) {
    box = document.createElement('div');
    box.className = 'lab-complete';
    box.dataset.kind = 'ok';
    box.setAttribute('role', 'status');
    const tasks = panel.querySelector('.lab-tasks');
    if (tasks) tasks.before(box);
    else panel.append(box);
  }
  const head = document.createElement('strong');
  head.textContent = `Lab complete — ${String(view.score)}/${String(view.maxScore)} points.`;
  const next = nextLab(view.lab);
  const parts: Node[] = [head, document.createTextNode(' ')];
  if (next) {
    const a = document.createElement('a');
    a.href = next.href;
    a.textContent = next.textContent.replace(/\s*(✓|\d+\/\d+)\s*$/, '').trim() || 'the next lab';
    parts.push(document.createTextNode('Next: '), a, document.createTextNode('.'));
  } else {
    parts.push(
      document.createTextNode(
        'That was the last lab here: pick another from the course menu, or try the take-home tools on a real pool.',
      ),
    );
  }
  box.replaceChildren(...parts);
}
