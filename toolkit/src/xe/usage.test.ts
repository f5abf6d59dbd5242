import { describe, expect, it } from 'vitest';
import { HELP_HEADER, usageText } from './usage.js';

describe('xe usage text', () => {
  it('lists every client option, aligned, with the program name the user typed', () => {
    const text = usageText('/opt/bin/xe');
    expect(
      text.startsWith('Usage:\n  /opt/bin/xe <command>\n    [ -s <server> ]            XenServer host\n'),
    ).toBe(true);
    expect(text).toContain(
      '    [ -u <username> -pw <password> | -pwf <password file> ]\n                               User authentication (password or file)\n',
    );
    expect(text).toContain('    [ --minimal ]              Output only values in a comma-separated lists\n');
    expect(text).toContain('    [ --trace ]                Show task stacktrace on failure\n');
    expect(
      text.endsWith(
        '\nA full list of commands can be obtained by running\n  /opt/bin/xe help -s <server> -p <port>\n',
      ),
    ).toBe(true);
  });

  it("heads `xe help` with the same options, less the two the server's copy never listed", () => {
    const shared = (s: string) => s.split('\n').filter((l) => l.startsWith('    [ '));
    expect(shared(HELP_HEADER)).toEqual(
      shared(usageText('xe')).filter((l) => !l.includes('--minimal') && !l.includes('--trace ]')),
    );
    expect(HELP_HEADER.endsWith('\nTo get help on a specific command:\n  xe help <command>\n\n')).toBe(true);
  });
});
