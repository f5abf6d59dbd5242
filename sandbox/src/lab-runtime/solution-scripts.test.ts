// What Skip applies of a task's solution: its shell blocks, each on the machine of the terminal it names.
import { describe, expect, it } from 'vitest';
import { solutionScripts } from './steps.js';

describe('solutionScripts', () => {
  it('joins consecutive blocks for one terminal and keeps the terminal a block names', () => {
    const md = [
      'On storage-a:',
      '```sh terminal=storage-a',
      'drbdadm up r0',
      '```',
      '```bash terminal=storage-a',
      'drbdadm status r0',
      '```',
      'On storage-b:',
      '```sh terminal=storage-b',
      'drbdadm up r0',
      '```',
      '```text',
      'not a script',
      '```',
      '```sh',
      'echo first terminal',
      '```',
      '',
    ].join('\n');
    expect(solutionScripts(md)).toEqual([
      { script: 'drbdadm up r0\n\ndrbdadm status r0\n', terminal: 'storage-a' },
      { script: 'drbdadm up r0\n', terminal: 'storage-b' },
      { script: 'echo first terminal\n' },
    ]);
  });
});

describe('solutionScripts: files and blocks that run until stopped', () => {
  it('writes a file= block where it says, and keeps a block that runs until stopped alone', () => {
    const md = [
      '```js file=~/watch.mjs',
      "console.log('a');",
      '```',
      'Run it in the Events terminal:',
      '```sh terminal=watch until=stopped',
      'node ~/watch.mjs | tee ~/events.log',
      '```',
      '```sh terminal=watch',
      'echo after',
      '```',
      '```sh',
      'xe vm-shutdown vm=x',
      '```',
      '```js',
      'shown, not applied',
      '```',
      '',
    ].join('\n');
    expect(solutionScripts(md)).toEqual([
      {
        script: `mkdir -p "$(dirname ~/watch.mjs)"\ncat > ~/watch.mjs <<'XENLAB_FILE_END'\nconsole.log('a');\nXENLAB_FILE_END\n`,
      },
      { script: 'node ~/watch.mjs | tee ~/events.log\n', terminal: 'watch', untilStopped: true },
      { script: 'echo after\n', terminal: 'watch' },
      { script: 'xe vm-shutdown vm=x\n' },
    ]);
  });

  it("picks a heredoc end that is no line of the file's text", () => {
    const [first] = solutionScripts('```txt file=notes.txt\nXENLAB_FILE_END\n```\n');
    expect(first?.script).toBe(
      `mkdir -p "$(dirname notes.txt)"\ncat > notes.txt <<'XENLAB_FILE_END_'\nXENLAB_FILE_END\nXENLAB_FILE_END_\n`,
    );
  });
});
