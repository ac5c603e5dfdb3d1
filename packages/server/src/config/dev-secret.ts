/**
 * The development fallback for NEXTAUTH_SECRET: a random secret generated once and kept in the data folder
 * (mode 0600), so tokens minted by `fonana-realtime token` keep working across restarts. Never used in production.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const DEV_SECRET_FILE = 'nextauth-secret.dev';

/** Returns the secret kept in `dataDir`, creating it on first use; `created` tells whether it was just made. */
export function loadOrCreateDevSecret(dataDir: string): Promise<{ secret: string; path: string; created: boolean }> {
  return loadOrCreateSecretFile(dataDir, DEV_SECRET_FILE);
}

/** A random secret kept in `dataDir/file` (mode 0600), made on first use; the demo's API key and webhook secret too. */
export async function loadOrCreateSecretFile(dataDir: string, file: string): Promise<{ secret: string; path: string; created: boolean }> {
  const path = join(dataDir, file);
  try {
    const secret = (await readFile(path, 'utf8')).trim();
    if (secret.length >= 32) return { secret, path, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  await writeFile(path, `${secret}\n`, { mode: 0o600 });
  return { secret, path, created: true };
}
