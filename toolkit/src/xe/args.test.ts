import { describe, expect, test } from 'vitest';
import { connectionUrl, parseClientArgs, parseCommandLine, parseRc, splitExtraArgs } from './args.js';
import { CliSyntaxError } from './errors.js';

describe('the thin client reads settings like newcli.ml', () => {
  test('~/.xe holds key=value lines; blank lines are skipped, a line without "=" voids the file', () => {
    expect(parseRc('server=10.0.0.2\n\nusername=root\n').pairs).toEqual([
      ['username', 'root'],
      ['server', '10.0.0.2'],
    ]);
    expect(parseRc('server=x\nnonsense\n')).toEqual({
      pairs: [],
      error: 'Error parsing rc file. No defaults loaded',
    });
  });

  test('XE_EXTRA_ARGS is comma-separated with \\, for a literal comma', () => {
    expect(splitExtraArgs('server=h,password=a\\,b,,port=8080')).toEqual([
      'server=h',
      'password=a,b',
      'port=8080',
    ]);
  });

  test('the command line beats XE_EXTRA_ARGS, which beats ~/.xe', () => {
    const r = parseClientArgs(
      ['vm-list', '-s', 'cli-host', '-u', 'admin'],
      'server=rc-host\nport=8080\nusername=rcuser\npassword=rcpw\nnossl=true\n',
      'server=env-host,password=envpw',
    );
    expect(r.kind).toBe('run');
    if (r.kind !== 'run') return;
    expect(r.conn).toMatchObject({
      server: 'cli-host',
      port: 8080,
      username: 'admin',
      password: 'envpw',
      ssl: false,
    });
    expect(r.args).toEqual(['vm-list']);
    expect(connectionUrl(r.conn)).toBe('http://cli-host:8080');
  });

  test('~/.xe keys the client does not know become command parameters', () => {
    const r = parseClientArgs(['vm-list'], 'server=h\nminimal=true\n', undefined);
    expect(r.kind === 'run' && r.args).toEqual(['vm-list', 'minimal=true']);
  });

  test('https on 443 by default, http on 80 with --nossl, never TLS to 127.0.0.1', () => {
    const url = (argv: string[]) => {
      const r = parseClientArgs(argv, undefined, undefined);
      return r.kind === 'run' ? connectionUrl(r.conn) : r.kind;
    };
    expect(url(['vm-list', '-s', 'pool.example'])).toBe('https://pool.example:443');
    expect(url(['vm-list', '-s', 'pool.example', '--nossl'])).toBe('http://pool.example:80');
    expect(url(['vm-list'])).toBe('http://127.0.0.1:80');
    expect(url(['vm-list', 'server=fe80::1', 'port=8443'])).toBe('https://[fe80::1]:8443');
  });

  test('no arguments, --help or a bad port give the usage', () => {
    expect(parseClientArgs([], undefined, undefined).kind).toBe('usage');
    expect(parseClientArgs(['vm-list', '--help'], undefined, undefined).kind).toBe('usage');
    expect(parseClientArgs(['vm-list', '-p', '99999'], undefined, undefined)).toEqual({
      kind: 'usage',
      message: 'Port number must be an integer (0-65535)',
    });
  });
});

describe('the server parses the command like cli_frontend.ml', () => {
  test('key=value (the value may hold "="), --flag = flag=true, dyadic switches', () => {
    expect(
      parseCommandLine(['vm-param-set', 'uuid=u', 'other-config:a=b=c', '--force', '--minimal']).params,
    ).toEqual([
      ['uuid', 'u'],
      ['other-config:a', 'b=c'],
      ['force', 'true'],
      ['minimal', 'true'],
    ]);
    expect(parseCommandLine(['vm-list', 'bare']).params).toEqual([['bare', '']]);
  });

  test('a missing command name or an unknown switch is a syntax error', () => {
    expect(() => parseCommandLine(['uuid=x'])).toThrow(CliSyntaxError);
    expect(() => parseCommandLine(['vm-list', '-q', 'x'])).toThrow(CliSyntaxError);
  });
});
