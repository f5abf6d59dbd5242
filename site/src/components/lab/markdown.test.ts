// The task panel's markdown: a solution's code block can name the terminal it is for (labs with several machines).
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from './markdown.ts';

describe('renderMarkdown', () => {
  it('keeps the terminal a code block names, for its Run button', () => {
    const html = renderMarkdown('On b:\n\n```sh terminal=storage-b\ndrbdadm up r0\n```\n');
    expect(html).toBe(
      '<p>On b:</p><pre data-language="sh" data-terminal="storage-b"><code>drbdadm up r0</code></pre>',
    );
  });

  it('renders a block without a terminal as before, and refuses markup in the name', () => {
    expect(renderMarkdown('```sh\nls\n```')).toBe('<pre data-language="sh"><code>ls</code></pre>');
    // Not a terminal name: no data-terminal, and the text stays text (escaped), never an attribute.
    expect(renderMarkdown('```sh terminal="><script>\nls\n```')).not.toContain('<script>');
  });

  it('reads the terminal past the attributes Skip reads (until=stopped, file=)', () => {
    expect(renderMarkdown('```sh terminal=watch until=stopped\nnode ~/watch.mjs\n```')).toBe(
      '<pre data-language="sh" data-terminal="watch"><code>node ~/watch.mjs</code></pre>',
    );
    expect(renderMarkdown('```js file=~/list-vms.mjs\nconsole.log(1);\n```')).toBe(
      '<pre data-language="js"><code>console.log(1);</code></pre>',
    );
  });
});
