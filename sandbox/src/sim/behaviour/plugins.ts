/**
 * `host.call_plugin`: xapi runs `/etc/xapi.d/plugins/<plugin>` in the host's dom0 with an XML-RPC call on its command
 * line and reads an XML-RPC answer from its standard output (ocaml/xapi/xapi_plugins.ml; Python plugins use
 * python3/examples/XenAPIPlugin.py `dispatch`).
 *
 * The simulated dom0 has one plugin: `echo` (python3/plugins/echo.py, installed on every host), whose `main` answers
 * `"args were: " + repr(args)` — Python's repr of the argument dict — after sleeping `args["sleep"]` seconds if given.
 * Every other name is absent, as on a host without that file: the plugins XCP-ng adds for Xen Orchestra (updater.py,
 * smartctl.py, netdata.py…) read the real dom0, which the simulator does not have.
 *
 * Errors as xapi and XenAPIPlugin.py give them: `HANDLE_INVALID [host, ref]`, `HOST_OFFLINE [host]` for a member that
 * is not live (message_forwarding.ml `check_live`), `XENAPI_MISSING_PLUGIN [plugin]` (xapi_plugins.ml
 * `find_plugin`), `UNKNOWN_XENAPI_PLUGIN_FUNCTION [fn]`, and `XENAPI_PLUGIN_FAILURE [fn, exception class, message]`
 * for an exception inside the function (e.g. a `sleep` that is no integer).
 */
import type { SimBehaviour, SimContext } from '../contract.js';
import { masterHost } from './placement.js';
import { arg, fail, hostLive } from './util.js';

/** Longest timer Node can set (about 24.8 days); a longer `sleep` is clipped to it. */
const MAX_SLEEP_MS = 2 ** 31 - 1;

/**
 * What Python's `repr` prints for a str (Python 3 `unicode_repr`): single quotes unless the text has a `'` and no
 * `"`; backslash, the quote, `\t \n \r` escaped; other characters that are not printable as `\xhh`, `\uhhhh` or
 * `\Uhhhhhhhh`.
 */
export function pyReprStr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const u = ch.codePointAt(0) ?? 0;
    if (ch === '\\' || ch === q) out += `\\${ch}`;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (u < 0x20 || u === 0x7f) out += `\\x${u.toString(16).padStart(2, '0')}`;
    else if (u < 0x7f) out += ch;
    // str.isprintable: not Other (Cc, Cf, Cs, Co, Cn) and not a separator other than the space.
    else if (!/[\p{C}\p{Z}]/u.test(ch)) out += ch;
    else if (u < 0x100) out += `\\x${u.toString(16).padStart(2, '0')}`;
    else if (u < 0x10000) out += `\\u${u.toString(16).padStart(4, '0')}`;
    else out += `\\U${u.toString(16).padStart(8, '0')}`;
  }
  return out + q;
}

/** Python's `repr` of a dict of str to str, in the order given. */
export function pyReprDict(d: Readonly<Record<string, string>>): string {
  return `{${Object.entries(d)
    .map(([k, v]) => `${pyReprStr(k)}: ${pyReprStr(v)}`)
    .join(', ')}}`;
}

/**
 * A string as the plugin receives it: xapi writes the call with xml-light2 (`esc_pcdata` drops control characters
 * other than tab, newline and carriage return) and Python's XML parser turns `\r\n` and `\r` into `\n`.
 */
function throughXml(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '').replace(/\r\n?/g, '\n');
}

/** Python's `int(s)` for base 10, or undefined where it raises ValueError. */
function pyInt(s: string): number | undefined {
  const m = /^\s*([+-]?)(\d+(?:_\d+)*)\s*$/u.exec(s);
  if (!m) return undefined;
  const n = Number((m[2] ?? '').replace(/_/g, ''));
  return m[1] === '-' ? -n : n;
}

/** An exception a plugin function raised, as XenAPIPlugin.py reports it. */
class PluginException extends Error {
  readonly cls: string;
  constructor(cls: string, message: string) {
    super(message);
    this.cls = cls;
  }
}

type PluginFn = (ctx: SimContext, args: Readonly<Record<string, string>>) => Promise<string> | string;

/** The plugins of the simulated dom0, by file name, each a table of functions (XenAPIPlugin.dispatch). */
const PLUGINS: Readonly<Record<string, Readonly<Record<string, PluginFn>>>> = {
  echo: {
    main: async (_ctx, args) => {
      if ('sleep' in args) {
        const raw = args.sleep;
        const secs = pyInt(raw);
        if (secs === undefined)
          throw new PluginException(
            'ValueError',
            `invalid literal for int() with base 10: ${pyReprStr(raw)}`,
          );
        if (secs < 0) throw new PluginException('ValueError', 'sleep length must be non-negative');
        await new Promise((resolve) => setTimeout(resolve, Math.min(secs * 1000, MAX_SLEEP_MS)));
      }
      return `args were: ${pyReprDict(args)}`;
    },
  },
};

async function callPlugin(ctx: SimContext, args: readonly unknown[]): Promise<string> {
  const host = arg.str(args, 0);
  const plugin = arg.str(args, 1);
  const fn = arg.str(args, 2);
  const given = arg.map(args, 3);
  ctx.store.get('host', host);
  if (host !== masterHost(ctx.store) && !hostLive(ctx.store, host)) fail('HOST_OFFLINE', host);
  const table = Object.hasOwn(PLUGINS, plugin) ? PLUGINS[plugin] : undefined;
  if (!table) return fail('XENAPI_MISSING_PLUGIN', plugin);
  const f = Object.hasOwn(table, fn) ? table[fn] : undefined;
  if (!f) return fail('UNKNOWN_XENAPI_PLUGIN_FUNCTION', fn);
  const received: Record<string, string> = {};
  for (const [k, v] of Object.entries(given)) received[throughXml(k)] = throughXml(v);
  try {
    return await f(ctx, received);
  } catch (e) {
    if (e instanceof PluginException) return fail('XENAPI_PLUGIN_FAILURE', fn, e.cls, e.message);
    throw e;
  }
}

/** host.call_plugin with the plugins above. */
export const pluginsBehaviour: SimBehaviour = {
  handlers: {
    'host.call_plugin': callPlugin,
  },
};
