/**
 * One process per embedded database. PGlite is single-process: two processes on one data folder each keep their own
 * copy in memory and overwrite each other's writes. The lock is a file holding the owner's pid, created exclusively;
 * a lock whose process is gone (a crash, a kill -9) is taken over.
 */
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StartupError } from '../startup-error.ts';

/** Takes the lock at `path` for this process; resolves to its release. Throws a StartupError naming DATA_DIR. */
export async function lockDataDir(path: string): Promise<() => Promise<void>> {
  await mkdir(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await open(path, 'wx');
      try {
        await file.writeFile(`${process.pid}\n`);
      } finally {
        await file.close();
      }
      return () => releaseLock(path);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    }
    const holder = await lockHolder(path);
    if (holder !== null && holder !== process.pid && isAlive(holder)) {
      throw new StartupError(
        'DATA_DIR',
        `the embedded database in ${dirname(path)} is in use by process ${holder} (one process per DATA_DIR; lock file ${path})`,
      );
    }
    // A stale lock (its process is gone, or the file is unreadable): take it over.
    await unlink(path).catch(() => {});
  }
  throw new StartupError('DATA_DIR', `could not take the lock file ${path}`);
}

async function lockHolder(path: string): Promise<number | null> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM'; // exists, owned by another user
  }
}

/** Removes the lock if it is still this process's. */
async function releaseLock(path: string): Promise<void> {
  if ((await lockHolder(path)) === process.pid) await unlink(path).catch(() => {});
}
