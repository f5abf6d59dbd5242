import { describe, expect, it } from 'vitest';
import { solveParts } from './prove.js';

describe('solveParts', () => {
  it('cuts a solve script at press lines and runs the parts after an on line on that node', () => {
    const parts = solveParts(
      [
        '#!/usr/bin/env bash',
        '# xenlab-lab-test: on storage-a',
        'drbdadm up r0',
        '# xenlab-lab-test: on storage-b',
        'drbdadm up r0',
        '# xenlab-lab-test: press pull-the-plug',
        'crm_mon -1',
      ].join('\n'),
    );
    expect(parts).toEqual([
      { script: '#!/usr/bin/env bash' },
      { script: 'drbdadm up r0', node: 'storage-a' },
      { script: 'drbdadm up r0', node: 'storage-b' },
      { press: 'pull-the-plug' },
      { script: 'crm_mon -1', node: 'storage-b' },
    ]);
  });

  it('without on lines every part runs on the default node, as before', () => {
    expect(solveParts('a\n# xenlab-lab-test: press f\nb')).toEqual([
      { script: 'a' },
      { press: 'f' },
      { script: 'b' },
    ]);
  });
});
