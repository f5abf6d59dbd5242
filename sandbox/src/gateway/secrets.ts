import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A secret kept in the data directory (mode 0600), made on first use: the instructor key (so the printed link
 * stays valid across restarts) and the key of resume codes. Not in the database, so a copy of the database does
 * not let anyone in.
 */
export function persistentSecret(dataDir: string, name: string, make: () => string): string {
  const file = join(dataDir, name);
  try {
    const text = readFileSync(file, 'utf8').trim();
    if (text) return text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = make();
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}
