/**
 * The process entry of `xe`: real argv, stdout/stderr, files, and the toolkit's XenAPI client.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createClient } from '../xenapi/client.js';
import { main, type XeClient } from './main.js';

function readFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function readLine(): Promise<string> {
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

/** Runs `xe` with the process's arguments and exits with its code. Output is written before exiting. */
export async function runCli(argv: readonly string[] = process.argv.slice(2)): Promise<never> {
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
  // Let queued output reach a pipe before exiting (process.exit could otherwise cut it short).
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
  process.exit(code);
}
