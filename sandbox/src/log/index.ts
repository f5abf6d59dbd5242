/**
 * Structured logs for the gateway and what runs in it (pino 10): levels, child loggers carrying the ids of a
 * request, a learner or an environment, and a stable `code` on every line about an error. Written to stderr, as
 * JSON lines for operators (`XENLAB_LOG_FORMAT=json`: one object per line with `level`, `time`, `msg` and the
 * fields) or as one readable line each (`text`, the default; the level coloured on a terminal).
 * `xenlab serve --log-level LEVEL` (or `XENLAB_LOG_LEVEL`) sets the level; `info` by default.
 * @module
 */
import pino from 'pino';
import { codeOf } from '../errors/index.js';

/** Levels, most severe first; `silent` logs nothing. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** `json`: one JSON object per line, for log collectors; `text`: one readable line, for people. */
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Fields a child logger adds to each of its lines. */
export interface LogContext {
  /** The part of xenlab logging, e.g. `drivers/local`, `sessions`. */
  readonly module?: string;
  readonly requestId?: string;
  readonly learnerId?: string;
  readonly environmentId?: string;
  readonly [field: string]: unknown;
}

/**
 * The fields of one line. `err` (anything thrown) is written as `{ type, message, stack }` with its stable code
 * in `code` (a `XenlabError`'s, Node's `ENOENT`…), so operators can filter lines by code.
 */
export interface LogFields {
  readonly err?: unknown;
  readonly [field: string]: unknown;
}

export type LogFn = (msg: string, fields?: LogFields) => void;

export interface Logger {
  readonly level: LogLevel;
  readonly fatal: LogFn;
  readonly error: LogFn;
  readonly warn: LogFn;
  readonly info: LogFn;
  readonly debug: LogFn;
  readonly trace: LogFn;
  /** A logger that adds `context` to every line (and keeps this one's). */
  child(context: LogContext): Logger;
  /** Whether a line at `level` would be written (to skip building costly fields). */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean;
}

export interface LoggerOptions {
  /** Default `info`. */
  readonly level?: LogLevel;
  /** Default `text`. */
  readonly format?: LogFormat;
  /** Where lines go (default stderr); `write` gets one line at a time, newline included. */
  readonly destination?: { write(line: string): unknown };
  /** Colour the level in the `text` format (default: when the destination is stderr and stderr is a terminal). */
  readonly color?: boolean;
}

/** An error as a log field: its type, message and stack, and its code next to it. */
export function errorFields(err: unknown): Record<string, unknown> {
  const code = codeOf(err);
  const e =
    err instanceof Error
      ? { type: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) }
      : { message: String(err) };
  return { ...(code === undefined ? {} : { code }), err: e };
}

const COLORS: Record<string, string> = {
  fatal: '\x1b[35m',
  error: '\x1b[31m',
  warn: '\x1b[33m',
  info: '\x1b[32m',
  debug: '\x1b[36m',
  trace: '\x1b[90m',
};

/** A JSON line from pino as one readable line: `12:34:56.789 WARN  [module] message key=value … err="…"`. */
export function formatText(line: string, color = false): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line; // not ours: pass it on as it is
  }
  const { level, time, msg, module, err, pid: _pid, hostname: _host, ...rest } = o;
  const label = typeof level === 'string' ? level : 'info';
  const t = typeof time === 'string' ? time.slice(11, 23) : new Date().toISOString().slice(11, 23);
  const lvl = label.toUpperCase().padEnd(5);
  const parts = [t, color ? `${COLORS[label] ?? ''}${lvl}\x1b[0m` : lvl];
  if (typeof module === 'string') parts.push(`[${module}]`);
  parts.push(typeof msg === 'string' ? msg : '');
  for (const [k, v] of Object.entries(rest))
    parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  if (err && typeof err === 'object') {
    const m = (err as { message?: unknown }).message;
    if (typeof m === 'string') parts.push(`err=${JSON.stringify(m.split('\n')[0] ?? m)}`);
  }
  return `${parts.join(' ')}\n`;
}

class PinoLogger implements Logger {
  constructor(private readonly p: pino.Logger) {}
  get level(): LogLevel {
    return this.p.level as LogLevel;
  }
  private at(level: Exclude<LogLevel, 'silent'>): LogFn {
    return (msg, fields) => {
      if (!this.p.isLevelEnabled(level)) return;
      if (fields === undefined) {
        this.p[level](msg);
        return;
      }
      const { err, ...rest } = fields;
      this.p[level](err === undefined ? rest : { ...rest, ...errorFields(err) }, msg);
    };
  }
  readonly fatal = this.at('fatal');
  readonly error = this.at('error');
  readonly warn = this.at('warn');
  readonly info = this.at('info');
  readonly debug = this.at('debug');
  readonly trace = this.at('trace');
  child(context: LogContext): Logger {
    return new PinoLogger(this.p.child(context));
  }
  enabled(level: Exclude<LogLevel, 'silent'>): boolean {
    return this.p.isLevelEnabled(level);
  }
}

