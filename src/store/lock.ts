/**
 * The run lock: never two runs act at once, and a crashed run's lock does not block the next.
 *
 * Two locks, taken in this order:
 * - on Linux, an abstract unix socket named after the state dir, which needs no disk and which
 *   the kernel frees when its holder dies, however it dies. A watchdog must keep watching when
 *   the host is in trouble (a full or read-only disk), which is when daemons die;
 * - the `lock` file in the state dir, which names the holder (pid, start time) for the message of
 *   a run that finds the lock held, and guards runs the socket cannot: another network
 *   namespace (a container sharing the state dir), or a system without abstract sockets.
 * When the file cannot be written (disk full, read-only), the socket alone holds the lock, and
 * the result says what could not be recorded. Off Linux such a run goes on unlocked: restarting
 * what is down matters more than the rare overlap of two runs.
 */
import {
  linkSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import type { Server } from 'node:net';
import { join, resolve } from 'node:path';
import { fnv1a, hex8 } from '../core/fnv.js';
import { readProcess } from '../probes/process-table.js';
import { removeQuietly, writeFileAtomic } from './atomic.js';

/** Who holds the lock: enough to tell a live holder from a reused pid. */
interface LockHolder {
  readonly pid: number;
  readonly startTicks: number | null;
  readonly sinceMs: number;
}

export type LockResult =
  | {
      readonly kind: 'acquired';
      readonly release: () => Promise<void>;
      readonly tookOverFrom: number | null;
      /**
       * Why the lock file could not be written (ENOSPC, EROFS, ...), or null. Set, the state dir
       * is unwritable: the socket alone holds the lock (off Linux: nothing does).
       */
      readonly unrecorded: NodeJS.ErrnoException | null;
    }
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
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
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
 * did would take the lock for abandoned). The temp file is removed whatever fails.
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const temp = `${path}.${process.pid}.new`;
  try {
    writeFileSync(temp, content, { mode: 0o600 });
    linkSync(temp, path);
    return true;
  } catch (error) {
    const errno = error as NodeJS.ErrnoException;
    if (errno.code === 'EEXIST') return false;
    // A failed write names no file; the message that reports it must.
    errno.path ??= temp;
    throw error;
  } finally {
    removeQuietly(temp);
  }
}

/** FNV-1a twice, with different bases: 64 bits of name, so two state dirs never share a lock. */
function hashOf(text: string): string {
  return `${hex8(fnv1a(text))}${hex8(fnv1a(text, 0x050c5d1f))}`;
}

/** The abstract socket's name for `stateDir` (one per directory, however it is spelled). */
export function socketName(stateDir: string): string {
  let real: string;
  try {
    real = realpathSync(stateDir);
  } catch {
    real = resolve(stateDir);
  }
  return `\0cronwatch-${hashOf(real)}`;
}

/**
 * Inodes of the sockets bound to abstract `name`, from /proc/net/unix, which shows each NUL as
 * `@`: the leading one, and the padding node binds the name with (the whole of `sun_path`).
 */
function socketInodes(name: string): Set<string> {
  const inodes = new Set<string>();
  const shown = `@${name.slice(1)}`;
  for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[7]?.replace(/@+$/, '') === shown && fields[6] !== undefined) inodes.add(fields[6]);
  }
  return inodes;
}

/**
 * Whether `pid` is a process of this user that has one of `inodes` open. Anyone can bind an
 * abstract name; only a process of ours holding it is a run of ours, so a name taken by another
 * user blocks nothing (the file lock guards instead).
 */
function holdsSocket(pid: number, inodes: ReadonlySet<string>): boolean {
  try {
    if (statSync(`/proc/${pid}`).uid !== process.getuid?.()) return false;
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        return target.startsWith('socket:[') && inodes.has(target.slice(8, -1));
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** The run of ours that holds the socket, checking the lock file's holder first; null: none. */
async function socketHolder(name: string, lockPath: string): Promise<LockHolder | null> {
  const inodes = socketInodes(name);
  const recorded = await readHolder(lockPath);
  if (recorded !== null && recorded.pid > 0 && holderAlive(recorded) && holdsSocket(recorded.pid, inodes)) {
    return recorded;
  }
  // The holder could not write the file (disk full) or has not yet: look for it.
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid || !holdsSocket(pid, inodes)) continue;
    const info = readProcess(pid);
    return { pid, startTicks: info?.startTicks ?? null, sinceMs: info?.startTimeMs ?? 0 };
  }
  return null;
}

