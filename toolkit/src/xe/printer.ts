/**
 * The `xe` output formats, byte for byte as xen-api ocaml/xapi-cli-server/cli_printer.ml and the thin client
 * (newcli.ml prints every `Print` with `print_endline`) produce them.
 */

/** One printed record: `[key-with-marker, value]` pairs in field order. */
export type PrintedRecord = readonly (readonly [string, string])[];

/** Where output goes: whole chunks of text, already terminated. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/**
 * A record as `multi_line_record` lays it out: the first key padded on the right and the rest on the left to
 * 4 + the longest key, then `": "` and the value; a final newline.
 */
export function formatRecord(r: PrintedRecord): string {
  const width = 4 + r.reduce((m, [k]) => Math.max(m, k.length), 0);
  return r.map(([k, v], i) => (i === 0 ? k.padEnd(width) : k.padStart(width)) + ': ' + v).join('\n') + '\n';
}

/** `--minimal` escaping: backslash and comma are backslash-escaped (cli_printer.ml `escape_commas`). */
export function escapeCommas(s: string): string {
  return s.replace(/[\\,]/g, (c) => '\\' + c);
}

/** The printer a command writes to; in `--minimal` mode tables and lists collapse into one comma-joined line. */
export class Printer {
  readonly #io: CliIo;
  readonly #minimal: boolean;
  #buffer: string[] = [];

  constructor(io: CliIo, minimal: boolean) {
    this.#io = io;
    this.#minimal = minimal;
  }

  get minimal(): boolean {
    return this.#minimal;
  }

  /** Records (`PTable`): each one followed by two blank lines; `--minimal` keeps the first value of each. */
  table(records: readonly PrintedRecord[]): void {
    if (this.#minimal) {
      if (records.length > 0 && records.every((r) => r.length > 0)) {
        this.#buffer.unshift(records.map((r) => escapeCommas(r[0]?.[1] ?? '')).join(','));
      }
      return;
    }
    for (const r of records) this.#io.stdout(formatRecord(r) + '\n\n');
  }

  /** Lines (`PList`): one per item; `--minimal` joins them with commas. */
  list(items: readonly string[]): void {
    if (this.#minimal) {
      this.#buffer.unshift(items.map(escapeCommas).join(','));
      return;
    }
    for (const s of items) this.#io.stdout(s + '\n');
  }

  /** A message (`PMsg`); dropped in `--minimal` mode, like the real printer. */
  msg(text: string): void {
    if (!this.#minimal) this.#io.stdout(text + '\n');
  }

  /** A line on stderr (`PStderr`). */
  stderr(text: string): void {
    this.#io.stderr(text + '\n');
  }

  /** Ends the command: in `--minimal` mode prints the collected line (an empty line when nothing was found). */
  flush(): void {
    if (this.#minimal) this.#io.stdout(this.#buffer.join(',') + '\n');
    this.#buffer = [];
  }
}
