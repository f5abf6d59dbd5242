/**
 * The process entry of `xenlab-tools`: real streams, files, clock, Ctrl-C, raw-mode keys for live views, and the
 * toolkit's XenAPI client.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createClient } from '../xenapi/index.js';
import type { ToolFiles } from './context.js';
import { ToolError, ToolErrorCode } from './errors.js';
import { runTools } from './main.js';

/** Files on the local disk. */
export const localFiles: ToolFiles = {
  read(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new ToolError(
        ToolErrorCode.file,
        `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
  },
  write(path, text, mode) {
    try {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text, mode === undefined ? undefined : { mode });
    } catch (e) {
      throw new ToolError(
        ToolErrorCode.file,
        `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      );
    }
  },
  exists: (path) => existsSync(path),
};

async function* stdinKeys(): AsyncIterable<string> {
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  try {
    for await (const chunk of stdin) yield String(chunk);
  } finally {
    stdin.setRawMode(false);
  }
}

/**
 * Runs `xenlab-tools` with this process's arguments; resolves to the exit code once output is flushed.
 * @example
 * process.exitCode = await runToolsCli(process.argv.slice(2));
 */
export async function runToolsCli(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const controller = new AbortController();
  // The first Ctrl-C asks the tool to stop cleanly (top quits, provision finishes the VMs in flight and prints its
  // summary); a second one exits at once.
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  // The balancer runs as a service too: `balance stop` (or any supervisor) sends SIGTERM, which stops it like Ctrl-C.
  const stopsOnTerm = argv[0] === 'balance';
  if (stopsOnTerm) process.on('SIGTERM', onSigint);
  const wantsKeys = argv[0] === 'top' && process.stdin.isTTY && process.stdout.isTTY;
  const code = await runTools(argv, {
    io: {
      stdout: (s) => process.stdout.write(s),
      stderr: (s) => process.stderr.write(s),
      stdoutIsTTY: process.stdout.isTTY,
      stderrIsTTY: process.stderr.isTTY,
      get columns() {
        return process.stdout.columns || 80;
      },
      get rows() {
        return process.stdout.rows || 24;
      },
    },
    files: localFiles,
    env: process.env,
    now: () => performance.now(),
    createClient,
    signal: controller.signal,
    ...(wantsKeys ? { keys: stdinKeys() } : {}),
  });
  process.off('SIGINT', onSigint);
  if (stopsOnTerm) process.off('SIGTERM', onSigint);
  if (wantsKeys) process.stdin.pause();
  await new Promise<void>((resolve) => {
    process.stdout.write('', () => {
      resolve();
    });
  });
  await new Promise<void>((resolve) => {
    process.stderr.write('', () => {
      resolve();
    });
  });
  return code;
}
