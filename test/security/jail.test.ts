import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalDriver } from '../../sandbox/src/drivers/local/index.js';
import { isLearnerUid } from '../../sandbox/src/drivers/local/learner-uid.js';
import { netnsName } from '../../sandbox/src/drivers/local/network.js';
import { createLabEnvironment } from '../../sandbox/src/lab-runtime/environment.js';
import { startSimulator, type RunningSimulator } from '../../sandbox/src/sim/index.js';
import type { Sandbox } from '../../sandbox/src/drivers/types.js';
import { Lab, Shell, asRoot, descendants, hostUids, inJail } from './helpers.js';

// The audit of issue #11, as a learner (the attacker) would try it, against the real local driver running as root
// (a conference room's gateway): real bubblewrap, cgroups, loop-mounted homes and network namespaces.

/** A TCP service on the host's loopback that answers `name` to whoever connects. */
function service(name: string): Promise<net.Server> {
  return new Promise((resolve) => {
    const s = net.createServer((c) => c.end(`${name}\n`));
    s.listen(0, '127.0.0.1', () => {
      resolve(s);
    });
  });
}
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

/** A bash line that prints open-<port> or closed-<port> for a TCP connection to 127.0.0.1:<port> from inside. */
const probe = (port: number) =>
  `if timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${String(port)}; head -1 <&3' 2>/dev/null; then echo open-${String(port)}; else echo closed-${String(port)}; fi`;

