/**
 * The `xe` command table: every command this CLI implements, each with the real table's parameters and help.
 * `xe help`, the bash completion and the reference page on the site are all generated from this one table.
 */
import type { CommandDef } from '../command-types.js';
import { applianceDrCommands } from './appliance-dr.js';
import { hostPoolCommands } from './host-pool.js';
import { miscCommands } from './misc.js';
import { classCommands } from './params.js';
import { storageNetworkCommands } from './storage-network.js';
import { transferCommands } from './transfer.js';
import { vmCommands } from './vm.js';

let table: ReadonlyMap<string, CommandDef> | undefined;

/** All commands by name (built once). */
export function commandTable(): ReadonlyMap<string, CommandDef> {
  table ??= new Map(
    [
      ...classCommands(),
      ...vmCommands(),
      ...hostPoolCommands(),
      ...storageNetworkCommands(),
      ...miscCommands(),
      ...transferCommands(),
      ...applianceDrCommands(),
    ].map((c) => [c.name, c]),
  );
  return table;
}
