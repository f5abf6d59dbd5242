import type { Command } from './args.js';
import type { Printer } from './printer.js';
import type { Api, Db } from './records.js';
import type { XeTransfer } from './transfer.js';

/** The real command table's facts for one command (cli_frontend.ml): what `xe help <cmd>` prints. */
export interface CmdSpec {
  readonly reqd: readonly string[];
  readonly optn: readonly string[];
  readonly help: string;
  /** `standard` (in `xe help`), `hidden`, and the selector kinds `vm`, `host`, `sr`. */
  readonly flags: readonly string[];
}

/** Every command of the real table by name. */
export type CmdSpecTable = Readonly<Record<string, CmdSpec>>;

/** What a command implementation gets. */
export interface CommandContext {
  readonly api: Api;
  readonly db: Db;
  readonly printer: Printer;
  readonly cmd: Command;
  /** The parameters, in order (the `key=value` pairs and `--flags`). */
  readonly params: readonly (readonly [string, string])[];
  /** Reads one line from the user (the confirmation prompts of destructive commands); '' when there is none. */
  readLine(): Promise<string>;
  /** The session the command runs in (import/export URLs carry it as `session_id`). */
  readonly session: string;
  /** File transfers with the server (the thin client's `HttpGet` / `HttpPut`). */
  readonly transfer: XeTransfer;
}

/** One `xe` command: its table entry and what it does. */
export interface CommandDef extends CmdSpec {
  readonly name: string;
  run(ctx: CommandContext): Promise<void>;
}
