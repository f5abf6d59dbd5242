/**
 * `xe` as a function: parse the arguments like the real thin client and server do, log in, run the command from
 * the table, print exactly what the real `xe` prints, and return the exit code. Everything it touches is passed
 * in (arguments, output, environment, files, the XenAPI client), so tests run it in-process against a simulator.
 */
import { connectionUrl, parseClientArgs, parseCommandLine, type Command } from './args.js';
import { usageText } from './usage.js';
import { commandTable } from './commands/index.js';
import {
  CliFailure,
  CliSyntaxError,
  ExitWithError,
  FieldNotFound,
  isApiError,
  MultipleFailure,
  ParamNotFound,
  serverErrorLines,
  UnknownCommand,
} from './errors.js';
import { runHelp } from './help.js';
import { Printer, type CliIo } from './printer.js';
import { Db, type Api } from './records.js';
import { createTransfer, type XeTransfer } from './transfer.js';

/** The part of the XenAPI client `xe` uses (`createClient` of toolkit/src/xenapi satisfies it). */
export interface XeClient {
  login(): Promise<unknown>;
  callRaw(method: string, ...args: unknown[]): Promise<unknown>;
  close(): Promise<void>;
}

/** Options of {@link createClient}-like factories: where, who, and whether to accept self-signed certificates. */
export interface XeClientOptions {
  readonly url: string;
  readonly user: string;
  readonly password: string;
  readonly allowUnauthorized: boolean;
  readonly originator: string;
}

/** What `main` needs from its surroundings. */
export interface MainOptions {
  /** The arguments after the program name. */
  readonly argv: readonly string[];
  readonly io: CliIo;
  /** Environment: `HOME` (for `~/.xe`) and `XE_EXTRA_ARGS`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly createClient: (options: XeClientOptions) => XeClient;
  /** Reads a file as text, undefined when it cannot be read (`~/.xe`, `-pwf`). Default: no files. */
  readonly readFile?: (path: string) => string | undefined;
  /** One line of user input for confirmation prompts ('' when there is none). */
  readonly readLine?: () => Promise<string>;
  /** The program name for the usage text. */
  readonly argv0?: string;
  /** File transfers for import/export commands (default: node:http(s) and the file system). */
  readonly createTransfer?: (base: string, options: { allowUnauthorized: boolean }) => XeTransfer;
}

const USAGE_HINT = "For usage run: 'xe help'";

function errorCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Turns a ref in an error parameter into `uuid (name-label)` when the server knows it (cli_util.ml `ref_convert`). */
async function refConvert(api: Api, value: string): Promise<string> {
  if (!value.startsWith('OpaqueRef:') || value === 'OpaqueRef:NULL') return value;
  const classes = [
    'VM',
    'host',
    'SR',
    'VDI',
    'VBD',
    'VIF',
    'PIF',
    'network',
    'pool',
    'PBD',
    'Bond',
    'VLAN',
    'task',
  ];
  for (const cls of classes) {
    try {
      const rec = (await api.call(`${cls}.get_record`, value)) as Record<string, unknown>;
      const uuid = typeof rec.uuid === 'string' ? rec.uuid : value;
      return typeof rec.name_label === 'string' ? `${uuid} (${rec.name_label})` : uuid;
    } catch {
      /* not of this class */
    }
  }
  return value;
}

/**
 * Runs one `xe` invocation and resolves to its exit code.
 * @example
 * const code = await main({ argv: ['vm-list', '--minimal'], io, env: process.env, createClient, readFile });
 */