describe.skipIf(!asRoot)('the local jail when the gateway is root', () => {
  let lab: Lab;
  let sim: RunningSimulator;
  let other: net.Server;
  let hostService: net.Server;
  let a: Sandbox;
  let b: Sandbox;
  const secret = 'the-instructor-key-0f3c';

  beforeAll(async () => {
    lab = new Lab({ limits: { diskMb: 64, cpus: 0.2, memoryMb: 256, pids: 128 } });
    // What a gateway keeps beside the homes: its database and the instructor key.
    writeFileSync(join(lab.dataDir, 'xenlab.db'), secret, { mode: 0o644 });
    writeFileSync(join(lab.dataDir, 'instructor.key'), secret, { mode: 0o600 });
    sim = await startSimulator({ port: 0, user: 'root', password: 'pw-a', fast: true, seed: 'sec' });
    other = await service('pool-of-learner-b');
    hostService = await service('a-host-service');
    a = await lab.env('learner-a', {
      pool: { port: Number(new URL(sim.url).port), user: 'root', password: 'pw-a' },
    });
    b = await lab.env('learner-b', { pool: { port: portOf(other), user: 'root', password: 'pw-b' } });
  }, 60_000);

  afterAll(async () => {
    await lab.cleanup();
    await sim.close();
    other.close();
    hostService.close();
  }, 60_000);

  describe('1. the learner is nobody on the host', () => {
    it('runs the shell as an unprivileged host uid of its own (seen from the host), uid 1000 inside', async () => {
      const sh = new Shell(a);
      try {
        const out = await sh.run('echo "inside-uid=$(id -u)"', /inside-uid=\d+/);
        expect(out).toMatch(/inside-uid=1000/);
        const bash = descendants(sh.term.pid).filter((p) => p.comm === 'bash');
        expect(bash.length).toBeGreaterThan(0);
        for (const p of bash) {
          const uids = hostUids(p.pid);
          expect(uids).toHaveLength(4);
          for (const u of uids) {
            expect(u).not.toBe(0);
            expect(isLearnerUid(u)).toBe(true);
          }
        }
        // Its own uid: the other learner's shell runs as another one; the uid is the owner of the home.
        const sb = new Shell(b);
        try {
          await sb.run('echo "b-$((40+2))"', /b-42/);
          const [ub] = hostUids(descendants(sb.term.pid).find((p) => p.comm === 'bash')?.pid ?? 0);
          const [ua] = hostUids(bash[0]?.pid ?? 0);
          expect(ub).not.toBe(ua);
          expect(statSync(lab.home('learner-a')).uid).toBe(ua);
          expect(statSync(lab.home('learner-b')).uid).toBe(ub);
        } finally {
          sb.close();
        }
      } finally {
        sh.close();
      }
    });

    it('can not read /etc/shadow', async () => {
      const r = await inJail(a, 'cat /etc/shadow');
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/Permission denied/);
    });

    it('can not write the kernel’s knobs (/proc/sys/kernel/core_pattern, sysrq)', async () => {
      const before = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
      const r = await inJail(
        a,
        // Writes back the value it already has: harmless on the host even where the jail is broken (it was).
        'cat /proc/sys/kernel/core_pattern > /tmp/cp; cat /tmp/cp > /proc/sys/kernel/core_pattern; echo "cp=$?"; echo h > /proc/sysrq-trigger; echo "sr=$?"',
      );
      expect(r.out).toMatch(/cp=1/);
      expect(r.out).toMatch(/sr=1/);
      expect(readFileSync('/proc/sys/kernel/core_pattern', 'utf8')).toBe(before);
    });

    it('sees neither the gateway’s data folder nor another learner’s home', async () => {
      const bHome = lab.home('learner-b');
      writeFileSync(join(bHome, 'diary.txt'), 'private to b');
      spawnSync('chown', [
        `${String(statSync(bHome).uid)}:${String(statSync(bHome).uid)}`,
        join(bHome, 'diary.txt'),
      ]);
      const r = await inJail(
        a,
        `cat ${join(lab.dataDir, 'xenlab.db')}; cat ${join(lab.dataDir, 'instructor.key')}; cat ${join(bHome, 'diary.txt')}; ls ${lab.dataDir}; echo end`,
      );
      expect(r.out).not.toContain(secret);
      expect(r.out).not.toContain('private to b');
      expect(r.out).toMatch(/No such file or directory/);
      // Even by its host path (a learner who got out of the mount namespace), b's home is closed to a's uid.
      const ua = statSync(lab.home('learner-a')).uid;
      const escaped = spawnSync(
        'setpriv',
        [`--reuid=${String(ua)}`, `--regid=${String(ua)}`, '--clear-groups', 'cat', join(bHome, 'diary.txt')],
        { encoding: 'utf8' },
      );
      expect(escaped.status).not.toBe(0);
      expect(escaped.stderr).toMatch(/Permission denied/);
    });
  });

  describe('2. the gateway never writes through a learner’s symlink', () => {
    it('leaves a host file alone when the learner links ~/.xe and ~/.bashrc to it, and keeps .xe working', async () => {
      const victim = join(lab.dataDir, 'victim.conf');
      writeFileSync(victim, 'host file, do not touch\n', { mode: 0o644 });
      await inJail(a, `rm -f ~/.xe ~/.bashrc; ln -sf ${victim} ~/.xe; ln -sf ${victim} ~/.bashrc`);
      // A new terminal (and a reconnect after a restart) rewrites ~/.xe.
      const sh = new Shell(a);
      try {
        await sh.run('echo "ready-$((1+1))"', /ready-2/);
      } finally {
        sh.close();
      }
      expect(readFileSync(victim, 'utf8')).toBe('host file, do not touch\n');
      const r = await inJail(
        a,
        'test -L ~/.xe && echo still-a-link; grep -c ^password= ~/.xe; stat -c %U ~/.xe',
      );
      expect(r.out).not.toMatch(/still-a-link/);
      expect(r.out).toMatch(/^1$/m);
      expect(r.out).toMatch(/learner/);
    });

    it('makes the toolkit link of a lab inside the home only, whatever node_modules points to', async () => {
      const target = join(lab.dataDir, 'host-dir');
      mkdirSync(target, { mode: 0o755 });
      const home = lab.home('lab-learner');
      const first = await createLabEnvironment({
        lab: 'anatomy-of-a-pool',
        driver: lab.driver,
        learnerId: 'lab-learner',
        sandboxId: 'lab-learner',
        home,
        fast: true,
      });
      try {
        const r = await inJail(
          first.sandbox,
          `test -L ~/node_modules/@xenlab/toolkit && echo linked; rm -rf ~/node_modules; ln -s ${target} ~/node_modules; echo done`,
        );
        expect(r.out).toMatch(/linked/);
      } finally {
        await first.close();
      }
      // The learner comes back: the gateway links the toolkit again, and must not create @xenlab in host-dir.
      const again = await createLabEnvironment({
        lab: 'anatomy-of-a-pool',
        driver: lab.driver,
        learnerId: 'lab-learner',
        sandboxId: 'lab-learner',
        home,
        fast: true,
      });
      await again.close();
      expect(readdirSync(target)).toEqual([]);
    }, 120_000);
  });

  describe('3. the home quota holds while writing', () => {
    it('fails a write past the quota with "No space left on device"; the home stays under it', async () => {
      const r = await inJail(
        a,
        'for i in 1 2 3; do dd if=/dev/zero of=~/big$i bs=1M count=30 2>&1 | grep -o "No space left on device"; done; echo wrote',
        60_000,
      );
      expect(r.out).toMatch(/No space left on device/);
      const du = spawnSync('du', ['-sxb', lab.home('learner-a')], { encoding: 'utf8' });
      expect(Number.parseInt(du.stdout, 10)).toBeLessThan(64 * 1024 * 1024);
      // One big file too: stopped by the full disk, not only by the per-file cap.
      await inJail(a, 'rm -f ~/big*');
      const one = await inJail(a, 'dd if=/dev/zero of=~/big bs=1M count=2000 2>&1; rm -f ~/big', 60_000);
      expect(one.out).toMatch(/No space left on device/);
    }, 120_000);

    it('keeps the files across a gateway restart, and moves a home from before into the image', async () => {
      // A home from before: a plain folder with the learner's files (owned by root, as the old driver left them).
      const home = lab.home('old-learner');
      mkdirSync(join(home, 'project'), { recursive: true });
      writeFileSync(join(home, 'project', 'notes.txt'), 'from before\n');
      let s = await lab.env('old-learner');
      let r = await inJail(
        s,
        'cat ~/project/notes.txt; echo more >> ~/project/notes.txt; df --output=size ~ | tail -1',
      );
      expect(r.out, r.out).toMatch(/from before/);
      // df's size (KiB) of the home inside: the image's, not the host disk's.
      expect(Number.parseInt(/(\d+)\s*$/.exec(r.out)?.[1] ?? '', 10), r.out).toBeLessThanOrEqual(64 * 1024);
      await s.detach();
      expect(existsSync(`${home}.img`)).toBe(true);
      s = await lab.env('old-learner');
      r = await inJail(s, 'cat ~/project/notes.txt');
      expect(r.out).toBe('from before\nmore\n');
      await s.destroy();
    }, 60_000);
  });

  describe('4. the environment reaches its own pool and nothing else', () => {
    it('reaches its pool with xe at 127.0.0.1:<port>', async () => {
      const r = await inJail(a, 'cat ~/.xe | head -2; xe pool-list params=uuid --minimal; echo "xe=$?"');
      expect(r.out).toMatch(/server=127\.0\.0\.1/);
      expect(r.out).toMatch(/^[0-9a-f-]{36}$/m);
      expect(r.out).toMatch(/xe=0/);
    });

    it('can not reach another learner’s pool, the gateway, a host service or the internet', async () => {
      const gatewayLike = await service('the-gateway');
      try {
        const ports = [portOf(other), portOf(gatewayLike), portOf(hostService)];
        const r = await inJail(
          a,
          [
            ...ports.map(probe),
            "timeout 3 bash -c 'exec 3<>/dev/tcp/1.1.1.1/53' 2>&1 || echo internet-closed",
            'cat /proc/net/dev',
          ].join('; '),
        );
        for (const p of ports) expect(r.out).toContain(`closed-${String(p)}`);
        expect(r.out).toMatch(/internet-closed/);
        expect(r.out).not.toMatch(/pool-of-learner-b|the-gateway|a-host-service/);
        // Only the loopback interface.
        const ifaces = [...r.out.matchAll(/^\s*([\w.@-]+):\s+\d+/gm)].map((m) => m[1]);
        expect(ifaces).toEqual(['lo']);
        // While its own pool answers there (the same address, another namespace).
        const own = await inJail(b, probe(portOf(other)));
        expect(own.out).toContain(`open-${String(portOf(other))}`);
      } finally {
        gatewayLike.close();
      }
    });

    it('has no raw sockets for a ping flood, and what it does spin is held to its CPU share', async () => {
      const ping = await inJail(a, 'ping -c 1 -W 1 127.0.0.1; echo "ping=$?"');
      expect(ping.out).not.toMatch(/ping=0/);
      // 0.2 CPU: a 2 s busy loop gets at most ~0.4 s of CPU time (user+sys), whatever it runs.
      const busy = await inJail(
        a,
        'TIMEFORMAT=%U+%S; { time timeout 2 sh -c "while :; do :; done"; } 2>&1 | tail -1',
        20_000,
      );
      const cpu = busy.out
        .trim()
        .split('+')
        .reduce((acc, v) => acc + Number.parseFloat(v), 0);
      expect(cpu).toBeGreaterThan(0);
      expect(cpu).toBeLessThan(0.7);
    });

    it('gets its pool back after a gateway restart (the namespace is made again, the relay too)', async () => {
      const id = 'restarting';
      let s = await lab.env(id, { pool: { port: portOf(other), user: 'root', password: 'x' } });
      expect((await inJail(s, probe(portOf(other)))).out).toContain('open-');
      await s.detach();
      s = await lab.env(id, { pool: { port: portOf(hostService), user: 'root', password: 'x' } });
      const r = await inJail(s, `${probe(portOf(hostService))}; ${probe(portOf(other))}`);
      expect(r.out).toContain(`open-${String(portOf(hostService))}`);
      expect(r.out).toContain(`closed-${String(portOf(other))}`);
      await s.destroy();
      expect(existsSync(`/run/netns/${netnsName(id)}`)).toBe(false);
    }, 60_000);
  });
});

describe.skipIf(!asRoot)('5. a missing protection is said aloud', () => {
  it('names what is missing in the driver’s notice', () => {
    const d = createLocalDriver({ protections: { network: false, homeImage: false } });
    expect(d.jailed).toBe(true);
    expect(d.notice).toMatch(/network/);
    expect(d.notice).toMatch(/quota/);
    expect(createLocalDriver().notice).toBeUndefined();
  });

  it('refuses to start with --jail required when a root-mode protection is missing', () => {
    expect(() => createLocalDriver({ jail: 'required', protections: { homeImage: false } })).toThrow(
      /SANDBOX_ERR_NO_JAIL: .*quota/,
    );
  });
});
