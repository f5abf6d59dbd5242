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
