/** `xenlab sim`: runs a XenAPI simulator until interrupted. */
import { parseArgs } from 'node:util';
import { ScenarioError, startSimulator } from '../sim/index.js';
import type { CliCommand } from './index.js';

const USAGE = `usage: xenlab sim [--port N] [--host ADDR] [--user U --password P] [--scenario FILE] [--seed S]
                  [--state FILE] [--fast] [--control-token T]

Runs a simulated XCP-ng pool (XML-RPC on /, JSON-RPC on /jsonrpc). Defaults: port 0 (any), 127.0.0.1,
root / xenlab, the built-in 3-host pool. --state keeps the pool across restarts.`;

/** The `sim` command. */
export const simCommand: CliCommand = {
  summary: 'run a simulated XCP-ng pool (XenAPI over XML-RPC and JSON-RPC)',
  usage: USAGE,
  async run(argv, io) {
    let values;
    try {
      ({ values } = parseArgs({
        args: [...argv],
        options: {
          port: { type: 'string', default: '0' },
          host: { type: 'string', default: '127.0.0.1' },
          user: { type: 'string' },
          password: { type: 'string' },
          scenario: { type: 'string' },
          seed: { type: 'string' },
          state: { type: 'string' },
          fast: { type: 'boolean', default: false },
          'control-token': { type: 'string' },
          help: { type: 'boolean', short: 'h', default: false },
        },
        strict: true,
      }));
    } catch (e) {
      io.err(`xenlab sim: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      io.err(`xenlab sim: --port must be a number from 0 to 65535, got '${values.port}'`);
      return 2;
    }
    let running;
    try {
      running = await startSimulator({
        port,
        host: values.host,
        fast: values.fast,
        ...(values.user !== undefined ? { user: values.user } : {}),
        ...(values.password !== undefined ? { password: values.password } : {}),
        ...(values.scenario !== undefined ? { scenario: values.scenario } : {}),
        ...(values.seed !== undefined ? { seed: values.seed } : {}),
        ...(values.state !== undefined ? { stateFile: values.state } : {}),
        ...(values['control-token'] !== undefined ? { controlToken: values['control-token'] } : {}),
      });
    } catch (e) {
      io.err(e instanceof ScenarioError ? e.message : `xenlab sim: ${(e as Error).message}`);
      return 1;
    }
    io.out(`xenlab sim listening on ${running.url}`);
    io.out(
      `control API on ${running.controlUrl}${values['control-token'] === undefined ? '' : ' (bearer token as given)'}`,
    );
    const sim = running;
    return new Promise<number>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void sim.close().then(() => {
          resolve(0);
        });
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  },
};
