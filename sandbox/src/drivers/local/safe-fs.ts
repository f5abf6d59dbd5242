/**
 * Writing into a learner's home from the gateway without following the learner's symlinks. The gateway may run as
 * root while the home belongs to the learner: `writeFileSync(join(home, '.xe'))` would write wherever a learner's
 * `~/.xe -> /etc/shadow` points. Every function here resolves paths one component at a time from an open directory
 * (`/proc/self/fd/N/<name>`, the openat of Node), opens with O_NOFOLLOW, creates with O_EXCL and replaces with
 * rename(), so a symlink is only ever a name to replace, never a way out of the home.
 * @module
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { XenlabError } from '../../errors/index.js';

/** A path in the home that is not what the gateway expects (a symlink or a file where a folder should be). */
export class UnsafePathError extends XenlabError {
  constructor(message: string) {
    super('SANDBOX_ERR_UNSAFE_PATH', message);
  }
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = constants;

const isRoot = (): boolean => process.getuid?.() === 0;

/** The path of `name` inside the directory open as `fd` (resolved from that directory, whatever its path). */
const at = (fd: number, name: string): string => `/proc/self/fd/${String(fd)}/${name}`;

function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))
    throw new UnsafePathError(`bad path component "${name}"`);
}

/** The folders on the way to `rel`, and its last name. */
function splitRel(rel: string): [string[], string] {
  const parts = rel.split('/').filter((p) => p !== '');
  for (const p of parts) checkName(p);
  const name = parts.pop();
  if (name === undefined) throw new UnsafePathError('empty path');
  return [parts, name];
}

/** Who owns what the gateway creates in the home: the home's owner (root's creations would be stuck there). */
export interface Owner {
  readonly uid: number;
  readonly gid: number;
}

function openDirAt(fd: number | undefined, path: string): number {
  try {
    // The root itself is the gateway's path (the learner can not rename it); below it nothing is followed.
    return fd === undefined
      ? openSync(path, O_RDONLY | O_DIRECTORY)
      : openSync(at(fd, path), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP' || code === 'ENOTDIR')
      throw new UnsafePathError(`${path} is a symlink or not a folder`);
    throw err;
  }
}

/**
 * Runs `use` with the directory `root/parts…` open, never following a symlink on the way; missing folders are made
 * (mode 0755, owned by `owner`, the root's owner by default) when `create`.
 */
function withDir<T>(
  root: string,
  parts: readonly string[],
  create: boolean,
  use: (fd: number, owner: Owner) => T,
  owner?: Owner,
): T {
  let fd = openDirAt(undefined, root);
  try {
    const st = fstatSync(fd);
    const own = owner ?? { uid: st.uid, gid: st.gid };
    for (const p of parts) {
      let next: number;
      try {
        next = openDirAt(fd, p);
      } catch (err) {
        if (!create || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        mkdirSync(at(fd, p), { mode: 0o755 });
        next = openDirAt(fd, p);
        if (isRoot()) fchownSync(next, own.uid, own.gid);
      }
      closeSync(fd);
      fd = next;
    }
    return use(fd, own);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `rel` (relative to `root`) with `data`: a new file under a random name (O_CREAT|O_EXCL|O_NOFOLLOW), owned
 * by the home's owner, then renamed over the target, so a symlink at the target is replaced, not followed.
 * @throws UnsafePathError when a folder on the way is a symlink or the target is a folder.
 */
export function writeFileInside(
  root: string,
  rel: string,
  data: string | Uint8Array,
  options: { mode?: number; owner?: Owner } = {},
): void {
  const [parts, name] = splitRel(rel);
  withDir(
    root,
    parts,
    false,
    (dir, own) => {
      const tmp = `.xenlab-${randomBytes(6).toString('hex')}.tmp`;
      const mode = options.mode ?? 0o644;
      const fd = openSync(at(dir, tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
      try {
        const buf = typeof data === 'string' ? Buffer.from(data) : data;
        let off = 0;
        while (off < buf.byteLength) off += writeSync(fd, buf, off);
        if (isRoot()) fchownSync(fd, own.uid, own.gid);
        fchmodSync(fd, mode);
      } finally {
        closeSync(fd);
      }
      try {
        renameSync(at(dir, tmp), at(dir, name));
      } catch (err) {
        unlinkSync(at(dir, tmp));
        throw new UnsafePathError(`can not replace ${rel}: ${(err as Error).message}`);
      }
    },
    options.owner,
  );
}

/**
 * Creates `rel` with `data` only when nothing (not even a dangling symlink) has that name; true when it did.
 */
export function createFileInside(
  root: string,
  rel: string,
  data: string,
  options: { mode?: number; owner?: Owner } = {},
): boolean {
  const [parts, name] = splitRel(rel);
  return withDir(
    root,
    parts,
    false,
    (dir, own) => {
      let fd: number;
      try {
        fd = openSync(at(dir, name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, options.mode ?? 0o644);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw err;
      }
      try {
        writeSync(fd, data);
        if (isRoot()) fchownSync(fd, own.uid, own.gid);
      } finally {
        closeSync(fd);
      }
      return true;
    },
    options.owner,
  );
}

/**
 * Makes `rel` a symlink to `target`, creating the folders on the way (never through a symlink): an old symlink is
 * replaced, anything else there is left alone. False (and nothing written) when the learner put a symlink or a
 * file where a folder should be.
 */
export function linkInside(root: string, rel: string, target: string, owner?: Owner): boolean {
  const [parts, name] = splitRel(rel);
  try {
    return withDir(
      root,
      parts,
      true,
      (dir, own) => {
        try {
          if (!lstatSync(at(dir, name)).isSymbolicLink()) return true;
        } catch {
          // Not there yet.
        }
        const tmp = `.xenlab-${randomBytes(6).toString('hex')}.tmp`;
        symlinkSync(target, at(dir, tmp));
        if (isRoot()) lchownSync(at(dir, tmp), own.uid, own.gid);
        renameSync(at(dir, tmp), at(dir, name));
        return true;
      },
      owner,
    );
  } catch (err) {
    if (err instanceof UnsafePathError) return false;
    throw err;
  }
}

/**
 * Gives everything under `dir` (itself included) to `owner` with lchown, never following a symlink. For a home no
 * process of the learner runs in (a migration before the first shell).
 */
export function chownTree(dir: string, owner: Owner): void {
  const walk = (p: string) => {
    const st = lstatSync(p);
    lchownSync(p, owner.uid, owner.gid);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(dir);
}
