/**
 * How the page takes a text frame from the gateway: a message it can act on, one it may ignore (a newer gateway's
 * type this page does not know), or one it cannot read — a known type with a missing or wrong field, or no protocol
 * message at all. The last means the page and the gateway disagree about the protocol (an old page left open over a
 * gateway upgrade, or a bug on either side). The terminal stops and says so (`mismatch`) instead of dropping the frame
 * and waiting forever for a `term.ready` it threw away; the lab panel (`components/lab/connection.ts`, same reader
 * over the lab channel's schema) says so and goes on with the messages it can read.
 * @module
 */
import { ServerMessage } from '@xenlab/sandbox/protocol';

/** One schema issue, as the console and the panel show it: where in the message (zod's path) and what. */
export interface Issue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

export type Received<M = ServerMessage> =
  /** Act on it. `warning`: the gateway added fields this page does not know; they were left out. */
  | { readonly kind: 'message'; readonly msg: M; readonly warning?: string }
  /** A type this page does not know (a newer gateway's): ignored, as the protocol allows (`room.pace`'s JSDoc). */
  | { readonly kind: 'ignored'; readonly type: string; readonly warning: string }
  /** Cannot be read: the page and the gateway disagree. `type` is the frame's type, if it had one. */
  | { readonly kind: 'mismatch'; readonly type: string | undefined; readonly issues: readonly Issue[] };

/** A zod issue as far as this reader looks at it (`keys`: an `unrecognized_keys` issue's extra fields). */
interface SchemaIssue extends Issue {
  readonly code: string;
  readonly keys?: readonly string[];
}

/**
 * A channel's message schema as this reader needs it: zod's discriminated union on `type` (`ServerMessage`,
 * `LabServerMessage`), described by shape so the site needs no zod of its own.
 */
export interface MessageUnion<M> {
  readonly options: readonly { readonly shape: { readonly type: { readonly value: string } } }[];
  safeParse(
    data: unknown,
  ): { success: true; data: M } | { success: false; error: { issues: readonly SchemaIssue[] } };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A reader of one channel's text frames. Extra fields on a known type are the one shape problem tolerated: the
 * schemas are strict (the gateway's guard against pages), but a gateway that adds an optional field does not bump
 * `PROTOCOL_VERSION` (CONTRIBUTING: only when old pages could misread it), so the page leaves the fields out and
 * goes on.
 */
export function messageReader<M>(schema: MessageUnion<M>): (text: string) => Received<M> {
  // The types this page knows, from the schema's own union (never a list kept by hand).
  const known: ReadonlySet<string> = new Set(schema.options.map((o) => o.shape.type.value));
  return (text) => {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return { kind: 'mismatch', type: undefined, issues: [{ path: [], message: 'not JSON' }] };
    }
    const type = isRecord(raw) && typeof raw.type === 'string' ? raw.type : undefined;
    if (type !== undefined && !known.has(type))
      return {
        kind: 'ignored',
        type,
        warning: `ignored a message of a type this page does not know: ${type}`,
      };
    const first = schema.safeParse(raw);
    if (first.success) return { kind: 'message', msg: first.data };
    const issues = first.error.issues;
    const extra = issues.flatMap((i) =>
      i.code === 'unrecognized_keys' ? [{ path: i.path, keys: i.keys ?? [] }] : [],
    );
    if (extra.length === issues.length && isRecord(raw)) {
      const again = schema.safeParse(withoutKeys(raw, extra));
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
  };
}

/**
 * Reads a text frame of the terminal channel.
 * @example
 * readServerMessage('{"type":"term.ready",…,"offset":-1}')
 * // { kind: 'mismatch', type: 'term.ready', issues: [{ path: ['offset'], message: 'Too small: expected number to be >=0' }] }
 */
export const readServerMessage: (text: string) => Received = messageReader<ServerMessage>(ServerMessage);

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

/** The small print under a mismatch notice: which message and which field (`term.ready · offset: Too small…`). */
export function mismatchDetail(type: string | undefined, issues: readonly Issue[]): string {
  return `${type ?? 'message'} · ${issueText(issues)}`;
}

/** The details the console gets with a mismatch's line (an object, so a test or a developer can read it). */
export interface MismatchDetails {
  readonly type: string | undefined;
  /** zod's issue paths, one per issue (`[['offset']]`). */
  readonly paths: readonly (readonly PropertyKey[])[];
  readonly issues: readonly Issue[];
  /** The frame, cut at 1000 characters. */
  readonly frame: string;
}

/**
 * What the console gets for a mismatch: a line naming the message and the field ("[xenlab] the lab server sent a
 * term.ready message this page cannot read: offset: …") and the details.
 */
export function mismatchLog(
  type: string | undefined,
  issues: readonly Issue[],
  frame: string,
): [line: string, details: MismatchDetails] {
  const what = type ? `a ${type} message` : 'a frame';
  return [
    `[xenlab] the lab server sent ${what} this page cannot read: ${issueText(issues)}`,
    { type, paths: issues.map((i) => i.path), issues, frame: frame.slice(0, 1000) },
  ];
}
