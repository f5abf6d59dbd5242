import { describe, expect, it } from 'vitest';
import { FlowControl } from '../sessions/flow.js';
import { OriginPolicy } from './origins.js';
import { TicketIssuer, newSessionId } from './tickets.js';

describe('tickets', () => {
  it('are redeemed once, only with the session they were issued for', () => {
    const t = new TicketIssuer();
    const sid = newSessionId();
    const ticket = t.issue(sid);
    expect(t.redeem(ticket, newSessionId())).toMatchObject({ ok: false, code: 'GATEWAY_ERR_BAD_TOKEN' });
    expect(t.redeem(ticket, sid)).toEqual({ ok: true, sessionId: sid });
    expect(t.redeem(ticket, sid)).toMatchObject({ ok: false, code: 'GATEWAY_ERR_TOKEN_REUSED' });
  });

  it('expire after their lifetime', () => {
    let now = 1_000_000;
    const t = new TicketIssuer({ ttlMs: 30_000, now: () => now });
    const sid = newSessionId();
    const ticket = t.issue(sid);
    now += 30_001;
    expect(t.redeem(ticket, sid)).toMatchObject({ ok: false, code: 'GATEWAY_ERR_TOKEN_EXPIRED' });
  });

  it('reject missing, malformed and forged tokens', () => {
    const t = new TicketIssuer();
    const sid = newSessionId();
    expect(t.redeem(null, sid)).toMatchObject({ code: 'GATEWAY_ERR_NO_TOKEN' });
    expect(t.redeem('abc', sid)).toMatchObject({ code: 'GATEWAY_ERR_BAD_TOKEN' });
    const [nonce, expiry] = t.issue(sid).split('.');
    // Extending the expiry breaks the MAC.
    expect(t.redeem(`${nonce}.${Number(expiry) + 3_600_000}.AAAA`, sid)).toMatchObject({
      code: 'GATEWAY_ERR_BAD_TOKEN',
    });
    // A ticket from another gateway process (another key) is not valid here.
    expect(t.redeem(new TicketIssuer().issue(sid), sid)).toMatchObject({ code: 'GATEWAY_ERR_BAD_TOKEN' });
  });
});

describe('origin policy', () => {
  it('allows the loopback origins of the port it serves, and nothing else', () => {
    const p = OriginPolicy.forListen('127.0.0.1', 4321);
    expect(p.allowsOrigin('http://127.0.0.1:4321')).toBe(true);
    expect(p.allowsOrigin('http://localhost:4321')).toBe(true);
    for (const bad of [
      'http://127.0.0.1:4322',
      'https://evil.example',
      'null',
      'http://localhost.evil.example:4321',
      undefined,
    ]) {
      expect(p.allowsOrigin(bad)).toBe(false);
    }
    expect(p.allowsHost('localhost:4321')).toBe(true);
    expect(p.allowsHost('rebind.example:4321')).toBe(false);
  });

  it('adds configured public origins and ignores malformed ones', () => {
    const p = OriginPolicy.forListen('0.0.0.0', 80, [
      'https://lab.example.org',
      'not a url',
      'javascript:alert(1)',
    ]);
    expect(p.allowsOrigin('https://lab.example.org')).toBe(true);
    expect(p.allowsHost('lab.example.org')).toBe(true);
    expect(p.origins).not.toContain('javascript:alert(1)');
  });
});

describe('flow control', () => {
  it('pauses above the high watermark and resumes only below the low one', () => {
    const calls: string[] = [];
    const f = new FlowControl(
      () => calls.push('pause'),
      () => calls.push('resume'),
      100,
      10,
    );
    f.sent(60);
    f.sent(60);
    expect(calls).toEqual(['pause']);
    f.sent(500); // no second pause while paused
    f.acked(600);
    expect(f.unacked).toBe(20);
    expect(calls).toEqual(['pause']);
    f.acked(15);
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('never counts below zero when a client acks more than it got', () => {
    const f = new FlowControl(
      () => undefined,
      () => undefined,
      100,
      10,
    );
    f.sent(5);
    f.acked(1_000_000);
    expect(f.unacked).toBe(0);
    expect(
      () =>
        new FlowControl(
          () => undefined,
          () => undefined,
          10,
          10,
        ),
    ).toThrow(RangeError);
  });
});
