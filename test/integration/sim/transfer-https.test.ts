/**
 * A simulator listening with HTTPS, as a host's port 443: a self-signed certificate made at the first start and
 * kept beside the state file; the toolkit client refuses it by default, connects when told to skip verification or
 * to trust that certificate; transfers work over TLS too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createClient, XapiClientError } from '../../../toolkit/src/xenapi/index.js';
import { MiB, endpoint, pattern, request, start, type RunningSimulator } from './transfer-helpers.js';

let dir: string;
let sim: RunningSimulator;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xenlab-https-'));
  sim = await start({ https: true, stateFile: join(dir, 'pool.json') });
});
afterAll(async () => {
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTPS', () => {
  test('the URL is https:, the certificate self-signed for the host, its fingerprint reported', () => {
    expect(sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(sim.tlsFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(sim.tlsCertificate).toContain('-----BEGIN CERTIFICATE-----');
  });

  test('the client refuses the self-signed certificate by default', async () => {
    const xapi = createClient({ url: sim.url, user: 'root', password: 'xenlab' });
    const err = await xapi.login().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(XapiClientError);
    expect((err as XapiClientError).code).toBe('XENAPI_ERR_CONNECTION');
    expect((err as Error).message).toMatch(/self[- ]signed certificate/);
    await xapi.close();
  });

  test('…connects with verification off when asked, or trusting that certificate', async () => {
    for (const options of [{ allowUnauthorized: true }, { ca: sim.tlsCertificate ?? '' }]) {
      for (const transport of ['json-rpc', 'xml-rpc'] as const) {
        const xapi = createClient({ url: sim.url, user: 'root', password: 'xenlab', transport, ...options });
        expect(await xapi.call('pool.get_all')).toHaveLength(1);
        await xapi.close();
      }
    }
  });

  test('transfers over TLS: raw import and export round trip; a client that verifies is refused', async () => {
    const xapi = createClient({ url: sim.url, user: 'root', password: 'xenlab', allowUnauthorized: true });
    const sid = await xapi.login();
    const [pool] = await xapi.call('pool.get_all');
    if (pool === undefined) throw new Error('no pool');
    const sr = await xapi.call('pool.get_default_SR', pool);
    const bytes = pattern(2 * MiB, 3);
    const insecure = { rejectUnauthorized: false };
    const put = await request(
      endpoint(sim, '/import_raw_vdi', { session_id: sid, sr_id: sr }),
      'PUT',
      bytes,
      {},
      insecure,
    );
    expect(put.status).toBe(200);
    const vdi = /<value>(.*)<\/value>/.exec(
      String(await xapi.callRaw('task.get_result', put.headers['task-id'])),
    )?.[1];
    const get = await request(
      endpoint(sim, '/export_raw_vdi', { session_id: sid, vdi: vdi ?? '' }),
      'GET',
      undefined,
      {},
      insecure,
    );
    expect(get.body.equals(bytes)).toBe(true);
    await expect(
      request(endpoint(sim, '/export_raw_vdi', { session_id: sid, vdi: vdi ?? '' }), 'GET'),
    ).rejects.toThrow(/self[- ]signed certificate/);
    await xapi.close();
  });

  test('the certificate is made once and kept: another start using its folder has the same one', async () => {
    const again = await start({
      https: true,
      stateFile: join(dir, 'other.json'),
      tlsDir: join(dir, 'pool.json.tls'),
    });
    expect(again.tlsFingerprint).toBe(sim.tlsFingerprint);
    await again.close();
  });
});
