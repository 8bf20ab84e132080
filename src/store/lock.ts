import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readProcess } from '../probes/process-table.js';
import { writeFileAtomic } from './atomic.js';

/** Who holds the lock: enough to tell a live holder from a reused pid. */
interface LockHolder {
  readonly pid: number;
  readonly startTicks: number | null;
  readonly sinceMs: number;
}

export type LockResult =
  | { readonly kind: 'acquired'; readonly release: () => Promise<void>; readonly tookOverFrom: number | null }
  | { readonly kind: 'held'; readonly pid: number; readonly sinceMs: number };

const LOCK_FILE = 'lock';
const TAKEOVER_FILE = 'lock.takeover';

function holderAlive(holder: LockHolder): boolean {
  const info = readProcess(holder.pid);
  if (info === null || info.state === 'Z') return false;
  return holder.startTicks === null || info.startTicks === null || info.startTicks === holder.startTicks;
}

async function readHolder(path: string): Promise<LockHolder | null> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number') return { pid: -1, startTicks: null, sinceMs: 0 };
    return { pid: parsed.pid, startTicks: parsed.startTicks ?? null, sinceMs: parsed.sinceMs ?? 0 };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // An unreadable or half-written lock (a crash mid-write) belongs to nobody.
    return { pid: -1, startTicks: null, sinceMs: 0 };
  }
}

function myHolder(nowMs: number): string {
  const self = readProcess(process.pid);
  return JSON.stringify({ pid: process.pid, startTicks: self?.startTicks ?? null, sinceMs: nowMs });
}

/**
 * Creates `path` holding `content`, or returns false if it exists. The content is written to a
 * temp file first and linked into place, so no reader ever sees the file empty (a reader that
 * did would take the lock for abandoned).
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const temp = `${path}.${process.pid}.new`;
  await writeFile(temp, content, { mode: 0o600 });
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/**
 * Takes the run lock in `stateDir`, so that two runs never act at once. A lock whose holder
 * is dead (crashed run, reboot, reused pid) is taken over; the takeover itself is guarded by
 * a second exclusive file so that two runs finding the same dead lock cannot both win.
 */
export async function acquireLock(stateDir: string, nowMs: number): Promise<LockResult> {
  const lockPath = join(stateDir, LOCK_FILE);
  const content = myHolder(nowMs);
  const release = async (): Promise<void> => {
    const holder = await readHolder(lockPath);
    if (holder?.pid === process.pid) await unlink(lockPath).catch(() => undefined);
  };
  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (await createExclusive(lockPath, content)) return { kind: 'acquired', release, tookOverFrom: null };
    const holder = await readHolder(lockPath);
    if (holder === null) continue;
    if (holderAlive(holder)) return { kind: 'held', pid: holder.pid, sinceMs: holder.sinceMs };
    const takeoverPath = join(stateDir, TAKEOVER_FILE);
    if (!(await createExclusive(takeoverPath, content))) {
      const other = await readHolder(takeoverPath);
      if (other !== null && holderAlive(other))
        return { kind: 'held', pid: other.pid, sinceMs: other.sinceMs };
      await unlink(takeoverPath).catch(() => undefined);
      continue;
    }
    try {
      const again = await readHolder(lockPath);
      if (again !== null && again.pid === holder.pid && again.sinceMs === holder.sinceMs) {
        await writeFileAtomic(lockPath, content);
        return { kind: 'acquired', release, tookOverFrom: holder.pid };
      }
    } finally {
      await unlink(takeoverPath).catch(() => undefined);
    }
  }
  const holder = await readHolder(lockPath);
  return { kind: 'held', pid: holder?.pid ?? -1, sinceMs: holder?.sinceMs ?? 0 };
}

/** The live run that holds the lock in `stateDir`, or null; for `status`, which never takes it. */
export async function lockHolder(
  stateDir: string,
): Promise<{ readonly pid: number; readonly sinceMs: number } | null> {
  const holder = await readHolder(join(stateDir, LOCK_FILE));
  return holder !== null && holderAlive(holder) ? { pid: holder.pid, sinceMs: holder.sinceMs } : null;
}
