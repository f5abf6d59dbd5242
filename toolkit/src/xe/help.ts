/**
 * `xe help`, `xe help <command>`, `xe help --all` (cli_frontend.ml `rio_help`): a record per named command, or the
 * common/full command lists wrapped as the real CLI wraps them.
 */
import type { CommandDef } from './command-types.js';
import type { Printer } from './printer.js';
import { HELP_HEADER } from './usage.js';

const VM_SELECTORS_INFO =
  " VMs can be specified by filtering the full list of VMs on the values of zero or more fields. For example, specifying 'uuid=<some_uuid>' will select only the VM with that uuid, and 'power-state=halted' will select only VMs whose 'power-state' field is equal to 'halted'. The special pseudo-field 'vm' matches either of name-label or uuid. Where multiple VMs are matching, the option '--multiple' must be specified to perform the operation. The full list of fields that can be matched can be obtained by the command 'xe vm-list params=all'. If no parameters to select VMs are given, the operation will be performed on all VMs.";
const HOST_SELECTORS_INFO =
  " Hosts can be specified by filtering the full list of hosts on the values of zero or more fields. For example, specifying 'uuid=<some_uuid>' will select only the host with that uuid, and 'enabled=true' will select only hosts whose 'enabled' field is equal to 'true'. The special pseudo-field 'host' matches any of hostname, name-label or uuid. Where multiple hosts are matching, and the operation can be performed on multiple hosts, the option '--multiple' must be specified to perform the operation. The full list of fields that can be matched can be obtained by the command 'xe host-list params=all'. If no parameters to select hosts are given, the operation will be performed on all hosts.";
const SR_SELECTORS_INFO =
  " SRs can be specified by filtering the full list of SRs on the values of zero or more fields. For example, specifying 'uuid=<some_uuid>' will select only the sr with that uuid, and 'enabled=true' will select only srs whose 'enabled' field is equal to 'true'. The special pseudo-field 'sr' matches either of name-label or uuid. Where multiple SRs are matching, and the operation can be performed on multiple SRs, the option '--multiple' must be specified to perform the operation. The full list of fields that can be matched can be obtained by the command 'xe sr-list params=all'. If no parameters to select SRs are given, the operation will be performed on all SRs.";

/** Optional parameters as help shows them: the command's own, then the selector placeholder. */
export function helpOptional(c: CommandDef): string[] {
  const sel = c.flags.includes('vm')
    ? ['<vm-selectors>']
    : c.flags.includes('sr')
      ? ['<sr-selectors>']
      : c.flags.includes('host')
        ? ['<host-selectors>']
        : [];
  return [...c.optn, ...sel];
}

/** The description as help shows it: the help sentence plus the selectors explanation. */
export function helpDescription(c: CommandDef): string {
  const kinds = ['vm', 'host', 'sr'].filter((k) => c.flags.includes(k));
  if (kinds.length !== 1) return c.help;
  return (
    c.help +
    (kinds[0] === 'vm' ? VM_SELECTORS_INFO : kinds[0] === 'host' ? HOST_SELECTORS_INFO : SR_SELECTORS_INFO)
  );
}

/** Wraps names into lines of at most ~74 characters, indented 4 (cli_frontend.ml `make_list`). */
function makeList(names: readonly string[]): string[] {
  const indent = '    ';
  const lines: string[] = [];
  let cur = indent + (names[0] ?? '');
  for (const n of names.slice(1)) {
    if (cur.length + n.length > 74) {
      lines.push(cur);
      cur = indent + n;
    } else cur += ', ' + n;
  }
  lines.push(cur);
  return lines;
}

/** Runs `xe help …` with the command's parameters. */
export function runHelp(
  printer: Printer,
  params: readonly (readonly [string, string])[],
  table: ReadonlyMap<string, CommandDef>,
): void {
  const named = params.filter(
    ([k]) => !['server', 'username', 'password', 'port', 'minimal', 'all'].includes(k),
  );
  if (named.length > 0) {
    for (const [name] of named) {
      const c = table.get(name);
      if (!c) {
        printer.list([`Unknown command '${name}'`]);
        continue;
      }
      printer.table([
        [
          ['command name        ', name],
          ['reqd params     ', c.reqd.join(', ')],
          ['optional params ', helpOptional(c).join(', ')],
          ['description     ', helpDescription(c)],
        ],
      ]);
    }
    return;
  }
  const visible = [...table.values()].filter((c) => !c.flags.includes('hidden')).map((c) => c.name);
  visible.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (params.some(([k, v]) => k === 'all' && v === 'true')) {
    const host = visible.filter((n) => n.startsWith('host-'));
    const vm = visible.filter((n) => n.startsWith('vm-'));
    const other = visible.filter((n) => !n.startsWith('host-') && !n.startsWith('vm-'));
    if (printer.minimal) {
      printer.list(visible);
      return;
    }
    printer.list([HELP_HEADER + 'Full command list\n-----------------\n']);
    printer.list(makeList(host));
    printer.list(makeList(['']));
    printer.list(makeList(vm));
    printer.list(makeList(['']));
    printer.list(makeList(other));
    return;
  }
  const standard = visible.filter((n) => table.get(n)?.flags.includes('standard'));
  if (printer.minimal) {
    printer.list(standard);
    return;
  }
  printer.list([
    HELP_HEADER +
      'To get a full listing of commands:\n  xe help --all\n\nCommon command list\n-------------------\n',
  ]);
  printer.list(makeList(standard));
}
