/**
 * The usage text of `xe`, in its two forms, from one list of the client's options. xapi keeps two copies that have
 * drifted: newcli.ml `usage` (printed to stderr for `-help`, no arguments or a bad port) lists `--minimal` and
 * `--trace`, cli_frontend.ml `rio_help` (the head of `xe help`, printed by the server) does not; the golden
 * transcripts (test/integration/xe/__golden__/misc.txt) pin both.
 */

/** A client option: how usage shows it, what it does, and whether `xe help` lists it too. */
interface UsageOption {
  readonly syntax: string;
  readonly text: string;
  readonly inHelp: boolean;
}

const OPTIONS: readonly UsageOption[] = [
  { syntax: '-s <server>', text: 'XenServer host', inHelp: true },
  { syntax: '-p <port>', text: 'XenServer port number', inHelp: true },
  {
    syntax: '-u <username> -pw <password> | -pwf <password file>',
    text: 'User authentication (password or file)',
    inHelp: true,
  },
  { syntax: '--nossl', text: 'Disable SSL/TLS', inHelp: true },
  { syntax: '--debug', text: 'Enable debug output', inHelp: true },
  { syntax: '--debug-on-fail', text: 'Enable debug output only on failure', inHelp: true },
  { syntax: '--minimal', text: 'Output only values in a comma-separated lists', inHelp: false },
  { syntax: '--traceparent <value>', text: 'Distributed tracing context', inHelp: true },
  { syntax: '--trace', text: 'Show task stacktrace on failure', inHelp: false },
  { syntax: '<other arguments> ...', text: 'Command-specific options', inHelp: true },
];

/** Descriptions start in this column; a longer option gets its description on the next line. */
const TEXT_COLUMN = 31;

/** `Usage:`, the command line and the options, one a line (the text both forms share). */
function synopsis(argv0: string, help: boolean): string {
  const lines = OPTIONS.filter((o) => !help || o.inHelp).map((o) => {
    const opt = `    [ ${o.syntax} ]`;
    return opt.length < TEXT_COLUMN - 1
      ? opt.padEnd(TEXT_COLUMN) + o.text
      : `${opt}\n${' '.repeat(TEXT_COLUMN)}${o.text}`;
  });
  return `Usage:\n  ${argv0} <command>\n${lines.join('\n')}\n`;
}

/** The usage text newcli.ml prints (to stderr) for `-help`, no arguments, or a bad port. */
export function usageText(argv0: string): string {
  return `${synopsis(argv0, false)}
A full list of commands can be obtained by running
  ${argv0} help -s <server> -p <port>
`;
}

/** The head of `xe help` and `xe help --all` (cli_frontend.ml `rio_help`), before the command lists. */
export const HELP_HEADER = `${synopsis('xe', true)}
To get help on a specific command:
  xe help <command>

`;