/**
 * Makes a logger.
 * @example
 * const log = createLogger({ level: 'debug', format: 'json' });
 * log.child({ environmentId: 'e-1' }).warn('could not end the shell', { err });
 * // {"level":"warn","time":"…","environmentId":"e-1","code":"ESRCH","err":{…},"msg":"could not end the shell"}
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? 'text';
  const toStderr = options.destination === undefined;
  const json = options.destination ?? pino.destination({ fd: 2, sync: true });
  const color = options.color ?? (toStderr && process.stderr.isTTY);
  const stream =
    format === 'json'
      ? json
      : {
          write: (line: string) => {
            if (toStderr) process.stderr.write(formatText(line, color));
            else json.write(formatText(line, color));
          },
        };
  return new PinoLogger(
    pino(
      {
        level: options.level ?? 'info',
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        // `err` is already made a plain object by errorFields (with its code beside it): no second pass.
        serializers: { err: (e: unknown) => e },
      },
      stream,
    ),
  );
}

/**
 * The level and format from a flag and the environment (`XENLAB_LOG_LEVEL`, `XENLAB_LOG_FORMAT`); a message
 * naming the bad value when one is not valid.
 * @example
 * const o = logOptionsFrom(values['log-level'], process.env);
 * if (typeof o === 'string') return bad(o);
 */
export function logOptionsFrom(
  levelFlag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): { level: LogLevel; format: LogFormat } | string {
  // An empty variable counts as unset.
  const set = (v: string | undefined): string | undefined => (v === '' ? undefined : v);
  const level = levelFlag ?? set(env.XENLAB_LOG_LEVEL) ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level))
    return `${levelFlag === undefined ? 'XENLAB_LOG_LEVEL' : '--log-level'} must be one of ${LOG_LEVELS.join(', ')}, not "${level}"`;
  const format = set(env.XENLAB_LOG_FORMAT) ?? 'text';
  if (!(LOG_FORMATS as readonly string[]).includes(format))
    return `XENLAB_LOG_FORMAT must be json or text, not "${format}"`;
  return { level: level as LogLevel, format: format as LogFormat };
}

let root: Logger | undefined;

/** The process's logger: what {@link setLogger} set (`xenlab serve` does), else one from the environment. */
export function rootLogger(): Logger {
  if (!root) {
    const o = logOptionsFrom(undefined, process.env);
    root = createLogger(typeof o === 'string' ? {} : o);
  }
  return root;
}

/** Makes `logger` the process's logger: every {@link moduleLogger} writes through it from now on. */
export function setLogger(logger: Logger): void {
  root = logger;
}

/**
 * Makes the process's logger from `xenlab serve`'s options (see {@link logOptionsFrom}) and says so at debug.
 * @example
 * const logger = configureLogging({ level: 'debug', format: 'json' });
 */
export function configureLogging(options: LoggerOptions): Logger {
  const logger = createLogger(options);
  setLogger(logger);
  logger.debug('logging', { level: logger.level, format: options.format ?? 'text' });
  return logger;
}

/**
 * A module's logger, for modules loaded before `xenlab serve` sets the level: each line goes through the
 * process's logger of that moment, with `module` added.
 * @example
 * const log = moduleLogger('drivers/local');
 * try { process.kill(-pid, 'SIGKILL'); } catch (err) { log.debug('the shell was gone already', { err }); }
 */
export function moduleLogger(module: string): Logger {
  let base: Logger | undefined;
  let child: Logger | undefined;
  const current = (): Logger => {
    const r = rootLogger();
    if (r !== base || !child) {
      base = r;
      child = r.child({ module });
    }
    return child;
  };
  const at =
    (level: Exclude<LogLevel, 'silent'>): LogFn =>
    (msg, fields) => {
      current()[level](msg, fields);
    };
  return {
    get level() {
      return current().level;
    },
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    child: (context) => current().child(context),
    enabled: (level) => current().enabled(level),
  };
}

/**
 * The gateway's `logError` option on top of a logger: `what` (e.g. `GET /api/ticket`) failed, with the error and
 * its code.
 */
export function logErrorTo(logger: Logger): (what: string, err: unknown) => void {
  return (what, err) => {
    logger.error(`${what} failed`, { err });
  };
}
