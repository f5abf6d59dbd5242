import { afterEach, describe, expect, it } from 'vitest';
import { XenlabError } from '../errors/index.js';
import {
  createLogger,
  formatText,
  logErrorTo,
  logOptionsFrom,
  moduleLogger,
  rootLogger,
  setLogger,
} from './index.js';

/** A logger writing to an array of lines. */
function capture(options: Parameters<typeof createLogger>[0] = {}) {
  const lines: string[] = [];
  const log = createLogger({ ...options, destination: { write: (l: string) => lines.push(l) } });
  return { log, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('the logger', () => {
  it('writes JSON lines with level, time and msg, at its level and above', () => {
    const { log, json } = capture({ level: 'warn', format: 'json' });
    log.info('not written');
    log.warn('the disk is nearly full', { freeMb: 12 });
    expect(json()).toEqual([
      expect.objectContaining({
        level: 'warn',
        msg: 'the disk is nearly full',
        freeMb: 12,
      }),
    ]);
    expect(typeof json()[0]?.time).toBe('string');
    expect(log.enabled('info')).toBe(false);
  });

  it('puts the code of an error on its line, next to the error', () => {
    const { log, json } = capture({ format: 'json' });
    log.error('bringing up the environment failed', {
      err: new XenlabError('SANDBOX_ERR_NO_ENGINE', 'the Docker engine does not answer'),
    });
    const [line] = json();
    expect(line).toMatchObject({
      code: 'SANDBOX_ERR_NO_ENGINE',
      err: { type: 'XenlabError', message: 'SANDBOX_ERR_NO_ENGINE: the Docker engine does not answer' },
    });
  });

  it('gives child loggers the ids of a request, a learner, an environment', () => {
    const { log, json } = capture({ format: 'json', level: 'debug' });
    const env = log.child({ learnerId: 'l-1' }).child({ environmentId: 'e-1' });
    env.debug('shell ended');
    expect(json()[0]).toMatchObject({
      learnerId: 'l-1',
      environmentId: 'e-1',
      level: 'debug',
      msg: 'shell ended',
    });
  });

  it('reads as one line in the text format', () => {
    const { log, lines } = capture({ level: 'debug' });
    log.child({ module: 'drivers/local' }).warn('could not end the shell', {
      environmentId: 'e-1',
      err: Object.assign(new Error('no such process\nat …'), { code: 'ESRCH' }),
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}\[drivers\/local\] could not end the shell environmentId=e-1 code=ESRCH err="no such process"\n$/,
    );
    expect(formatText('not json\n')).toBe('not json\n');
  });

  it('reports gateway failures through logError with their code', () => {
    const { log, json } = capture({ format: 'json' });
    logErrorTo(log)('GET /api/ticket', new XenlabError('STORE_ERR_CORRUPT', 'bad', { codeInMessage: false }));
    expect(json()[0]).toMatchObject({
      level: 'error',
      msg: 'GET /api/ticket failed',
      code: 'STORE_ERR_CORRUPT',
    });
  });
});

describe('log options', () => {
  it('come from the flag, then XENLAB_LOG_LEVEL and XENLAB_LOG_FORMAT', () => {
    expect(logOptionsFrom(undefined, {})).toEqual({ level: 'info', format: 'text' });
    expect(logOptionsFrom('debug', { XENLAB_LOG_LEVEL: 'error', XENLAB_LOG_FORMAT: 'json' })).toEqual({
      level: 'debug',
      format: 'json',
    });
    expect(logOptionsFrom(undefined, { XENLAB_LOG_LEVEL: 'warn', XENLAB_LOG_FORMAT: '' })).toEqual({
      level: 'warn',
      format: 'text',
    });
  });

  it('name the bad value', () => {
    expect(logOptionsFrom('loud', {})).toBe(
      '--log-level must be one of fatal, error, warn, info, debug, trace, silent, not "loud"',
    );
    expect(logOptionsFrom(undefined, { XENLAB_LOG_LEVEL: 'loud' })).toMatch(/^XENLAB_LOG_LEVEL must be/);
    expect(logOptionsFrom(undefined, { XENLAB_LOG_FORMAT: 'xml' })).toBe(
      'XENLAB_LOG_FORMAT must be json or text, not "xml"',
    );
  });
});

describe('module loggers', () => {
  const before = rootLogger();
  afterEach(() => {
    setLogger(before);
  });

  it('write through the logger set later, with their module', () => {
    const log = moduleLogger('sessions');
    const { log: root, json } = capture({ format: 'json', level: 'debug' });
    setLogger(root);
    log.debug('terminal gone already', { environmentId: 'e-2' });
    expect(json()[0]).toMatchObject({
      module: 'sessions',
      environmentId: 'e-2',
      msg: 'terminal gone already',
    });
    expect(log.level).toBe('debug');
  });
});
