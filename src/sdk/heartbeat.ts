/**
 * The heartbeat file a watched program writes to prove it is alive, and what it says of itself.
 * cronwatch judges the file by its age (`max_age`) and, when it is a heartbeat, by its `status`.
 */

import { resolve } from 'node:path';
import type { HeartbeatReport } from '../core/types.js';
import { HEARTBEAT_MAX_BYTES } from '../probes/state-file.js';
import { writeFileAtomic } from '../store/atomic.js';

/**
 * - `ok`: working.
 * - `error`: the program reports a failure; cronwatch marks the target `error` and alerts with the
 *   message at once (it restarts the target only with `restart_on_error: true`).
 * - `running`: a job has started and not finished yet (see `monitored`).
 */
export type HeartbeatStatus = NonNullable<HeartbeatReport['status']>;

const STATUSES: readonly HeartbeatStatus[] = ['ok', 'error', 'running'];

// Readable by a cronwatch running as another user (root's crontab watching an app's daemon).
const FILE_MODE = 0o644;

export interface HeartbeatOptions {
  /** Default `ok`. */
  readonly status?: HeartbeatStatus;
  /** Said in cronwatch's alert when `status` is `error`; shown by `cronwatch status`. */
  readonly message?: string;
  /** Anything JSON can hold (counters, the last item processed); cronwatch does not read it. */
  readonly data?: unknown;
}

/** The JSON a heartbeat file holds. */
export interface HeartbeatRecord {
  /** When it was written, ISO 8601 (UTC). */
  readonly ts: string;
  /** The writer's process id. */
  readonly pid: number;
  readonly status: HeartbeatStatus;
  readonly message: string | null;
  readonly data: unknown;
}

/**
 * Writes a heartbeat to `file` (relative to the current directory): `{ ts, pid, status, message,
 * data }` as JSON, through a temp file and a rename in the same directory, so that cronwatch reads
 * the previous heartbeat or this one, never half of either. The directory must exist.
 *
 * @returns the record written.
 * @throws TypeError on a bad option; RangeError when the record is over `HEARTBEAT_MAX_BYTES`
 *   (cronwatch would not read it); an Error with the I/O error as `cause` when it cannot be written.
 */
export async function heartbeat(file: string, options: HeartbeatOptions = {}): Promise<HeartbeatRecord> {
  const record = heartbeatRecord(options, Date.now());
  let text: string;
  try {
    text = `${JSON.stringify(record)}\n`;
  } catch (error) {
    throw new TypeError(`Expected \`data\` to be JSON-serialisable: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const bytes = Buffer.byteLength(text);
  if (bytes > HEARTBEAT_MAX_BYTES) {
    throw new RangeError(
      `The heartbeat is ${bytes} bytes; cronwatch reads at most ${HEARTBEAT_MAX_BYTES}: keep \`message\` and \`data\` small`,
    );
  }
  const path = resolve(file);
  try {
    await writeFileAtomic(path, text, FILE_MODE);
  } catch (error) {
    // Node names the temp file in its message; the heartbeat's path is the one that tells.
    const why = (error as Error).message.replace(/, \w+ '[^']*'$/, '');
    throw new Error(`Could not write heartbeat ${path}: ${why}`, { cause: error });
  }
  return record;
}

function heartbeatRecord(options: HeartbeatOptions, nowMs: number): HeartbeatRecord {
  const status = options.status ?? 'ok';
  if (!STATUSES.includes(status)) {
    throw new TypeError(`Expected \`status\` to be one of ${STATUSES.join(', ')}, got \`${String(status)}\``);
  }
  const message = options.message ?? null;
  if (message !== null && typeof message !== 'string') {
    throw new TypeError(`Expected \`message\` to be a string, got \`${String(message)}\``);
  }
  return { ts: new Date(nowMs).toISOString(), pid: process.pid, status, message, data: options.data ?? null };
}
