/**
 * `xenlab-tools` as a function: pick the tool from the command table, parse its options, connect to the pool when it
 * needs one, run it, print failures as one clear line with a stable code, and return the exit code.
 */
import { XapiClientError, XapiError, type XapiClient } from '../xenapi/index.js';
import { kebab, parseOptions, toolHelp, type Tool } from './command.js';
import type { PoolTarget, ToolContext, ToolHost } from './context.js';
import { ToolError, ToolErrorCode } from './errors.js';
import { createProgress } from './progress.js';
import { TOOLS } from './table.js';

/** The list shown by `xenlab-tools` / `xenlab-tools --help`. */
export function toolsHelp(tools: readonly Tool[] = TOOLS): string {
  const width = Math.max(...tools.map((t) => t.name.length)) + 2;
  return [
    'xenlab-tools — tools for XCP-ng / XenServer pools and the xenlab simulator',
    '',
    'Usage: xenlab-tools <tool> [options]     xenlab-tools <tool> --help',
    '',
    'Tools:',
    ...tools.map((t) => `  ${t.name.padEnd(width)}${t.summary}`),
    '',
    'Pool tools read --url/--user/--password or XENLAB_URL, XENLAB_USER, XENLAB_PASSWORD.',
    '',
  ].join('\n');
}

function poolTarget(tool: Tool, o: Record<string, unknown>, host: ToolHost): PoolTarget {
  const url = o.url;
  if (typeof url !== 'string' || url === '')
    throw new ToolError(
      ToolErrorCode.noPool,
      `${tool.name} talks to a pool: give --url (e.g. https://192.0.2.10) or set XENLAB_URL`,
    );
  try {
    new URL(url);
  } catch {
    throw new ToolError(
      ToolErrorCode.usage,
      `--url "${url}" is not a URL (write it like https://192.0.2.10)`,
    );
  }
  let password = typeof o.password === 'string' ? o.password : undefined;
  if (typeof o.passwordFile === 'string') password = host.files.read(o.passwordFile).replace(/\r?\n$/, '');
  if (password === undefined)
    throw new ToolError(ToolErrorCode.usage, 'no password: give --password-file FILE or set XENLAB_PASSWORD');
  return { url, user: String(o.user), password, allowUnauthorized: o.insecure === true };
}

/** Renders any failure as the lines the user sees. */
export function describeFailure(tool: string, e: unknown): string {
  const head = `xenlab-tools ${tool}: `;
  if (e instanceof ToolError)
    return `${head}${e.message} [${e.code}]\n${e.details.map((d) => `  ${d}\n`).join('')}`;
  if (e instanceof XapiError)
    return `${head}the pool refused: ${e.code}${e.params.length ? ` ${JSON.stringify(e.params)}` : ''}\n`;
  if (e instanceof XapiClientError) return `${head}${e.message} [${e.code}]\n`;
  return `${head}internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`;
}

/**
 * Runs `xenlab-tools` with the arguments after the program name; resolves to the exit code.
 * @example
 * const code = await runTools(['report', '--format', 'json'], host);
 */
export async function runTools(
  argv: readonly string[],
  host: ToolHost,
  tools: readonly Tool[] = TOOLS,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const asked = name === 'help' ? tools.find((t) => t.name === rest[0]) : undefined;
    host.io.stdout(asked ? toolHelp(asked) : toolsHelp(tools));
    return name === undefined ? 2 : 0;
  }
  const tool = tools.find((t) => t.name === name);
  if (!tool) {
    host.io.stderr(
      `xenlab-tools: unknown tool "${name}" [${ToolErrorCode.usage}]\n  tools: ${tools.map((t) => t.name).join(', ')}\n`,
    );
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    host.io.stdout(toolHelp(tool));
    return 0;
  }
  let client: XapiClient | undefined;
  const controller = new AbortController();
  const abort = (): void => {
    controller.abort();
  };
  host.signal?.addEventListener('abort', abort);
  if (host.signal?.aborted) controller.abort();
  try {
    const options = parseOptions(tool, rest, host.env);
    const target = tool.usesPool ? poolTarget(tool, options, host) : undefined;
    const ctx: ToolContext = {
      io: host.io,
      files: host.files,
      env: host.env,
      now: host.now,
      signal: controller.signal,
      ...(host.keys ? { keys: host.keys } : {}),
      ...(target ? { target } : {}),
      sleep: (ms) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(done, ms);
          function done(): void {
            clearTimeout(timer);
            controller.signal.removeEventListener('abort', done);
            resolve();
          }
          controller.signal.addEventListener('abort', done);
          if (controller.signal.aborted) done();
        }),
      client: () => {
        if (!target) throw new Error(`${tool.name} is not declared usesPool`);
        client ??= host.createClient({
          url: target.url,
          user: target.user,
          password: target.password,
          allowUnauthorized: target.allowUnauthorized,
          originator: tool.originator ?? 'xenlab-tools',
        });
        return client;
      },
      progress: (label, total) => createProgress(host.io, label, total, host.now),
    };
    return await tool.run(ctx, options);
  } catch (e) {
    host.io.stderr(describeFailure(tool.name, e));
    return e instanceof ToolError && e.code === ToolErrorCode.usage ? 2 : 1;
  } finally {
    host.signal?.removeEventListener('abort', abort);
    await client?.close().catch(() => undefined);
  }
}

export { kebab };
