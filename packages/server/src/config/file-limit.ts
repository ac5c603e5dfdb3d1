import { readFileSync } from 'node:fs';

/**
 * The soft limit of open files of this process (`ulimit -n`), read from /proc/self/limits; null where that file does
 * not exist (not Linux) or has no such line. Every socket holds one descriptor, so this bounds the sockets a process
 * can hold.
 */
export function readOpenFileLimit(limitsFile = '/proc/self/limits'): number | null {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'utf8');
  } catch {
    return null;
  }
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!match) return null;
  return match[1] === 'unlimited' ? null : Number(match[1]);
}
