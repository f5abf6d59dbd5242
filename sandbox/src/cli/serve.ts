/** `xenlab serve`: the course site and the gateway, until interrupted. */
import { SERVE_HELP, serve } from '../gateway/index.js';
import type { CliCommand } from './index.js';

/** The `serve` command. */
export const serveCommand: CliCommand = {
  summary: 'run the course site and the terminal gateway (what `npm start` runs)',
  usage: SERVE_HELP,
  async run(argv, io) {
    if (argv.includes('--help') || argv.includes('-h')) {
      io.out(SERVE_HELP);
      return 0;
    }
    let gateway;
    try {
      gateway = await serve(argv, { out: io.out, err: io.err, env: process.env });
    } catch (err) {
      // Start-up failed past the flags (port in use, a corrupt database…): the reason in one line, no stack.
      io.err(`xenlab serve: ${err instanceof Error ? err.message : String(err)}`);
      return 1;
    }
    if (!gateway) return 2;
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        void gateway.close().then(resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
