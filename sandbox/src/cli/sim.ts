/** `xenlab sim`: runs a XenAPI simulator until interrupted. */
import { parseArgs } from 'node:util';
import { ScenarioError, startSimulator } from '../sim/index.js';
import type { CliCommand } from './index.js';

const USAGE = `usage: xenlab sim [--port N] [--host ADDR] [--user U --password P] [--scenario FILE] [--seed S]
                  [--state FILE] [--fast] [--control-token T] [--https] [--shared-storage DIR]

Runs a simulated XCP-ng pool (XML-RPC on /, JSON-RPC on /jsonrpc, import/export on /export, /import…).
Defaults: port 0 (any), 127.0.0.1, root / xenlab, the built-in 3-host pool. --state keeps the pool (and
small disk contents) across restarts. --https listens with TLS, with a self-signed certificate made at the
first start (by openssl; kept beside --state, else for this run only) as a fresh XCP-ng host has: clients
must trust it (its fingerprint is printed) or skip verification (xenlab-tools --insecure). The control API
token comes from --control-token or XENLAB_SIM_CONTROL_TOKEN, else a random one is printed.
--shared-storage names a directory other simulators may share: SRs' replicated metadata lives there, so
another pool started with the same directory can recover this one's VMs (drtask-create, vm-recover).`;

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
          https: { type: 'boolean', default: false },
          'control-token': { type: 'string' },
          'shared-storage': { type: 'string' },
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
    // XENLAB_SIM_CONTROL_TOKEN keeps the token out of `ps` output.
    const tokenOption = values['control-token'] ?? process.env.XENLAB_SIM_CONTROL_TOKEN;
    let running;
    try {
      running = await startSimulator({
        port,
        host: values.host,
        fast: values.fast,
        https: values.https,
        ...(values.user !== undefined ? { user: values.user } : {}),
        ...(values.password !== undefined ? { password: values.password } : {}),
        ...(values.scenario !== undefined ? { scenario: values.scenario } : {}),
        ...(values.seed !== undefined ? { seed: values.seed } : {}),
        ...(values.state !== undefined ? { stateFile: values.state } : {}),
        ...(tokenOption !== undefined ? { controlToken: tokenOption } : {}),
        ...(values['shared-storage'] !== undefined ? { sharedStorage: values['shared-storage'] } : {}),
      });
    } catch (e) {
      io.err(e instanceof ScenarioError ? e.message : `xenlab sim: ${(e as Error).message}`);
      return 1;
    }
    io.out(`xenlab sim listening on ${running.url}`);
    if (running.tlsFingerprint !== undefined)
      io.out(`TLS certificate (self-signed) SHA-256 fingerprint ${running.tlsFingerprint}`);
    // The control API can reset this pool; its token is printed only when we made it up (the caller knows theirs).
    io.out(
      `control API on ${running.controlUrl}${tokenOption === undefined ? ` (bearer token ${running.controlToken})` : ''}`,
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
