/**
 * Run folders of environments (sockets, pid files, staged TFTP folders) and cleaning up after gateways that died
 * without letting go of their machines.
 * @module
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeNetns } from './network.js';
import { QEMU_PID_FILE } from './vm.js';
import { moduleLogger } from '../../log/index.js';

const log = moduleLogger('drivers/qemu-xen');

/** Run folders of environments live in the temporary folder (unix socket paths must stay short). */
const RUN_PREFIX = 'xlq-';
/** The pid of the gateway process running an environment, in its run folder. */
const OWNER_FILE = 'owner.pid';

const pidAlive = (pid: number): boolean => {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const readPid = (file: string): number => {
  try {
    return Number(readFileSync(file, 'utf8').trim());
  } catch {
    return 0; // deliberate: no pid file (not started, or removed): nothing to reap
  }
};

/**
 * Ends the machines of gateways that died without letting go of them (killed outright: no detach, no destroy), and
 * removes their run folders. A machine whose gateway still runs is never touched, so parallel gateways (and test
 * files) sharing this machine are safe. Returns how many QEMU processes were ended.
 */
export function reapOrphans(dir: string = tmpdir()): number {
  let ended = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((e) => e.startsWith(RUN_PREFIX));
  } catch (err) {
    log.debug('could not read the folder of run folders', { dir, err });
    return 0;
  }
  for (const e of entries) {
    const runBase = join(dir, e);
    const owner = readPid(join(runBase, OWNER_FILE));
    if (owner === 0 || pidAlive(owner)) continue;
    for (const vmDir of readdirSync(runBase)) {
      const pid = readPid(join(runBase, vmDir, QEMU_PID_FILE));
      if (!pidAlive(pid)) continue;
      // Only a QEMU: the pid may have been reused since.
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8');
      } catch {
        continue; // deliberate: ended meanwhile
      }
      if (!cmd.startsWith('qemu-system')) continue;
      process.kill(pid, 'SIGKILL');
      ended++;
    }
    // Its private network, when it had one (the namespace is named after the run folder).
    removeNetns(e);
    rmSync(runBase, { recursive: true, force: true });
  }
  return ended;
}

/** A new run folder for one environment, owned by this process (its machines' folders go inside). */
export function makeRunBase(): string {
  const runBase = mkdtempSync(join(tmpdir(), RUN_PREFIX));
  writeFileSync(join(runBase, OWNER_FILE), String(process.pid));
  return runBase;
}
