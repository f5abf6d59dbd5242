/**
 * The typed command table: each tool declares its options once (name, type, default, description) and gets them
 * parsed, validated and typed; `--help` and the site's reference page are generated from the same declarations.
 */
import type { ToolContext } from './context.js';
import { ToolError, ToolErrorCode } from './errors.js';

/** One option of a tool; its CLI spelling is the kebab-case of its key (`nameLike` → `--name-like`). */
export interface OptionSpec {
  readonly type: 'string' | 'number' | 'boolean';
  readonly description: string;
  readonly default?: string | number | boolean;
  readonly required?: boolean;
  /** Allowed values of a string option. */
  readonly choices?: readonly string[];
  /** Shown in help instead of the type (e.g. `FILE`, `N`). */
  readonly placeholder?: string;
  /** Environment variable read when the option is absent. */
  readonly env?: string;
  /** Minimum of a number option. */
  readonly min?: number;
  /** May also be given as the first bare argument (`balance start` = `balance --action start`). */
  readonly positional?: boolean;
}

/** The options record of a tool. */
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type ValueOf<S> = S extends { readonly type: infer T } ? ValueOfType<S, T> : never;
type ValueOfType<S, T> = T extends 'number'
  ? number
  : T extends 'boolean'
    ? boolean
    : S extends { readonly choices: readonly (infer C)[] }
      ? C
      : string;
/** Parsed options: options with a default, required ones and booleans are always present. */
export type OptionValues<O extends OptionSpecs> = {
  readonly [K in keyof O]: O[K] extends { readonly default: unknown } | { readonly required: true }
    ? ValueOf<O[K]>
    : O[K]['type'] extends 'boolean'
      ? boolean
      : ValueOf<O[K]> | undefined;
};

/** A tool as the command table holds it (options erased). */
export interface Tool {
  readonly name: string;
  /** One line for the tool list. */
  readonly summary: string;
  /** A paragraph for `--help` and the reference page. */
  readonly description: string;
  readonly examples: readonly string[];
  /** Extra Markdown for the reference page (input formats, what was validated); not shown by `--help`. */
  readonly details?: string;
  /** Talks to a pool (gets the connection options). */
  readonly usesPool: boolean;
  readonly options: OptionSpecs;
  /** Exit codes beyond 0 (success), 1 (failure) and 2 (usage), documented in help. */
  readonly exitCodes?: Readonly<Record<number, string>>;
  /** The session originator it logs in with (default `xenlab-tools`), so a pool can tell its sessions apart. */
  readonly originator?: string;
  run(ctx: ToolContext, options: Readonly<Record<string, unknown>>): Promise<number>;
}

/** What a tool author writes. */
export interface ToolSpec<O extends OptionSpecs> extends Omit<Tool, 'run' | 'options'> {
  readonly options: O;
  run(ctx: ToolContext, options: OptionValues<O>): Promise<number>;
}

/**
 * Declares a tool with typed options.
 * @example
 * export const hello = defineTool({
 *   name: 'hello', summary: 'greets', description: '…', examples: ['xenlab-tools hello --name x'], usesPool: false,
 *   options: { name: { type: 'string', required: true, description: 'who' } },
 *   async run(ctx, o) { ctx.io.stdout(`hello ${o.name}\n`); return 0; },
 * });
 */
export function defineTool<const O extends OptionSpecs>(spec: ToolSpec<O>): Tool {
  return {
    ...spec,
    run: (ctx, options) => spec.run(ctx, options as OptionValues<O>),
  };
}

/** `nameLike` → `name-like`. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Connection options every pool tool accepts (added by the runner). */
export const POOL_OPTIONS = {
  url: {
    type: 'string',
    placeholder: 'URL',
    env: 'XENLAB_URL',
    description: 'The pool coordinator, e.g. https://192.0.2.10 or the simulator URL `xenlab sim` prints.',
  },
  user: { type: 'string', default: 'root', env: 'XENLAB_USER', description: 'Login user.' },
  password: {
    type: 'string',
    env: 'XENLAB_PASSWORD',
    description: 'Login password (prefer the environment).',
  },
  passwordFile: { type: 'string', placeholder: 'FILE', description: 'Read the password from a file.' },
  insecure: {
    type: 'boolean',
    description: 'Accept a self-signed TLS certificate (XCP-ng and XenServer make one at install).',
  },
} as const satisfies OptionSpecs;

/** The options a tool accepts, pool options included. */
export function allOptions(tool: Tool): OptionSpecs {
  return tool.usesPool ? { ...tool.options, ...POOL_OPTIONS } : tool.options;
}

function usage(tool: string, message: string): ToolError {
  return new ToolError(ToolErrorCode.usage, `${message} (see \`xenlab-tools ${tool} --help\`)`);
}

