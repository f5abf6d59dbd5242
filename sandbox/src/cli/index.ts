/**
 * The `xenlab` command line: a table of commands, each in its own file. Adding a command = one file in this folder
 * and one line in {@link COMMANDS}.
 * @module
 */
import { imageCommand } from './image.js';
import { labCommand } from './lab.js';
import { serveCommand } from './serve.js';
import { simCommand } from './sim.js';

/** Where a command writes; injected so commands are testable in-process. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** One subcommand. `run` resolves with the exit code once the command is done (a server resolves on shutdown). */
export interface CliCommand {
  readonly summary: string;
  readonly usage: string;
  run(argv: readonly string[], io: CliIo): Promise<number>;
}

/** Every `xenlab` subcommand by name. */
export const COMMANDS: Readonly<Record<string, CliCommand>> = {
  image: imageCommand,
  lab: labCommand,
  serve: serveCommand,
  sim: simCommand,
};

function help(io: CliIo): void {
  io.out('usage: xenlab <command> [options]\n');
  for (const [name, c] of Object.entries(COMMANDS)) io.out(`  ${name.padEnd(8)} ${c.summary}`);
  io.out('\nxenlab <command> --help shows the options of a command.');
}

/** Runs the CLI; resolves with the process exit code. */
export async function main(
  argv: readonly string[],
  io: CliIo = {
    out: (l) => {
      console.log(l);
    },
    err: (l) => {
      console.error(l);
    },
  },
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    help(io);
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.err(`xenlab: unknown command '${name}'`);
    help(io);
    return 2;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    // A command that failed unexpectedly: one line, no stack (XENLAB_DEBUG=1 shows it).
    io.err(`xenlab ${name}: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.XENLAB_DEBUG) io.err(String((err as Error).stack));
    return 1;
  }
}
