/**
 * A tiny, safe markdown renderer for task texts, hints and solutions sent by the grader: HTML is escaped first,
 * then code fences, inline code, bold and paragraphs — all the task panel needs, and nothing that can inject markup.
 */
const escape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function inline(s: string): string {
  return escape(s)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

/** Renders the markdown subset to HTML. */
export function renderMarkdown(text: string): string {
  const out: string[] = [];
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let para: string[] = [];
  const flush = () => {
    if (para.length) out.push(`<p>${inline(para.join(' '))}</p>`);
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    // ```sh terminal=storage-b: a block for one terminal of a lab with several (its Run button types it there).
    // Other attributes (until=stopped, file=~/x.mjs) are for Skip (sandbox/src/labs/solution-blocks.ts): read past.
    const fence = /^```(\w*)((?:[ \t]+\w+=\S*)*)[ \t]*$/.exec(line);
    if (fence) {
      flush();
      const code: string[] = [];
      for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ''); i++) code.push(lines[i] ?? '');
      const name = /(?:^|[ \t])terminal=([\w.-]+)(?=[ \t]|$)/.exec(fence[2] ?? '')?.[1];
      const terminal = name === undefined ? '' : ` data-terminal="${escape(name)}"`;
      out.push(
        `<pre data-language="${escape(fence[1] ?? '')}"${terminal}><code>${escape(code.join('\n'))}</code></pre>`,
      );
      continue;
    }
    if (line.trim() === '') flush();
    else para.push(line.trim());
  }
  flush();
  return out.join('');
}
