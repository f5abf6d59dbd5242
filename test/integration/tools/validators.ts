/**
 * The real config validators (Debian packages, installed by .ci/run): dnsmasq-base, drbd-utils, pacemaker-cli-utils.
 * Tests that need one fail with the install hint when it is missing — they are not skipped silently.
 */
import { spawnSync } from 'node:child_process';

/** Runs a validator; returns its exit code and combined output. */
export function validate(
  cmd: string,
  args: readonly string[],
  env?: Record<string, string>,
): { code: number; output: string } {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, ...env },
  });
  if (r.error)
    throw new Error(
      `${cmd} is not installed (apt-get install dnsmasq-base drbd-utils pacemaker-cli-utils): ${r.error.message}`,
    );
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}
