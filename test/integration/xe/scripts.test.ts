/**
 * Ordinary admin shell scripts, unchanged, run by real bash with the real `xe` executable (toolkit/bin/xe.js on
 * PATH) against a real simulator — configured the way a lab terminal is: a `~/.xe` file (server, port, username,
 * password, nossl) and no flags. Each test checks what the script printed and what it did to the pool.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSimulator, type RunningSimulator } from '../../../sandbox/src/sim/index.js';
import { createClient, type XapiClient } from '../../../toolkit/src/xenapi/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = resolve(here, '../../..');
let sim: RunningSimulator;
let client: XapiClient;
let home: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  // The executable under test is the bundle, as installed: build it from the current sources.
  execFileSync(process.execPath, [join(root, 'toolkit/scripts/build-xe.mjs')], { stdio: 'ignore' });
  sim = await startSimulator({ port: 0, fast: true, seed: 'xe-scripts' });
  const url = new URL(sim.url);
  home = mkdtempSync(join(tmpdir(), 'xe-home-'));
  writeFileSync(
    join(home, '.xe'),
    `server=${url.hostname}\nport=${url.port}\nusername=root\npassword=xenlab\nnossl=true\n`,
  );
  const bin = join(home, 'bin');
  mkdirSync(bin);
  symlinkSync(join(root, 'toolkit/bin/xe.js'), join(bin, 'xe'));
  env = { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: home, LANG: 'C' };
  client = createClient({ url: sim.url, user: 'root', password: 'xenlab' });
});
afterAll(async () => {
  await client.close();
  await sim.close();
  rmSync(home, { recursive: true, force: true });
});

/** Runs a script from ./scripts with bash; resolves to its stdout (rejects with stderr on failure). */
function bash(script: string, extraEnv: Record<string, string> = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      'bash',
      [join(here, 'scripts', script)],
      { env: { ...env, ...extraEnv }, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${script} failed: ${err.message}\n${stderr}`));
        else resolvePromise(stdout);
      },
    );
  });
}

type Rec = Record<string, unknown>;
async function vmsNamed(name: string): Promise<Rec[]> {
  const all = (await client.callRaw('VM.get_all_records')) as Record<string, Rec>;
  return Object.values(all).filter((r) => r.name_label === name);
}

describe('admin scripts written for the real xe run unchanged', () => {
  test('a clone loop that reads --minimal output', async () => {
    const out = await bash('clone-loop.sh', { N: '4' });
    expect(out).toBe('running clones: 4\nhalted: base\n');
    for (let i = 1; i <= 4; i++) {
      const [vm] = await vmsNamed(`web-${i}`);
      expect(vm?.power_state).toBe('Running');
      expect(vm?.name_description).toBe(`clone ${i} of base`);
    }
  });

  test('a suspend/resume check with vm-param-get', async () => {
    expect(await bash('suspend-resume.sh')).toBe('suspended\nafter resume: running\n');
    const [vm] = await vmsNamed('sr-vm');
    expect(vm?.power_state).toBe('Running');
  });

  test('moving the management interface onto a bond', async () => {
    const out = await bash('management-on-bond.sh');
    expect(out).toBe(
      'management before: eth0\nmanagement after: bond0\nbond mode: active-backup\nip: 10.0.0.21\n',
    );
    const pifs = Object.values((await client.callRaw('PIF.get_all_records')) as Record<string, Rec>);
    const mgmt = pifs.filter((p) => p.management === true);
    expect(mgmt.map((p) => p.device)).toContain('bond0');
  });

  test('an event-wait in the background returns once the VM is running', async () => {
    expect(await bash('wait-for-running.sh')).toBe('saw running\n');
  });
});

describe('bash completion', () => {
  /** Completes the command line (cursor at its end) with toolkit/completion/xe.bash; returns the candidates. */
  async function complete(line: string): Promise<string[]> {
    const words = line.split(/\s+/);
    const script = [
      `source ${JSON.stringify(join(root, 'toolkit/completion/xe.bash'))}`,
      `COMP_LINE=${JSON.stringify(line)}; COMP_POINT=${line.length}`,
      // bash splits at '=' too (COMP_WORDBREAKS): the word under the cursor is only the value after it.
      `COMP_WORDS=(${words.map((w) => JSON.stringify(w.includes('=') ? w.slice(w.indexOf('=') + 1) : w)).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      '_xe',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    // Asynchronously: the simulator answering the completion's `xe` runs in this process.
    const out = await new Promise<string>((resolvePromise, reject) => {
      execFile('bash', ['-c', script], { env, timeout: 30_000 }, (err, stdout) => {
        if (err) reject(new Error(`completion failed: ${err.message}`));
        else resolvePromise(stdout);
      });
    });
    return out.split('\n').filter(Boolean);
  }

  test('completes command names, their parameters, and uuids from the pool', async () => {
    expect(await complete('xe vm-sta')).toEqual(['vm-start']);
    expect(await complete('xe vm-start pa')).toEqual(['paused=']);
    expect(await complete('xe bond-create pif')).toEqual(['pif-uuids=']);
    const hosts = Object.values((await client.callRaw('host.get_all_records')) as Record<string, Rec>).map(
      (r) => String(r.uuid),
    );
    expect((await complete('xe host-param-list uuid=')).sort()).toEqual(hosts.sort());
  });
});

describe('the installed xe over HTTPS', () => {
  test('reaches a pool behind a self-signed certificate (TLS loads only when needed)', async () => {
    // A TLS front for the simulator, like a real host's port 443 with its self-signed certificate.
    const dir = mkdtempSync(join(tmpdir(), 'xe-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const front = https.createServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      (req, res) => {
        const upstream = http.request(
          new URL(req.url ?? '/', sim.url),
          { method: req.method, headers: req.headers },
          (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
          },
        );
        req.pipe(upstream);
      },
    );
    await new Promise<void>((ok) => front.listen(0, '127.0.0.1', ok));
    const address = front.address();
    const port = typeof address === 'object' && address ? String(address.port) : '0';
    try {
      const out = await new Promise<string>((resolvePromise, reject) => {
        execFile(
          'xe',
          [
            'host-list',
            '-s',
            'localhost',
            '-p',
            port,
            '-u',
            'root',
            '-pw',
            'xenlab',
            'params=name-label',
            '--minimal',
          ],
          { env: { ...env, HOME: dir } },
          (err, stdout, stderr) => {
            if (err) reject(new Error(`xe over https failed: ${stderr}`));
            else resolvePromise(stdout);
          },
        );
      });
      expect(out).toBe('xcp-ng-01,xcp-ng-02,xcp-ng-03\n');
    } finally {
      await new Promise<void>((ok) =>
        front.close(() => {
          ok();
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
