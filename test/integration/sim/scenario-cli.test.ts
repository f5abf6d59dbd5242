/** Scenarios (YAML/JSON, validation errors naming the field, seeds) and the `xenlab sim` command as a real process. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import {
  DEFAULT_SCENARIO,
  ScenarioError,
  loadScenarioFile,
  parseScenario,
} from '../../../sandbox/src/sim/index.js';
import { login, ok, start } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'xenlab-scenario-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('the default pool: 3 hosts, NFS default SR, ISO library, networks, templates with provision XML', async () => {
  const sim = await start();
  try {
    const s = await login(sim.url);
    const hosts = await ok<
      Record<string, { name_label: string; memory_overhead: number; cpu_info: Record<string, string> }>
    >(sim.url, 'host.get_all_records', s);
    expect(Object.values(hosts).map((h) => h.name_label)).toEqual(['xcp-ng-01', 'xcp-ng-02', 'xcp-ng-03']);
    expect(Object.values(hosts).every((h) => h.cpu_info.cpu_count === '8')).toBe(true);
    const [pool] = await ok<string[]>(sim.url, 'pool.get_all', s);
    const defaultSr = await ok<string>(sim.url, 'pool.get_default_SR', s, pool);
    expect(await ok(sim.url, 'SR.get_name_label', s, defaultSr)).toBe('NFS storage');
    expect(await ok(sim.url, 'SR.get_shared', s, defaultSr)).toBe(true);
    expect(await ok<string[]>(sim.url, 'SR.get_PBDs', s, defaultSr)).toHaveLength(3);
    const [iso] = await ok<string[]>(sim.url, 'SR.get_by_name_label', s, 'ISO library');
    expect(await ok(sim.url, 'SR.get_content_type', s, iso)).toBe('iso');
    expect(await ok<string[]>(sim.url, 'SR.get_by_name_label', s, 'Local storage')).toHaveLength(3);
    const nets = await ok<string[]>(
      sim.url,
      'network.get_by_name_label',
      s,
      'Pool-wide network associated with eth0',
    );
    expect(await ok<string[]>(sim.url, 'network.get_PIFs', s, nets[0])).toHaveLength(3);
    const pifs = await ok<Record<string, { management: boolean; device: string }>>(
      sim.url,
      'PIF.get_all_records',
      s,
    );
    expect(
      Object.values(pifs)
        .filter((p) => p.management)
        .every((p) => p.device === 'eth0'),
    ).toBe(true);
    const [debian] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'Debian Bookworm 12');
    const rec = await ok<{
      is_a_template: boolean;
      is_default_template: boolean;
      other_config: Record<string, string>;
    }>(sim.url, 'VM.get_record', s, debian);
    expect(rec).toMatchObject({ is_a_template: true, is_default_template: true });
    expect(rec.other_config.default_template).toBe('true');
    expect(rec.other_config.disks).toMatch(
      /^<provision><disk device="0" size="\d+" sr="" bootable="true" type="system"\/><\/provision>$/,
    );
    const [dom0] = await ok<string[]>(
      sim.url,
      'VM.get_by_name_label',
      s,
      'Control domain on host: xcp-ng-02',
    );
    expect(await ok(sim.url, 'VM.get_is_control_domain', s, dom0)).toBe(true);
  } finally {
    await sim.close();
  }
});

test('the same seed builds the same pool (uuids and MACs)', async () => {
  const uuidsAndMacs = async (seed: string) => {
    const sim = await start({ seed });
    try {
      const s = await login(sim.url);
      const pifs = await ok<Record<string, { uuid: string; MAC: string }>>(sim.url, 'PIF.get_all_records', s);
      return Object.values(pifs).map((p) => `${p.uuid} ${p.MAC}`);
    } finally {
      await sim.close();
    }
  };
  const a = await uuidsAndMacs('lab-7');
  expect(await uuidsAndMacs('lab-7')).toEqual(a);
  expect(await uuidsAndMacs('lab-8')).not.toEqual(a);
});

test('a YAML scenario file with one host and a custom template', async () => {
  const file = join(dir, 'one.yaml');
  writeFileSync(
    file,
    'pool:\n  name: tiny\nhosts:\n  - name: solo\n    cpus: 4\n    memoryGiB: 16\ntemplates:\n  - name: Mini\n    memoryMiB: 512\n',
  );
  const sim = await start({ scenario: file });
  try {
    const s = await login(sim.url);
    const [pool] = await ok<string[]>(sim.url, 'pool.get_all', s);
    expect(await ok(sim.url, 'pool.get_name_label', s, pool)).toBe('tiny');
    expect(await ok<string[]>(sim.url, 'host.get_all', s)).toHaveLength(1);
    expect(await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'Mini')).toHaveLength(1);
  } finally {
    await sim.close();
  }
});

test('validation errors name the file and the field', () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'hosts:\n  - name: h\n    cpus: lots\n    nics: [wlan0]\n');
  expect(() => loadScenarioFile(file)).toThrow(ScenarioError);
  try {
    loadScenarioFile(file);
  } catch (e) {
    expect((e as Error).message).toContain(`${file} is not a valid scenario:`);
    expect((e as Error).message).toMatch(/hosts\.0\.cpus: .*number/);
    expect((e as Error).message).toContain('hosts.0.nics.0: NIC names look like eth0');
  }
  expect(() => parseScenario({ hosts: [] })).toThrow(/hosts: /);
  expect(parseScenario(DEFAULT_SCENARIO).hosts).toHaveLength(3);
});

test('`xenlab sim` prints its URL and serves until SIGTERM', async () => {
  const bin = fileURLToPath(new URL('../../../sandbox/bin/xenlab.js', import.meta.url));
  const dist = fileURLToPath(new URL('../../../sandbox/dist/cli/index.js', import.meta.url));
  expect(existsSync(dist), 'sandbox/dist is missing: run `npm run build` (npm test does) first').toBe(true);
  const child = spawn(process.execPath, [bin, 'sim', '--port', '0', '--fast', '--password', 'pw'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, XENLAB_SIM_CONTROL_TOKEN: 'from-env' },
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /xenlab sim listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      child.on('exit', (code) => {
        reject(new Error(`exited ${String(code)} before listening: ${out}`));
      });
    });
    const s = await login(url, 'root', 'pw');
    const health = await fetch(`${url}/_xenlab/health`, { headers: { authorization: 'Bearer from-env' } });
    expect(health.status).toBe(200);
    expect(await ok<string[]>(url, 'host.get_all', s)).toHaveLength(3);
  } finally {
    child.kill('SIGTERM');
  }
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code).toBe(0);
});

test('scenario VMs are installed through the API: disks, a VIF, started where asked', async () => {
  const sim = await start({
    scenario: {
      ...DEFAULT_SCENARIO,
      vms: [
        {
          name: 'web01',
          template: 'Debian Bookworm 12',
          host: 'xcp-ng-02',
          memoryMiB: 1024,
          vcpus: 2,
          tags: ['web'],
        },
        { name: 'db01', template: 'Rocky Linux 9' },
        { name: 'spare', template: 'Alpine Linux 3.20', power_state: 'Halted' },
      ],
    },
  });
  try {
    const s = await login(sim.url);
    const vm = async (name: string) => {
      const [ref] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, name);
      return ok<Record<string, unknown>>(sim.url, 'VM.get_record', s, ref);
    };
    const web = await vm('web01');
    expect(web).toMatchObject({
      power_state: 'Running',
      is_a_template: false,
      memory_static_max: 1024 * 1024 * 1024,
      VCPUs_max: 2,
      tags: ['web'],
    });
    expect(await ok(sim.url, 'host.get_name_label', s, web.resident_on)).toBe('xcp-ng-02');
    expect((web.VBDs as string[]).length).toBeGreaterThan(0);
    expect(web.VIFs as string[]).toHaveLength(1);
    expect((await vm('db01')).power_state).toBe('Running');
    const spare = await vm('spare');
    expect(spare).toMatchObject({ power_state: 'Halted', resident_on: 'OpaqueRef:NULL' });

    // A reset through the control API brings them back as the scenario describes.
    const [webRef] = await ok<string[]>(sim.url, 'VM.get_by_name_label', s, 'web01');
    await ok(sim.url, 'VM.hard_shutdown', s, webRef);
    const reset = await fetch(`${sim.controlUrl}reset`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.controlToken}` },
    });
    expect(reset.status).toBe(200);
    expect((await vm('web01')).power_state).toBe('Running');
  } finally {
    await sim.close();
  }
});

test('a scenario VM with an unknown template stops start-up with a clear error', async () => {
  await expect(
    start({ scenario: { ...DEFAULT_SCENARIO, vms: [{ name: 'x', template: 'Nope 1.0' }] } }),
  ).rejects.toThrow('scenario VM refers to template "Nope 1.0", which does not exist');
});
