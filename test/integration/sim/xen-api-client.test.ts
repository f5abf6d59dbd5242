/**
 * A third-party client against the simulator: Vates' npm `xen-api` (what Xen Orchestra uses) connects, lists records
 * and follows events through its `objects` cache, over both of its transports.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
// @ts-expect-error -- xen-api ships no type declarations
import { createClient } from 'xen-api';
import { eventually, login, ok, start } from './helpers.js';
import type { RunningSimulator } from './helpers.js';

interface XapiObject {
  readonly $type: string;
  readonly name_label?: string;
}
interface XenApiClient {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  getAllRecords(type: string): Promise<XapiObject[]>;
  call(method: string, ...args: unknown[]): Promise<unknown>;
  callAsync(method: string, ...args: unknown[]): Promise<unknown>;
  readonly objects: {
    readonly all: Record<string, XapiObject>;
    on(ev: string, fn: (objects: Record<string, unknown>) => void): void;
  };
}

let sim: RunningSimulator;
beforeAll(async () => {
  sim = await start();
});
afterAll(async () => {
  await sim.close();
});

for (const transport of ['json-rpc', 'xml-rpc'] as const) {
  describe(`npm xen-api over ${transport}`, () => {
    test('connects, lists VM records and sees a change through its live objects', async () => {
      const xapi = (createClient as (o: unknown) => XenApiClient)({
        url: sim.url,
        auth: { user: 'root', password: 'xenlab' },
        transport,
        watchEvents: true,
      });
      try {
        await xapi.connect();
        const vms = await xapi.getAllRecords('VM');
        const names = vms.map((vm) => vm.name_label);
        expect(names).toContain('Control domain on host: xcp-ng-01');
        expect(names).toContain('Debian Bookworm 12');

        await eventually(() => Object.values(xapi.objects.all).some((o) => o.$type === 'pool'));
        // A change made by another client shows up in xen-api's event-fed cache.
        const session = await login(sim.url);
        const nets = await ok<Record<string, unknown>>(
          sim.url,
          'network.get_all_records_where',
          session,
          'field "bridge"="xenbr1"',
        );
        const [net] = Object.keys(nets);
        const label = `renamed over ${transport}`;
        await ok(sim.url, 'network.set_name_label', session, net, label);
        await eventually(() =>
          Object.values(xapi.objects.all).some((o) => o.$type === 'network' && o.name_label === label),
        );
      } finally {
        await xapi.disconnect();
      }
    });

    test('callAsync runs an Async.* task, parses its XML-RPC result and reports failures as XapiError', async () => {
      const xapi = (createClient as (o: unknown) => XenApiClient)({
        url: sim.url,
        auth: { user: 'root', password: 'xenlab' },
        transport,
        watchEvents: true,
      });
      try {
        await xapi.connect();
        const net = await xapi.callAsync('network.create', {
          name_label: `async ${transport}`,
          name_description: '',
          MTU: 1500,
          other_config: {},
        });
        expect(net).toMatch(/^OpaqueRef:/);
        expect(await xapi.call('network.get_name_label', net)).toBe(`async ${transport}`);
        await expect(xapi.callAsync('network.destroy', 'OpaqueRef:gone')).rejects.toMatchObject({
          code: 'HANDLE_INVALID',
          params: ['network', 'OpaqueRef:gone'],
        });
      } finally {
        await xapi.disconnect();
      }
    });
  });
}
