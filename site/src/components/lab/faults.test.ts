import { describe, expect, it } from 'vitest';
import type { FaultsView } from '@xenlab/sandbox/protocol';
import { clockTime, faultButtonsHtml, faultEventsHtml, newEventsSaid } from './faults.ts';

const at = new Date(2026, 11, 6, 10, 42, 13).getTime();
const view: FaultsView = {
  buttons: [
    {
      id: 'pull-the-plug',
      label: 'Pull the plug on <xcp-ng-02>',
      kind: 'host-power-off',
      destructive: true,
      repeatable: false,
      fired: false,
    },
    {
      id: 'power-on',
      label: 'Power on',
      kind: 'host-power-on',
      destructive: false,
      repeatable: true,
      fired: false,
    },
  ],
  events: [],
};

describe('the fault buttons and events of the panel', () => {
  it('shows real buttons, escaped, and a confirmation for a destructive one', () => {
    const html = faultButtonsHtml(view, { pressing: new Set() });
    expect(html).toContain('<button type="button" class="lab-fault-btn" data-fault="pull-the-plug"');
    expect(html).toContain('Pull the plug on &lt;xcp-ng-02&gt;');
    expect(html).not.toContain('disabled');
    const asking = faultButtonsHtml(view, { confirming: 'pull-the-plug', pressing: new Set() });
    expect(asking).toContain('class="lab-fault-confirm"');
    expect(asking).toContain('aria-describedby="lab-fault-ask-pull-the-plug"');
    expect(asking).toContain('class="lab-fault-cancel"');
  });

  it('disables a fired one-shot button; a repeatable one stays, saying when it last fired', () => {
    const fired: FaultsView = {
      ...view,
      buttons: view.buttons.map((b) => ({ ...b, fired: true, firedAt: at })),
    };
    const html = faultButtonsHtml(fired, { pressing: new Set() });
    expect(html).toMatch(/data-fault="pull-the-plug" data-destructive="true" disabled>/);
    expect(html).toMatch(/data-fault="power-on" data-destructive="false">/);
    expect(html).toContain('last fired at <time');
    expect(html).toContain('>fired at <time');
    // A press on its way: busy, still focusable.
    expect(faultButtonsHtml(view, { pressing: new Set(['power-on']) })).toContain(
      'aria-disabled="true" aria-busy="true"',
    );
  });

  it('lists what fired and when, in the page time zone', () => {
    expect(clockTime(at)).toBe('10:42:13');
    expect(faultEventsHtml(view)).toContain('Nothing has happened yet.');
    const next: FaultsView = {
      ...view,
      events: [
        { fault: 'pull-the-plug', kind: 'host-power-off', text: 'xcp-ng-02 lost power', at, by: 'button' },
      ],
    };
    expect(faultEventsHtml(next)).toContain('xcp-ng-02 lost power at <time datetime=');
    expect(faultEventsHtml(next)).toContain('>10:42:13</time>');
    expect(newEventsSaid(view, next)).toBe('xcp-ng-02 lost power.');
    expect(newEventsSaid(next, next)).toBe('');
  });
});
