/**
 * The failures `xe` reports, and how each is printed. Sentences follow xen-api ocaml/xapi-cli-server/xapi_cli.ml
 * `exception_handler` and cli_util.ml `server_error`: everything goes to stderr and the exit code is 1.
 */
import { ERRORS } from '../xenapi/generated/errors.js';

/** A CLI-side failure (`Cli_util.Cli_failure`): printed as `Error: <message>`. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
}

/** A required parameter is missing: `Required parameter not found: <name>` + the usage hint. */
export class ParamNotFound extends Error {
  override readonly name = 'ParamNotFound';
  constructor(readonly param: string) {
    super(param);
  }
}

/** `Unknown command: <name>` + the usage hint. */
export class UnknownCommand extends Error {
  override readonly name = 'UnknownCommand';
  constructor(readonly command: string) {
    super(command);
  }
}

/** `Syntax error: <detail>` + the usage hint (e.g. `command name is missing`). */
export class CliSyntaxError extends Error {
  override readonly name = 'CliSyntaxError';
}

/** A record field the command named does not exist (records.ml `CLI_failed_to_find_param`). */
export class FieldNotFound extends Error {
  override readonly name = 'FieldNotFound';
  constructor(readonly field: string) {
    super(field);
  }
}

/** `--multiple` operations where some objects failed: one `operation failed on <uuid>: <msg>` line each, on stdout. */
export class MultipleFailure extends Error {
  override readonly name = 'MultipleFailure';
  constructor(readonly failures: readonly (readonly [string, string])[]) {
    super('multiple failures');
  }
}

/** Leave with this exit code; whatever needed saying was printed already. */
export class ExitWithError extends Error {
  override readonly name = 'ExitWithError';
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** An API error as the client raises it (`XapiError { code, params }`), recognised by shape. */
export interface ApiErrorLike {
  readonly code: string;
  readonly params: readonly string[];
}

/** True for a XenAPI error (`XapiError` of the client, or anything with a string code and a params array). */
export function isApiError(e: unknown): e is ApiErrorLike {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'string' &&
    Array.isArray((e as { params?: unknown }).params)
  );
}

/**
 * The lines `xe` prints for an API error: the datamodel doc sentence, then `name: value` per documented parameter
 * (`<extra>` / `<unknown>` when counts differ) — or, for a code the datamodel does not know, `Error code:` and
 * `Error parameters:` (newcli.ml prints the protocol's `Error` command that way).
 */
export function serverErrorLines(code: string, params: readonly string[]): string[] {
  const spec = ERRORS[code];
  if (!spec) return [`Error code: ${code}`, `Error parameters: ${params.join(', ')}`];
  // cli_util.ml: VMS_FAILED_TO_COOPERATE names every parameter "VM".
  const names = code === 'VMS_FAILED_TO_COOPERATE' ? params.map(() => 'VM') : spec.params;
  const lines = [spec.doc];
  const n = Math.max(names.length, params.length);
  for (let i = 0; i < n; i++) {
    const name = names[i];
    const value = params[i];
    if (name === undefined) lines.push(`<extra>: ${value ?? ''}`);
    else if (value === undefined) lines.push(`${name}: <unknown>`);
    else lines.push(`${name}: ${value}`);
  }
  return lines;
}
