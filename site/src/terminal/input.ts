/**
 * What the page sends to the shell, made safe and small: pasted text loses the control characters that could
 * smuggle keystrokes past bracketed paste, and large input is cut into frames the gateway accepts.
 * @module
 */
import { MAX_FRAME_BYTES } from '@xenlab/sandbox/protocol';

/**
 * Control characters a paste may not carry: C0 except tab, line feed and carriage return (ESC among them, so no
 * `ESC [201~` can end bracketed paste early and run the rest as typed), DEL, and the C1 controls (U+0080–U+009F,
 * which some terminals take as ESC-sequences: U+009B is CSI).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const PASTE_CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/g;

/**
 * Pasted text as the shell may receive it: no ESC (so no `ESC[200~`/`ESC[201~` or any other sequence), no other
 * control character but tab and line breaks. xterm.js 6 brackets a paste (`ESC[200~ … ESC[201~`) without looking
 * inside it, so a web page's clipboard text could otherwise close the bracket and run the rest as commands.
 */
export function sanitizePaste(text: string): string {
  // eslint-disable-next-line no-control-regex -- the bracketed paste markers are what is removed
  return text.replace(/\x1b\[20[01]~/g, '').replace(PASTE_CONTROLS, '');
}

/**
 * Input bytes per WebSocket frame: well under the gateway's limit ({@link MAX_FRAME_BYTES}, above which it closes
 * the socket with 1009), small enough to keep a keystroke typed during a large paste close behind it.
 */
export const INPUT_CHUNK_BYTES = Math.min(16 * 1024, MAX_FRAME_BYTES / 4);

/** Splits bytes into chunks of at most `max` bytes (views, not copies). */
export function splitBytes(bytes: Uint8Array, max: number = INPUT_CHUNK_BYTES): Uint8Array[] {
  if (max <= 0) throw new RangeError('splitBytes: max must be positive');
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += max) out.push(bytes.subarray(i, Math.min(bytes.length, i + max)));
  return out;
}
