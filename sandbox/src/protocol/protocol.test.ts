import { describe, expect, it } from 'vitest';
import {
  FLOW,
  HelpRequest,
  NAME_PATTERN,
  isName,
  parseClientMessage,
  parseServerMessage,
  sitePathOr,
} from './index.js';

describe('the wire protocol', () => {
  it('accepts the messages a page sends', () => {
    expect(parseClientMessage('{"type":"term.hello","v":1,"cols":80,"rows":24}')).toEqual({
      ok: true,
      value: { type: 'term.hello', v: 1, cols: 80, rows: 24 },
    });
    expect(parseClientMessage('{"type":"term.ack","bytes":8192}').ok).toBe(true);
    expect(parseClientMessage('{"type":"ping","t":12.5}').ok).toBe(true);
  });

  it('rejects sizes a pty cannot take, with the field named', () => {
    for (const bad of [0, -1, 65535, 1e9, 1.5, 'wide', null]) {
      const r = parseClientMessage(JSON.stringify({ type: 'term.resize', cols: bad, rows: 24 }));
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toContain('cols');
    }
  });

  it('rejects unknown types, extra fields and non-JSON without throwing', () => {
    expect(parseClientMessage('{"type":"term.exec","cmd":"rm -rf /"}')).toMatchObject({ ok: false });
    expect(parseClientMessage('{"type":"term.ack","bytes":1,"extra":true}')).toMatchObject({ ok: false });
    expect(parseClientMessage('{"type":"__proto__"}')).toMatchObject({ ok: false });
    expect(parseClientMessage('\u0000\u0001garbage')).toEqual({ ok: false, error: 'not JSON' });
    expect(parseClientMessage('[]')).toMatchObject({ ok: false });
  });

  it('parses what the gateway sends', () => {
    const r = parseServerMessage(
      '{"type":"term.ready","v":1,"driver":"local","jailed":true,"instance":"a1","offset":0,"lab":"playground","terminal":"main"}',
    );
    expect(r).toMatchObject({ ok: true, value: { driver: 'local' } });
    expect(parseServerMessage('{"type":"term.exit","code":null}').ok).toBe(true);
  });

  it('keeps the ack size within the low watermark, or a paused pty would never resume', () => {
    expect(FLOW.ACK_EVERY).toBeLessThanOrEqual(FLOW.LOW);
    expect(FLOW.LOW).toBeLessThan(FLOW.HIGH);
  });
});

describe('names (lab ids, terminal names)', () => {
  it('are kebab-case: lowercase letters and digits, single dashes between, a letter first', () => {
    for (const good of ['playground', 'anatomy-of-a-pool', 'host1', 'node-2', 'x'])
      expect(isName(good), good).toBe(true);
    for (const bad of ['', 'Shell', '9-lives', '-a', 'a-', 'a--b', 'a_b', '../etc', 'a b', 'ä']) {
      expect(NAME_PATTERN.test(bad), bad).toBe(false);
      expect(isName(bad), bad).toBe(false);
    }
  });

  it('are at most 64 characters where the gateway takes them', () => {
    expect(isName('a'.repeat(64))).toBe(true);
    expect(isName('a'.repeat(65))).toBe(false);
    expect(HelpRequest.safeParse({ lab: 'a'.repeat(65) }).success).toBe(false);
    expect(HelpRequest.parse({})).toMatchObject({ lab: 'playground' });
  });
});

describe('a redirect target', () => {
  it('is a path of this site or else /', () => {
    for (const ok of ['/', '/labs/anatomy-of-a-pool/', '/welcome/?code=X&to=%2F', '/a#b'])
      expect(sitePathOr(ok), ok).toBe(ok);
    for (const bad of [
      null,
      undefined,
      '',
      '//evil.example/',
      '/\\evil.example',
      'https://evil.example/',
      'labs/x',
      '/a b',
      '/a\nb',
      '/\u00e9',
      'javascript:alert(1)',
    ])
      expect(sitePathOr(bad), String(bad)).toBe('/');
  });
});