type SocketLock =
  | { readonly kind: 'taken'; readonly server: Server }
  | { readonly kind: 'held'; readonly holder: LockHolder }
  /** Not Linux, or the name is taken by something that is no run of ours. */
  | { readonly kind: 'none' };

async function takeSocket(stateDir: string, lockPath: string): Promise<SocketLock> {
  if (process.platform !== 'linux') return { kind: 'none' };
  const name = socketName(stateDir);
  const { createServer } = await import('node:net');
  const server = createServer((connection) => connection.destroy());
  const error = await new Promise<NodeJS.ErrnoException | null>((resolveListen) => {
    server.once('error', resolveListen);
    server.listen({ path: name }, () => resolveListen(null));
  });
  if (error === null) {
    // The lock must not keep a finished run alive.
    server.unref();
    return { kind: 'taken', server };
  }
  if (error.code !== 'EADDRINUSE') return { kind: 'none' };
  const holder = await socketHolder(name, lockPath);
  return holder === null ? { kind: 'none' } : { kind: 'held', holder };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolveClose) => server.close(() => resolveClose()));
}

/** The file lock; a lock whose holder is dead (crashed run, reboot, reused pid) is taken over. */
async function takeFile(
  stateDir: string,
  content: string,
): Promise<{ kind: 'acquired'; tookOverFrom: number | null } | { kind: 'held'; holder: LockHolder }> {
  const lockPath = join(stateDir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (await createExclusive(lockPath, content)) return { kind: 'acquired', tookOverFrom: null };
    const holder = await readHolder(lockPath);
    if (holder === null) continue;
    if (holderAlive(holder)) return { kind: 'held', holder };
    // The takeover is guarded by a second exclusive file, so that two runs finding the same
    // dead lock cannot both win.
    const takeoverPath = join(stateDir, TAKEOVER_FILE);
    if (!(await createExclusive(takeoverPath, content))) {
      const other = await readHolder(takeoverPath);
      if (other !== null && holderAlive(other)) return { kind: 'held', holder: other };
      removeQuietly(takeoverPath);
      continue;
    }
    try {
      const again = await readHolder(lockPath);
      if (again !== null && again.pid === holder.pid && again.sinceMs === holder.sinceMs) {
        await writeFileAtomic(lockPath, content);
        return { kind: 'acquired', tookOverFrom: holder.pid };
      }
    } finally {
      removeQuietly(takeoverPath);
    }
  }
  const holder = await readHolder(lockPath);
  return { kind: 'held', holder: holder ?? { pid: -1, startTicks: null, sinceMs: 0 } };
}

/**
 * Takes the run lock for `stateDir` (see the module's comment). Throws only on an error that is
 * not the disk's (the state dir unreadable, say); a disk that cannot be written is `unrecorded`.
 */
export async function acquireLock(stateDir: string, nowMs: number): Promise<LockResult> {
  const lockPath = join(stateDir, LOCK_FILE);
  const content = myHolder(nowMs);
  const socket = await takeSocket(stateDir, lockPath);
  if (socket.kind === 'held') return { kind: 'held', pid: socket.holder.pid, sinceMs: socket.holder.sinceMs };
  const server = socket.kind === 'taken' ? socket.server : null;
  let file: Awaited<ReturnType<typeof takeFile>> | null = null;
  let unrecorded: NodeJS.ErrnoException | null = null;
  try {
    file = await takeFile(stateDir, content);
  } catch (error) {
    if (typeof (error as NodeJS.ErrnoException).code !== 'string') {
      if (server !== null) await closeServer(server);
      throw error;
    }
    unrecorded = error as NodeJS.ErrnoException;
  }
  if (file?.kind === 'held') {
    if (server !== null) await closeServer(server);
    return { kind: 'held', pid: file.holder.pid, sinceMs: file.holder.sinceMs };
  }
  const fileTaken = file !== null;
  const release = async (): Promise<void> => {
    if (fileTaken) {
      const holder = await readHolder(lockPath);
      if (holder?.pid === process.pid) removeQuietly(lockPath);
    }
    if (server !== null) await closeServer(server);
  };
  return { kind: 'acquired', release, tookOverFrom: file?.tookOverFrom ?? null, unrecorded };
}

/** The live run that holds the lock in `stateDir`, or null; for `status`, which never takes it. */
export async function lockHolder(
  stateDir: string,
): Promise<{ readonly pid: number; readonly sinceMs: number } | null> {
  const holder = await readHolder(join(stateDir, LOCK_FILE));
  return holder !== null && holderAlive(holder) ? { pid: holder.pid, sinceMs: holder.sinceMs } : null;
}
