/**
 * Command-line parsing as the real `xe` does it, in two stages:
 * 1. the thin client (xen-api ocaml/xe-cli/newcli.ml `parse_args`) takes the connection settings out — from the
 *    `~/.xe` file, then the `XE_EXTRA_ARGS` environment variable (comma-separated, `\,` escapes a comma), then the
 *    command line, later ones winning: `-s host`, `-p port`, `-u user`, `-pw password`, `-pwf file`, `--nossl`,
 *    `-h host`, `--debug`, `--debug-on-fail`, `--traceparent v`, or the same as `server=`, `port=`, `username=`,
 *    `password=`, `passwordfile=`, `nossl=true`; everything else is passed on, and `~/.xe` keys it does not know
 *    become extra command parameters;
 * 2. the server (ocaml/xapi-cli-server/cli_frontend.ml `parse_commandline`) reads the command name and
 *    `key=value` parameters, `--flag` meaning `flag=true`.
 */
import { CliSyntaxError } from './errors.js';

/** Where and how to connect, after ~/.xe, XE_EXTRA_ARGS and the command line. */
export interface Connection {
  server: string;
  port: number | undefined;
  username: string;
  password: string;
  passwordFile: string;
  ssl: boolean;
  debug: boolean;
}

/** What the thin client hands to the command parser, or why it stopped. */
export type ClientArgs =
  | { readonly kind: 'run'; readonly args: string[]; readonly conn: Connection }
  | { readonly kind: 'usage'; readonly message?: string };

/** `~/.xe`: `key=value` lines, blank lines skipped (ocaml/xe-cli/options.ml `parse_lines`). */
export function parseRc(text: string): { pairs: [string, string][]; error?: string } {
  const pairs: [string, string][] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq < 0) return { pairs: [], error: 'Error parsing rc file. No defaults loaded' };
    pairs.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  // options.ml accumulates in reverse; the last value of a repeated key therefore loses. Keep that.
  return { pairs: pairs.reverse() };
}

/** `XE_EXTRA_ARGS`: comma-separated arguments, `\,` for a literal comma (newcli.ml). */
export function splitExtraArgs(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (c === '\\' && s.charAt(i + 1) === ',') {
      cur += ',';
      i++;
    } else if (c === ',') {
      if (cur !== '') out.push(cur);
      cur = '';
    } else if (c !== '\\') cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}

const OPTS: Readonly<Record<string, string>> = {
  '-s': 'server',
  '-h': 'server',
  '-p': 'port',
  '-u': 'username',
  '-pw': 'password',
  '-pwf': 'passwordfile',
  '--traceparent': 'traceparent',
};
const FLAGS: Readonly<Record<string, string>> = {
  '--nossl': 'nossl',
  '--debug': 'debug',
  '--debug-on-fail': 'debugonfail',
};

class PortError extends Error {}

