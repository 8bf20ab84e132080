/** The state file a target touches to prove it still works, and what it says when it is a heartbeat. */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { FileFinding, HeartbeatReport } from '../core/types.js';

/** A state file larger than this is judged by its age only, never read. */
export const HEARTBEAT_MAX_BYTES = 64 * 1024;

const STATUSES: ReadonlySet<string> = new Set(['ok', 'error', 'running']);

/**
 * When the state file was last modified, or that it does not exist; and, when it is a heartbeat
 * (see `parseHeartbeat`) of at most `HEARTBEAT_MAX_BYTES`, its status and message. A file that
 * cannot be read, or is not a heartbeat, still counts by its modification time.
 * @throws on any error examining the file other than its absence (permission, I/O): the caller
 *   reports it as the target's error.
 */
export function probeStateFile(path: string): FileFinding {
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(path, { throwIfNoEntry: false });
  } catch (error) {
    throw new Error(`Could not read state file ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (stats === undefined) return { kind: 'missing' };
  // An empty file (a `touch`, the usual state file) holds no heartbeat: not opening it saves a
  // 1,000-target run a third of its state file time.
  const readable = stats.isFile() && stats.size > 0 && stats.size <= HEARTBEAT_MAX_BYTES;
  return { kind: 'present', mtimeMs: stats.mtimeMs, heartbeat: readable ? readHeartbeat(path) : null };
}

/**
 * What a heartbeat says of itself. A heartbeat is a JSON object with a `ts` (string or number) and
 * a `pid` (integer), as the SDK and `cronwatch beat` write it; anything else is null, so that a
 * program's own JSON state with a `status` of its own is not mistaken for one. `status` is null
 * when absent or not one of `ok`, `error`, `running`.
 */
export function parseHeartbeat(text: string): HeartbeatReport | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { ts, pid, status, message } = value as Record<string, unknown>;
  if (!(typeof ts === 'string' || typeof ts === 'number') || !Number.isInteger(pid)) return null;
  return {
    status: typeof status === 'string' && STATUSES.has(status) ? (status as HeartbeatReport['status']) : null,
    message: typeof message === 'string' ? message : null,
  };
}

/**
 * One buffer for every state file a run reads, allocated once: a zero-filled 64 KiB buffer per
 * target made a 1,000-target run allocate 64 MB and spend most of its probing time filling them.
 */
let readBuffer: Buffer | undefined;

function readHeartbeat(path: string): HeartbeatReport | null {
  let fd: number;
  try {
    // Non-blocking: a FIFO swapped in after the stat must not hang the run.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    // Unreadable (another user's 0600 file) or gone since the stat: its age still counts.
    return null;
  }
  try {
    if (!fstatSync(fd).isFile()) return null;
    // One byte more than allowed tells a file that grew past the limit since the stat.
    readBuffer ??= Buffer.allocUnsafe(HEARTBEAT_MAX_BYTES + 1);
    const buffer = readBuffer;
    let length = 0;
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    return length > HEARTBEAT_MAX_BYTES ? null : parseHeartbeat(buffer.toString('utf8', 0, length));
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
