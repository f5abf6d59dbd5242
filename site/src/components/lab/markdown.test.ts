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
    // Not a terminal name: the fence is not one, so its text stays text (escaped), never an attribute.
    expect(renderMarkdown('```sh terminal="><script>\nls\n```')).not.toContain('<script>');
  });
});
