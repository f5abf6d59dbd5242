/**
 * The process entry of `xe`: real argv, stdout/stderr, files, and the toolkit's XenAPI client.
 */
import { readFileSync } from 'node:fs';
import { createClient } from '../xenapi/client.js';
import { main, type XeClient } from './main.js';

function readFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function readLine(): Promise<string> {
  // Loaded only when a command asks for confirmation: readline is not on the startup path.
  const { createInterface } = await import('node:readline');
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    let done = false;
    const finish = (line: string) => {
      if (done) return;
      done = true;
      rl.close();
      resolve(line);
    };
    rl.once('line', finish);
    rl.once('close', () => {
      finish('');
    });
  });
}

/**
 * Runs `xe` with the process's arguments and resolves to its exit code once its output has been handed to the
 * streams (the caller exits with it).
 */
export async function runCli(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  // A reader that went away (`xe vm-list | head -1`) ends the run quietly, like a closed pipe ends `cat`.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(1);
      throw e;
    });
  }
  const code = await main({
    argv,
    io: {
      stdout: (s) => {
        process.stdout.write(s);
      },
      stderr: (s) => {
        process.stderr.write(s);
      },
    },
    env: process.env,
    readFile,
    readLine,
    argv0: 'xe',
    createClient: (o): XeClient =>
      createClient({
        url: o.url,
        user: o.user,
        password: o.password,
        allowUnauthorized: o.allowUnauthorized,
        originator: o.originator,
      }),
  });
  // Let queued output reach a pipe before the caller exits (process.exit could otherwise cut it short).
  await new Promise<void>((resolve) =>
    process.stderr.write('', () => {
      resolve();
    }),
  );
  await new Promise<void>((resolve) =>
    process.stdout.write('', () => {
      resolve();
    }),
  );
  return code;
}