/**
 * Parses `--name value`, `--name=value`, `--flag`, `--no-flag` against a tool's options, applying environment
 * variables and defaults; unknown options, missing values and bad numbers are usage errors.
 */
export function parseOptions(
  tool: Tool,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Record<string, unknown> {
  const specs = allOptions(tool);
  const byFlag = new Map(Object.keys(specs).map((k) => [kebab(k), k]));
  const out: Record<string, unknown> = {};
  const convert = (spec: OptionSpec, raw: string, from: string): unknown => {
    if (spec.type === 'number') {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n))
        throw usage(tool.name, `${from} wants a number, got "${raw}"`);
      if (spec.min !== undefined && n < spec.min)
        throw usage(tool.name, `${from} must be at least ${spec.min}`);
      return n;
    }
    if (spec.type === 'boolean') {
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw usage(tool.name, `${from} wants true or false, got "${raw}"`);
    }
    if (spec.choices && !spec.choices.includes(raw))
      throw usage(tool.name, `${from} must be one of ${spec.choices.join(', ')}, got "${raw}"`);
    return raw;
  };
  const positional = Object.entries(specs).find(([, s]) => s.positional);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--') && i === 0 && positional) {
      out[positional[0]] = convert(positional[1], arg, kebab(positional[0]));
      continue;
    }
    if (!arg.startsWith('--')) throw usage(tool.name, `unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    let flag = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let negated = false;
    if (!byFlag.has(flag) && flag.startsWith('no-') && byFlag.has(flag.slice(3))) {
      flag = flag.slice(3);
      negated = true;
    }
    const key = byFlag.get(flag);
    const spec = key === undefined ? undefined : specs[key];
    if (key === undefined || !spec) throw usage(tool.name, `unknown option --${flag}`);
    if (spec.type === 'boolean') {
      out[key] = eq === -1 ? !negated : convert(spec, arg.slice(eq + 1), `--${flag}`);
      continue;
    }
    let raw: string | undefined;
    if (eq !== -1) raw = arg.slice(eq + 1);
    else {
      raw = argv[i + 1];
      i++;
    }
    if (raw === undefined) throw usage(tool.name, `--${flag} needs a value`);
    out[key] = convert(spec, raw, `--${flag}`);
  }
  for (const [key, spec] of Object.entries(specs)) {
    if (out[key] !== undefined) continue;
    const fromEnv = spec.env === undefined ? undefined : env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') out[key] = convert(spec, fromEnv, spec.env ?? key);
    else if (spec.default !== undefined) out[key] = spec.default;
    else if (spec.type === 'boolean') out[key] = false;
    else if (spec.required) throw usage(tool.name, `--${kebab(key)} is required`);
  }
  return out;
}

function optionLine(key: string, spec: OptionSpec): [string, string] {
  const value =
    spec.type === 'boolean'
      ? ''
      : ` ${spec.placeholder ?? (spec.choices ? spec.choices.join('|') : spec.type.toUpperCase())}`;
  const notes: string[] = [];
  if (spec.required) notes.push('required');
  if (spec.default !== undefined && spec.type !== 'boolean') notes.push(`default ${String(spec.default)}`);
  if (spec.env) notes.push(`env ${spec.env}`);
  if (spec.positional) notes.push('or as the first argument');
  return [`--${kebab(key)}${value}`, `${spec.description}${notes.length ? ` (${notes.join('; ')})` : ''}`];
}

/** The `--help` text of a tool. */
export function toolHelp(tool: Tool): string {
  const lines = [`xenlab-tools ${tool.name} — ${tool.summary}`, '', tool.description, '', 'Options:'];
  const rows = Object.entries(tool.options).map(([k, s]) => optionLine(k, s));
  const pool = tool.usesPool ? Object.entries(POOL_OPTIONS).map(([k, s]) => optionLine(k, s)) : [];
  const width = Math.max(...[...rows, ...pool].map(([a]) => a.length), 10) + 2;
  for (const [a, b] of rows) lines.push(`  ${a.padEnd(width)}${b}`);
  lines.push(`  ${'--help'.padEnd(width)}Show this help.`);
  if (pool.length) {
    lines.push('', 'Pool connection:');
    for (const [a, b] of pool) lines.push(`  ${a.padEnd(width)}${b}`);
  }
  lines.push('', 'Examples:', ...tool.examples.map((e) => `  ${e}`));
  const codes = {
    0: 'success',
    1: 'failure (the message says why)',
    2: 'bad command line',
    ...tool.exitCodes,
  };
  lines.push('', 'Exit codes:', ...Object.entries(codes).map(([c, d]) => `  ${c}  ${d}`));
  return `${lines.join('\n')}\n`;
}

/** Options as rows, for the reference page generator. */
export function optionRows(tool: Tool): { flag: string; text: string }[] {
  return Object.entries(allOptions(tool)).map(([k, s]) => {
    const [flag, text] = optionLine(k, s);
    return { flag, text };
  });
}
