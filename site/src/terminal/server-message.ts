/**
 * How the page takes a text frame from the gateway: a message it can act on, one it may ignore (a newer gateway's
 * type this page does not know), or one it cannot read — a known type with a missing or wrong field, or no protocol
 * message at all. The last means the page and the gateway disagree about the protocol (an old page left open over a
 * gateway upgrade, or a bug on either side); the terminal stops and says so (`mismatch`) instead of dropping the frame
 * and waiting forever for a `term.ready` it threw away.
 * @module
 */
import { ServerMessage } from '@xenlab/sandbox/protocol';

/** One schema issue, as the console and the panel show it: where in the message (zod's path) and what. */
export interface Issue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

export type Received =
  /** Act on it. `warning`: the gateway added fields this page does not know; they were left out. */
  | { readonly kind: 'message'; readonly msg: ServerMessage; readonly warning?: string }
  /** A type this page does not know (a newer gateway's): ignored, as the protocol allows (`room.pace`'s JSDoc). */
  | { readonly kind: 'ignored'; readonly type: string; readonly warning: string }
  /** Cannot be read: the terminal cannot go on. `type` is the frame's type, if it had one. */
  | { readonly kind: 'mismatch'; readonly type: string | undefined; readonly issues: readonly Issue[] };

/** The types this page knows, from the schema's own union (never a list kept by hand). */
const KNOWN_TYPES: ReadonlySet<string> = new Set(ServerMessage.options.map((o) => o.shape.type.value));

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a text frame. Extra fields on a known type are the one shape problem tolerated: the schemas are strict (the
 * gateway's guard against pages), but a gateway that adds an optional field does not bump `PROTOCOL_VERSION`
 * (CONTRIBUTING: only when old pages could misread it), so this page leaves the fields out and goes on.
 * @example
 * readServerMessage('{"type":"term.ready",…,"offset":-1}')
 * // { kind: 'mismatch', type: 'term.ready', issues: [{ path: ['offset'], message: 'Too small: expected number to be >=0' }] }
 */
export function readServerMessage(text: string): Received {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { kind: 'mismatch', type: undefined, issues: [{ path: [], message: 'not JSON' }] };
  }
  const type = isRecord(raw) && typeof raw.type === 'string' ? raw.type : undefined;
  if (type !== undefined && !KNOWN_TYPES.has(type))
    return { kind: 'ignored', type, warning: `ignored a message of a type this page does not know: ${type}` };
  const first = ServerMessage.safeParse(raw);
  if (first.success) return { kind: 'message', msg: first.data };
  const issues = first.error.issues;
  const extra = issues.flatMap((i) => (i.code === 'unrecognized_keys' ? [i] : []));
  if (extra.length === issues.length && isRecord(raw)) {
    const again = ServerMessage.safeParse(withoutKeys(raw, extra));
    if (again.success) {
      const names = extra.flatMap((i) => i.keys.map((k) => [...i.path, k].map(String).join('.')));
      return {
        kind: 'message',
        msg: again.data,
        warning: `${String(type)}: left out fields this page does not know: ${names.join(', ')}`,
      };
    }
  }
  return { kind: 'mismatch', type, issues: issues.map(({ path, message }) => ({ path, message })) };
}

/** A copy of `raw` without the keys the issues name (each `unrecognized_keys` issue: its object's path and keys). */
function withoutKeys(
  raw: Record<string, unknown>,
  issues: readonly { readonly path: readonly PropertyKey[]; readonly keys: readonly string[] }[],
): unknown {
  const copy = structuredClone(raw);
  for (const { path, keys } of issues) {
    let at: unknown = copy;
    for (const p of path)
      at = isRecord(at) || Array.isArray(at) ? (at as Record<PropertyKey, unknown>)[p] : undefined;
    if (isRecord(at)) for (const k of keys) Reflect.deleteProperty(at, k);
  }
  return copy;
}

/** "offset: Too small: expected number to be >=0", "(the message): not JSON". */
export function issueText(issues: readonly Issue[]): string {
  return issues
    .map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(the message)'}: ${i.message}`)
    .join('; ');
}
