// GitHub issue #11, part 2: bracketed-paste smuggling. xterm.js 6 wraps a paste in ESC[200~ … ESC[201~ without
// looking inside it, so clipboard text holding "ESC[201~" ends the bracket early and the rest runs as typed
// commands. The page cleans pasted text first (site/src/terminal/input.ts); the e2e test in
// test/e2e/terminal-ux.test.ts pastes such text into a real shell in Chromium.
import { describe, expect, it } from 'vitest';
import { INPUT_CHUNK_BYTES, sanitizePaste, splitBytes } from '../../site/src/terminal/input.js';
import { MAX_FRAME_BYTES } from '../../sandbox/src/protocol/index.js';

describe('pasted text', () => {
  it('cannot end bracketed paste early', () => {
    const evil = 'echo harmless\x1b[201~touch /tmp/pwned\r\x1b[200~';
    const clean = sanitizePaste(evil);
    expect(clean).not.toContain('\x1b');
    expect(clean).not.toMatch(/\[20[01]~/);
    expect(clean).toBe('echo harmlesstouch /tmp/pwned\r');
  });

  it('loses every control character but tab and line breaks (C0, DEL, C1 such as the 8-bit CSI)', () => {
    const controls = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).join('');
    expect(sanitizePaste(`a${controls}b`)).toBe('a\t\n\rb');
    expect(sanitizePaste('x\x7fy\u009b201~z\u0085')).toBe('xy201~z');
    expect(sanitizePaste('\x1b]52;c;ZWNobyBoaQ==\x07')).toBe(']52;c;ZWNobyBoaQ==');
  });

  it('keeps ordinary text, tabs, line breaks and any other Unicode as it is', () => {
    const text = 'for h in $(xe host-list --minimal | tr , " "); do\n\techo "$h" — héllo ✓ 日本\r\ndone\n';
    expect(sanitizePaste(text)).toBe(text);
  });
});

describe('large input', () => {
  it('is cut into frames well under the gateway limit, in order, nothing lost', () => {
    const bytes = new Uint8Array(200 * 1024 + 17).map((_, i) => i % 251);
    const chunks = splitBytes(bytes);
    expect(INPUT_CHUNK_BYTES).toBeLessThan(MAX_FRAME_BYTES);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(INPUT_CHUNK_BYTES);
    const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      joined.set(c, at);
      at += c.length;
    }
    expect(Buffer.from(joined).equals(Buffer.from(bytes))).toBe(true);
    expect(splitBytes(new Uint8Array(0))).toEqual([]);
  });
});