/** Stage 1: the thin client's settings. `rc` is the text of `~/.xe` (undefined when absent). */
export function parseClientArgs(
  argv: readonly string[],
  rc: string | undefined,
  extraArgs: string | undefined,
): ClientArgs & { rcError?: string } {
  const conn: Connection = {
    server: '127.0.0.1',
    port: undefined,
    username: 'root',
    password: 'null',
    passwordFile: '',
    ssl: true,
    debug: false,
  };
  const setKeyword = (k: string, v: string): boolean => {
    switch (k) {
      case 'server':
        conn.server = v;
        return true;
      case 'port': {
        const p = /^\d+$/.test(v) ? Number(v) : NaN;
        if (!(p >= 0 && p <= 65535)) throw new PortError();
        conn.port = p;
        return true;
      }
      case 'username':
        conn.username = v;
        return true;
      case 'password':
        conn.password = v;
        return true;
      case 'passwordfile':
        conn.passwordFile = v;
        return true;
      case 'nossl':
        // OCaml bool_of_string: anything but true/false raises, and newcli then passes the argument on.
        if (v !== 'true' && v !== 'false') return false;
        conn.ssl = v !== 'true';
        return true;
      case 'debug':
      case 'debugonfail':
        conn.debug = v === 'true';
        return true;
      case 'traceparent':
        return true;
      default:
        return false;
    }
  };
  const processArgs = (args: readonly string[]): string[] => {
    const rest: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i] ?? '';
      const opt = OPTS[a];
      if (opt !== undefined && i + 1 < args.length) {
        if (setKeyword(opt, args[i + 1] ?? '')) {
          i++;
          continue;
        }
      }
      const flag = FLAGS[a];
      if (flag !== undefined && setKeyword(flag, 'true')) continue;
      const eq = a.indexOf('=');
      if (eq >= 0 && setKeyword(a.slice(0, eq), a.slice(eq + 1))) continue;
      rest.push(a);
    }
    return rest;
  };
  try {
    const rcParsed = rc === undefined ? { pairs: [] } : parseRc(rc);
    const rcRest = rcParsed.pairs.filter(([k, v]) => !setKeyword(k, v)).map(([k, v]) => `${k}=${v}`);
    const extrasRest = processArgs(splitExtraArgs(extraArgs ?? ''));
    const help = argv.some((a) => a === '-help' || a === '--help');
    const argsRest = processArgs(argv);
    const rcError = 'error' in rcParsed ? rcParsed.error : undefined;
    if (help) return rcError === undefined ? { kind: 'usage' } : { kind: 'usage', rcError };
    const args = [...argsRest, ...extrasRest, ...rcRest];
    if (args.length === 0) return rcError === undefined ? { kind: 'usage' } : { kind: 'usage', rcError };
    return rcError === undefined ? { kind: 'run', args, conn } : { kind: 'run', args, conn, rcError };
  } catch (e) {
    if (e instanceof PortError) return { kind: 'usage', message: 'Port number must be an integer (0-65535)' };
    throw e;
  }
}

/** A parsed command: its name and `key=value` parameters in order (duplicates kept, first wins on lookup). */
export interface Command {
  readonly name: string;
  readonly params: readonly (readonly [string, string])[];
}

// cli_frontend.ml switch_map: the only dyadic switches the server knows.
const SWITCHES: Readonly<Record<string, string>> = {
  '--force': 'force',
  '--live': 'live',
  '--internal': 'internal',
  '-u': 'username',
  '-pw': 'password',
  '-s': 'server',
  '-h': 'server',
  '-p': 'port',
  '--debug': 'debug',
  '--minimal': 'minimal',
  '--all': 'all',
};

/** Stage 2: the command name and parameters. Any problem is `Syntax error: ` (the server loses the detail). */
export function parseCommandLine(args: readonly string[]): Command {
  const [name, ...rest] = args;
  if (name === undefined || name.includes('=')) throw new CliSyntaxError('');
  const params: [string, string][] = [];
  for (let i = 0; i < rest.length; i++) {
    const p = rest[i] ?? '';
    if (p.startsWith('--')) params.push([p.slice(2), 'true']);
    else if (p.startsWith('-')) {
      const key = SWITCHES[p];
      const value = rest[i + 1];
      if (key === undefined || value === undefined) throw new CliSyntaxError('');
      params.push([key, value]);
      i++;
    } else {
      const eq = p.indexOf('=');
      params.push(eq < 0 ? [p, ''] : [p.slice(0, eq), p.slice(eq + 1)]);
    }
  }
  return { name, params };
}

/** The first value of a parameter. */
export function param(
  cmd: Command | readonly (readonly [string, string])[],
  key: string,
): string | undefined {
  const params = 'params' in cmd ? cmd.params : cmd;
  return params.find(([k]) => k === key)?.[1];
}

/** The XAPI URL for a connection: https on 443 by default, plain http on 80 with --nossl or on 127.0.0.1. */
export function connectionUrl(conn: Connection): string {
  // newcli.ml `with_open_tcp`: "never use SSL on-host".
  const ssl = conn.ssl && conn.server !== '127.0.0.1';
  const port = conn.port ?? (ssl ? 443 : 80);
  const host = conn.server.includes(':') && !conn.server.startsWith('[') ? `[${conn.server}]` : conn.server;
  return `${ssl ? 'https' : 'http'}://${host}:${port}`;
}