export async function main(options: MainOptions): Promise<number> {
  const { io, env } = options;
  const readFile = options.readFile ?? (() => undefined);
  const argv0 = options.argv0 ?? 'xe';
  const home = env.HOME ?? '';
  const parsed = parseClientArgs(options.argv, readFile(`${home}/.xe`), env.XE_EXTRA_ARGS);
  if (parsed.rcError !== undefined) io.stderr(parsed.rcError + '\n');
  if (parsed.kind === 'usage') {
    if (parsed.message !== undefined) io.stderr(parsed.message + '\n');
    io.stderr(usageText(argv0));
    return 0;
  }
  const conn = parsed.conn;
  if (conn.passwordFile !== '') {
    const text = readFile(conn.passwordFile);
    if (text === undefined) {
      io.stderr(`Error opening password file '${conn.passwordFile}'\n`);
      return 1;
    }
    const lines = text.split('\n');
    if (lines.length < 2 || (lines.length === 2 && lines[1] === '')) {
      io.stderr(
        'Error: password file format: expecting username on the first line, password on the second line\n',
      );
      return 1;
    }
    conn.username = lines[0] ?? '';
    conn.password = lines[1] ?? '';
  }

  // The thin client sends the credentials as two more parameters (newcli.ml); the server reads them from there.
  let cmd: Command;
  try {
    cmd = parseCommandLine([...parsed.args, `username=${conn.username}`, `password=${conn.password}`]);
  } catch (e) {
    if (e instanceof CliSyntaxError) {
      io.stderr(`Syntax error: ${e.message}\n${USAGE_HINT}\n`);
      return 1;
    }
    throw e;
  }
  const minimalParam = cmd.params.find(([k]) => k === 'minimal')?.[1];
  const minimal = minimalParam === 'true';
  const printer = new Printer(io, minimal);
  const table = commandTable();

  if (cmd.name === 'help') {
    runHelp(printer, cmd.params, table);
    printer.flush();
    return 0;
  }
  const def = table.get(cmd.name);
  try {
    if (!def) throw new UnknownCommand(cmd.name);
    for (const r of def.reqd) if (!cmd.params.some(([k]) => k === r)) throw new ParamNotFound(r);
  } catch (e) {
    return report(e, io, undefined);
  }

  const username = cmd.params.find(([k]) => k === 'username')?.[1] ?? '';
  const password = cmd.params.find(([k]) => k === 'password')?.[1] ?? '';
  let client: XeClient;
  try {
    client = options.createClient({
      url: connectionUrl(conn),
      user: username,
      password,
      allowUnauthorized: true,
      originator: 'cli',
    });
  } catch {
    io.stderr('Unable to contact server. Please check server and port settings.\n');
    return 1;
  }
  const api: Api = { call: (method, ...args) => client.callRaw(method, ...args) };
  try {
    let session: unknown;
    try {
      session = await client.login();
    } catch (e) {
      if (errorCode(e) === 'SESSION_AUTHENTICATION_FAILED') {
        io.stderr(
          `${username === '' ? 'Username/password must be specified' : 'Authentication failed'}\n${USAGE_HINT}\n`,
        );
        return 1;
      }
      if (isApiError(e)) return await report(e, io, api);
      if (errorCode(e) === 'XENAPI_ERR_CONNECTION' && /ENOTFOUND|EAI_AGAIN/.test((e as Error).message)) {
        io.stderr(`Host '${conn.server}' not found.\n`);
        return 1;
      }
      io.stderr('Unable to contact server. Please check server and port settings.\n');
      return 1;
    }
    const db = new Db(api);
    await def.run({
      api,
      db,
      printer,
      cmd,
      params: cmd.params,
      readLine: options.readLine ?? (() => Promise.resolve('')),
      session: typeof session === 'string' ? session : '',
      transfer: (options.createTransfer ?? createTransfer)(connectionUrl(conn), { allowUnauthorized: true }),
    });
    printer.flush();
    return 0;
  } catch (e) {
    return await report(e, io, api);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Prints a failure the way xapi_cli.ml `exception_handler` does, and gives the exit code. */
async function report(e: unknown, io: CliIo, api: Api | undefined): Promise<number> {
  if (e instanceof ExitWithError) return e.code;
  if (e instanceof UnknownCommand) io.stderr(`Unknown command: ${e.command}\n${USAGE_HINT}\n`);
  else if (e instanceof ParamNotFound) io.stderr(`Required parameter not found: ${e.param}\n${USAGE_HINT}\n`);
  else if (e instanceof CliSyntaxError) io.stderr(`Syntax error: ${e.message}\n${USAGE_HINT}\n`);
  else if (e instanceof MultipleFailure) {
    for (const [uuid, msg] of e.failures) io.stdout(`operation failed on ${uuid}: ${msg}\n`);
  } else if (e instanceof CliFailure) io.stderr(`Error: ${e.message}\n`);
  else if (e instanceof FieldNotFound)
    io.stderr(serverErrorLines('Missing parameter', [e.field]).join('\n') + '\n');
  else if (isApiError(e)) {
    const params = api ? await Promise.all(e.params.map((p) => refConvert(api, p))) : [...e.params];
    io.stderr(serverErrorLines(e.code, params).join('\n') + '\n');
  } else if (errorCode(e) === 'XENAPI_ERR_CONNECTION') {
    io.stderr('Lost connection to the server.\n');
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    io.stderr(serverErrorLines('INTERNAL_ERROR', [msg]).join('\n') + '\n');
  }
  return 1;
}
