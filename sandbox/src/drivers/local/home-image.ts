/**
 * A home folder with a hard size limit: a sparse ext4 image per environment (`<home>.img`), loop-mounted at the home
 * (nosuid, nodev) while the environment is up. A write past the quota fails at once with "No space left on device"
 * instead of being noticed by a periodic `du`. The image stays when the environment is detached or destroyed, so the
 * files come back after a gateway restart; files of a home from before (a plain folder) are moved into the image
 * the first time it is mounted. Root only.
 * @module
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  statfsSync,
} from 'node:fs';
import { resolve } from 'node:path';
import { chownTree, type Owner } from './safe-fs.js';
import { XenlabError } from '../../errors/index.js';

const run = (cmd: string, args: readonly string[]): { ok: boolean; err: string } => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, err: r.stderr.trim() !== '' ? r.stderr.trim() : (r.error?.message ?? '') };
};

/** True when loop devices and mkfs.ext4 work here (we are root, /dev/loop-control answers). */
export function loopDevicesWork(): boolean {
  return (
    process.getuid?.() === 0 &&
    existsSync('/dev/loop-control') &&
    run('losetup', ['-f']).ok &&
    run('mkfs.ext4', ['-V']).ok
  );
}

/** The image file of a home. */
export const homeImage = (home: string): string => `${resolve(home)}.img`;

/** True when something is mounted at exactly this path. */
export function isMounted(path: string): boolean {
  const want = resolve(path);
  const unescape = (s: string) =>
    s.replace(/\\(\d{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => unescape(line.split(' ')[4] ?? '') === want);
}

/**
 * Mounts the home's image at the home (making the image on first use, sized `sizeMb`, its root owned by the
 * learner), after moving into it whatever the plain folder holds (a home from before, or files the gateway put
 * there while it was not mounted).
 * @throws Error `SANDBOX_ERR_HOME_IMAGE` when making or mounting the image fails.
 */
export function mountHome(home: string, sizeMb: number, owner: Owner): void {
  home = resolve(home);
  if (isMounted(home)) return;
  const img = homeImage(home);
  const fail = (what: string, err: string) => {
    throw new XenlabError('SANDBOX_ERR_HOME_IMAGE', `${what} ${img}: ${err}`);
  };
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const fresh = !existsSync(img);
  if (fresh) {
    const fd = openSync(img, 'wx', 0o600);
    try {
      ftruncateSync(fd, sizeMb * 1024 * 1024);
    } finally {
      closeSync(fd);
    }
    const mk = run('mkfs.ext4', [
      '-q',
      '-F',
      '-m',
      '0',
      '-E',
      `root_owner=${String(owner.uid)}:${String(owner.gid)}`,
      img,
    ]);
    if (!mk.ok) {
      rmSync(img, { force: true });
      fail('mkfs.ext4', mk.err);
    }
  }
  const opts = 'loop,nosuid,nodev,noatime';
  if (readdirSync(home).length > 0) {
    // Files in the plain folder: a home from before (the image is new), or what the gateway put there while the
    // image was not mounted. Mounted aside, they are copied in, then the folder is emptied. No learner process runs
    // in this environment now.
    const aside = `${home}.migrate`;
    mkdirSync(aside, { recursive: true, mode: 0o700 });
    const m = run('mount', ['-o', opts, img, aside]);
    if (!m.ok) fail('mount', m.err);
    try {
      if (fresh) {
        // Into an empty image: cp -a never follows the source's symlinks, and nothing else writes the target.
        const cp = run('cp', ['-a', '--', `${home}/.`, `${aside}/`]);
        if (!cp.ok) fail('copy into', cp.err);
        chownTree(aside, owner);
      } else {
        // Over the learner's files (which may hold symlinks to anywhere): with the learner's rights, best effort;
        // what clashes with the learner's own files stays theirs.
        const drop =
          owner.uid === 0
            ? ''
            : `setpriv --reuid=${String(owner.uid)} --regid=${String(owner.gid)} --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs --`;
        run('sh', [
          '-c',
          `cd "$1" && ${drop} tar -cf - . | { cd "$2" && ${drop} tar -xpf -; }`,
          'xenlab-merge',
          home,
          aside,
        ]);
      }
    } finally {
      run('umount', [aside]);
      rmdirSync(aside);
    }
    for (const e of readdirSync(home)) rmSync(`${home}/${e}`, { recursive: true, force: true });
  }
  const m = run('mount', ['-o', opts, img, home]);
  if (!m.ok) fail('mount', m.err);
  try {
    rmdirSync(`${home}/lost+found`);
  } catch {
    // Not there, or e2fsck put something in it: leave it.
  }
}

/** Unmounts a home (lazily when something still holds it); the image stays. */
export function unmountHome(home: string): void {
  home = resolve(home);
  if (!isMounted(home)) return;
  if (!run('umount', [home]).ok) run('umount', ['-l', home]);
}

/** Free bytes of the filesystem holding `path`. */
export function freeBytes(path: string): number {
  const s = statfsSync(path);
  return s.bavail * s.bsize;
}
