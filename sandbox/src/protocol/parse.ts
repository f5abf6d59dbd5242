import type { z } from 'zod';

/** Result of parsing a text frame: the message, or a readable reason. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parses a JSON text frame with a schema; never throws. The reason names the first bad field. */
export function parseWith<T>(schema: z.ZodType<T>, text: string): Parsed<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  return { ok: false, error: `${issue?.message ?? 'invalid message'}${where}` };
}
