/**
 * The code blocks of a task's solution, as Skip applies them and `lab validate` checks them. A fence is the language
 * and then attributes, each `key=value` with no quotes (what the panel's markdown and Skip both read):
 *
 * - `terminal=<name>` — the block is for that terminal (its Run button types it there; Skip runs it on that
 *   terminal's machine). Without it: the lab's first terminal.
 * - `until=stopped` — a shell block that runs until the learner stops it (an event loop, `tail -f`, a watcher):
 *   Skip starts it and goes on once it has printed its first output (or after a short settle) instead of waiting
 *   for it to end, and stops it when the task has been graded. Run types it as any other block.
 * - `file=<path>` — a block that is not shell (```` ```js file=~/list-vms.mjs ````) is the file the task asks
 *   for: Skip writes it there (in the learner's home for a relative path), as a learner would save it.
 *
 * Shell blocks (`sh`, `bash`, `shell`) run; other blocks without `file=` are shown only.
 * @module
 */

/** Languages whose blocks Skip runs. */
const SHELL = new Set(['sh', 'bash', 'shell']);

/** The one value `until=` takes. */
export const UNTIL_STOPPED = 'stopped';

/** One code block of a solution, its fence read. */
export interface SolutionBlock {
  /** The fence's language (`sh`, `js`…; empty when none). */
  readonly lang: string;
  /** The fence line as written (for messages). */
  readonly fence: string;
  /** The block's text, each line ending with a newline. */
  readonly body: string;
  readonly terminal?: string;
  readonly untilStopped?: true;
  readonly file?: string;
  /**
   * What is wrong with the fence, each said after "the code block `<fence>`" (for `lab validate`): empty when fine.
   */
  readonly problems: readonly string[];
}

/** A path `file=` accepts: in the home (`~/x` or relative), no `..`, nothing the shell would expand or split. */
const FILE = /^(?:~\/)?[\w.-]+(?:\/[\w.-]+)*$/;

/** Reads one fence's attributes (the words after the language). */
function attributes(lang: string, words: readonly string[]): Omit<SolutionBlock, 'lang' | 'fence' | 'body'> {
  const problems: string[] = [];
  let terminal: string | undefined;
  let until: true | undefined;
  let file: string | undefined;
  for (const word of words) {
    const m = /^(\w+)=(.*)$/.exec(word);
    const [key, value = ''] = m ? [m[1], m[2]] : [word];
    if (key === 'terminal') {
      if (/^[\w.-]+$/.test(value)) terminal = value;
      else problems.push('does not name a terminal the page can read; write ```sh terminal=<name>');
    } else if (key === 'until') {
      if (value !== UNTIL_STOPPED) problems.push(`has \`${word}\`: write until=${UNTIL_STOPPED}`);
      else if (!SHELL.has(lang))
        problems.push(`has \`${word}\` but is not a shell block (sh, bash): nothing runs`);
      else until = true;
    } else if (key === 'file') {
      if (SHELL.has(lang))
        problems.push(
          `has \`${word}\` but is a shell block, which runs (file= names the file a js block is)`,
        );
      else if (!FILE.test(value) || value.split('/').includes('..'))
        problems.push(
          `has \`${word}\`: write a path in the home (~/name.mjs or dir/name; no quotes, spaces or ..)`,
        );
      else file = value;
    } else if (word.includes('terminal'))
      problems.push('does not name a terminal the page can read; write ```sh terminal=<name>');
    else
      problems.push(
        `has \`${word}\`, which Skip and the page do not read (a solution's block takes terminal=<name>, until=${UNTIL_STOPPED}, file=<path>)`,
      );
  }
  return {
    ...(terminal === undefined ? {} : { terminal }),
    ...(until === undefined ? {} : { untilStopped: until }),
    ...(file === undefined ? {} : { file }),
    problems,
  };
}

/**
 * The code blocks of a solution's markdown, in order.
 * @example
 * solutionBlocks('```sh terminal=watch until=stopped\nnode ~/watch.mjs\n```\n')
 * // [{ lang: 'sh', terminal: 'watch', untilStopped: true, body: 'node ~/watch.mjs\n', problems: [], … }]
 */
export function solutionBlocks(markdown: string): SolutionBlock[] {
  const out: SolutionBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fence = lines[i] ?? '';
    const m = /^```(\w*)(.*)$/.exec(fence);
    if (!m) continue;
    const [, lang = '', rest = ''] = m;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```[ \t]*$/.test(lines[i] ?? ''); i++) body.push(`${lines[i] ?? ''}\n`);
    const words = rest.trim() === '' ? [] : rest.trim().split(/[ \t]+/);
    // Words glued to the language (```sh"x") are not attributes the page can read.
    const glued = rest !== '' && !/^[ \t]/.test(rest);
    const attrs = attributes(lang, glued ? [rest] : words);
    out.push({ lang, fence, body: body.join(''), ...attrs });
  }
  return out;
}

/** Whether Skip runs this block (a shell block), as opposed to writing it (`file=`) or only showing it. */
export const isShellBlock = (b: SolutionBlock): boolean => SHELL.has(b.lang);
