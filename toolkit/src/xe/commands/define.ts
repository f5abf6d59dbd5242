import type { CommandContext, CommandDef } from '../command-types.js';
import { CMDSPECS } from '../generated/cmdspecs.js';

/**
 * A command whose parameters, help and flags are those of the real command table (cli_frontend.ml), implemented
 * by `run`. Fails at load time when the name is not a real `xe` command, so the table cannot drift.
 */
export function define(name: string, run: (ctx: CommandContext) => Promise<void>): CommandDef {
  const spec = CMDSPECS[name];
  if (!spec) throw new Error(`xe: '${name}' is not in the real command table`);
  return { name, ...spec, run };
}
