/**
 * The `xe` command line, compatible with scripts written for XCP's real `xe`: {@link main} runs one invocation
 * against any XenAPI through an injected client; {@link runCli} wires it to the process.
 * @module
 */
export { main, type MainOptions, type XeClient, type XeClientOptions } from './main.js';
export { runCli } from './cli.js';
export { commandTable } from './commands/index.js';
export type { CommandDef, CmdSpec, CommandContext } from './command-types.js';
export { helpDescription, helpOptional } from './help.js';
export { renderCompletion, renderReference, sortedCommands } from './docs.js';
export { formatRecord, escapeCommas, Printer, type CliIo, type PrintedRecord } from './printer.js';
export { parseClientArgs, parseCommandLine, connectionUrl, type Connection } from './args.js';
export { serverErrorLines } from './errors.js';
