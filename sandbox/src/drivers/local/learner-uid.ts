/**
 * The host uid a learner's processes run as when the gateway is root: one per environment, from a range no real
 * account uses, so a learner is nobody on the host (no /etc/shadow, no /proc/sys, no one else's files). The uid is
 * kept where it can not get lost: it is the owner of the environment's home folder.
 * @module
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** First uid of the learners' range (far above any account, below 2^31 so every tool takes it). */
export const LEARNER_UID_BASE = 2_000_000_000;
/** How many uids the range holds; the last one is kept for probing that the drop works. */
export const LEARNER_UID_COUNT = 1 << 24;
/** The uid `bubblewrapWorks` probes with (never given to an environment). */
export const PROBE_UID = LEARNER_UID_BASE + LEARNER_UID_COUNT - 1;

/** True for a uid of the learners' range. */
export const isLearnerUid = (uid: number): boolean => uid >= LEARNER_UID_BASE && uid < PROBE_UID;

const ownerOf = (path: string): number | undefined => {
  try {
    return lstatSync(path).uid;
  } catch {
    return undefined; // deliberate: not there: owned by no one
  }
};

/** Uids owning the homes next to this one: the folder's other entries, and `<name>` in its siblings (envs/ID/home). */
function siblingUids(home: string): Set<number> {
  const used = new Set<number>();
  const parent = dirname(home);
  const grand = dirname(parent);
  const name = basename(home);
  const add = (p: string) => {
    const u = ownerOf(p);
    if (u !== undefined && isLearnerUid(u)) used.add(u);
  };
  for (const [dir, sub] of [
    [parent, ''],
    [grand, name],
  ] as const) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue; // deliberate: no such folder: no neighbours there
    }
    for (const e of entries) add(sub ? join(dir, e, sub) : join(dir, e));
  }
  return used;
}

/**
 * The learner uid of an environment: the home's owner when it is already one of the range (so it survives a
 * restart), else a free one (derived from the id, then the next free one past the sibling homes and `taken`).
 */
export function learnerUid(home: string, id: string, taken: ReadonlySet<number> = new Set()): number {
  const own = ownerOf(home);
  if (own !== undefined && isLearnerUid(own)) return own;
  const used = siblingUids(home);
  for (const u of taken) used.add(u);
  const span = LEARNER_UID_COUNT - 1;
  let n = createHash('sha256').update(id).digest().readUInt32BE(0) % span;
  for (let i = 0; i < span && used.has(LEARNER_UID_BASE + n); i++) n = (n + 1) % span;
  return LEARNER_UID_BASE + n;
}
