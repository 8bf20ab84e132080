/**
 * The durable alert queue: `state_dir/outbox/<id>.json`, one file per envelope, written
 * atomically (0600) before anything is sent and removed only once every configured channel has
 * accepted it. Each file carries its own delivery bookkeeping, so a run that dies mid-send
 * resumes where it stopped.
 */

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Alert, Envelope } from '../core/types.js';
import { writeFileAtomic } from './atomic.js';

export const OUTBOX_DIR = 'outbox';
const FILE_SUFFIX = '.json';
const CORRUPT_SUFFIX = '.corrupt';
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
// Ids become file names: nothing that could leave the directory.
const ID_PATTERN = /^[0-9A-Za-z][0-9A-Za-z_-]*$/;

/** A channel refused an envelope for good (401, 403, chat not found, ...). */
export interface PermanentFailure {
  /** Token-free description of the refusal. */
  readonly error: string;
  /** When it was refused, epoch ms. */
  readonly atMs: number;
  /** The channel's config fingerprint when it refused: a new config is tried again at once. */
  readonly fingerprint: string;
  /** `channel`: the channel refused everything (bad token, blocked, chat not found); `message`: only this. */
  readonly scope: 'channel' | 'message';
  /** Refusals in a row this hold has met, this one included; each doubles the wait before the next try. */
  readonly tries: number;
}

/** When a channel was last seen to work (a delivery, `test-alert`, `doctor`), with which config. */
export interface ChannelWorked {
  readonly atMs: number;
  readonly fingerprint: string;
}

/** What the outbox knows of an envelope's delivery. */
export interface DeliveryInfo {
  /** Channels that accepted every message of the envelope. */
  readonly delivered: readonly string[];
  /** Per channel, messages of the envelope already accepted (a digest may be several). */
  readonly sentParts: Readonly<Record<string, number>>;
  /** Send attempts over all channels and runs. */
  readonly attempts: number;
  /** The last error of any channel, token-free; null once none failed. */
  readonly lastError: string | null;
  /** When a send was last tried, epoch ms. */
  readonly lastAttemptMs: number | null;
  /** Channels that refused the envelope for good: held until the channel is seen to work, or its retry is due. */
  readonly permanent: Readonly<Record<string, PermanentFailure>>;
}

/** An envelope waiting in the outbox, with its delivery bookkeeping. */
export type OutboxEntry = Envelope & DeliveryInfo;

/** The outbox as read: entries in id (enqueue) order, and any files that were moved aside. */
export interface OutboxContents {
  readonly entries: readonly OutboxEntry[];
  /** Paths of unreadable files, now renamed to `*.corrupt` beside the queue (unless `moveAside: false`). */
  readonly corrupt: readonly string[];
}

const FRESH_DELIVERY: DeliveryInfo = {
  delivered: [],
  sentParts: {},
  attempts: 0,
  lastError: null,
  lastAttemptMs: null,
  permanent: {},
};

let lastIdMs = 0;
let idSequence = 0;

/**
 * A unique id that sorts in enqueue order: milliseconds, a per-process sequence (monotonic even
 * if the clock steps back), and random bits against another process enqueueing in the same ms.
 */
export function newEnvelopeId(nowMs: number): string {
  if (nowMs > lastIdMs) {
    lastIdMs = nowMs;
    idSequence = 0;
  } else {
    idSequence += 1;
  }
  const random = Math.floor(Math.random() * 0x1000000)
    .toString(16)
    .padStart(6, '0');
  return `${String(lastIdMs).padStart(13, '0')}-${String(idSequence).padStart(4, '0')}-${random}`;
}

export function outboxDir(stateDir: string): string {
  return join(stateDir, OUTBOX_DIR);
}

/** Whether an envelope is at `path`; an error other than its absence is thrown. */
function queued(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function entryPath(stateDir: string, id: string): string {
  if (!ID_PATTERN.test(id)) {
    throw new TypeError(`Expected an envelope id of letters, digits, '-' and '_', got \`${id}\``);
  }
  return join(outboxDir(stateDir), `${id}${FILE_SUFFIX}`);
}

/**
 * Records an envelope in the outbox, durably, before any attempt to send it. Throws when an
 * envelope with the same id is already queued: overwriting it would forget its deliveries.
 */
export async function enqueue(stateDir: string, envelope: Envelope): Promise<OutboxEntry> {
  const path = entryPath(stateDir, envelope.id);
  mkdirSync(outboxDir(stateDir), { recursive: true, mode: DIR_MODE });
  if (queued(path)) throw new Error(`The outbox already holds an envelope with id \`${envelope.id}\``);
  const entry: OutboxEntry = {
    id: envelope.id,
    host: envelope.host,
    createdMs: envelope.createdMs,
    silent: envelope.silent,
    alerts: envelope.alerts,
    ...FRESH_DELIVERY,
  };
  await save(stateDir, entry);
  return entry;
}

/** Writes an entry's new bookkeeping, atomically. */
export async function save(stateDir: string, entry: OutboxEntry): Promise<void> {
  await writeFileAtomic(
    entryPath(stateDir, entry.id),
    `${JSON.stringify({ version: 1, ...entry })}\n`,
    FILE_MODE,
  );
}

/** Drops an envelope every channel has accepted. */
export async function remove(stateDir: string, id: string): Promise<void> {
  try {
    unlinkSync(entryPath(stateDir, id));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** A record of ours: atomic.ts's temp files start with a dot; `*.corrupt` files do not end in `.json`. */
function isRecordFile(name: string): boolean {
  return name.endsWith(FILE_SUFFIX) && !name.startsWith('.');
}

/** Whether nothing waits in the outbox: the check a healthy run makes instead of reading it. */
export function outboxIsEmpty(stateDir: string): boolean {
  try {
    return !readdirSync(outboxDir(stateDir)).some(isRecordFile);
  } catch {
    // No outbox yet, or none that can be read: nothing this run could send from it.
    return true;
  }
}

/**
 * Reads the whole outbox. A file that is not a valid entry is renamed to `<name>.corrupt` and
 * listed in `corrupt`, so one bad file neither stops delivery of the others nor vanishes; with
 * `moveAside: false` (a read-only look, e.g. `status`) it is only listed.
 */
export async function readOutbox(
  stateDir: string,
  options: { readonly moveAside?: boolean } = {},
): Promise<OutboxContents> {
  const dir = outboxDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    names = [];
  }
  const files = names.filter(isRecordFile).sort();
  const entries: OutboxEntry[] = [];
  const corrupt: string[] = [];
  for (const name of files) {
    const path = join(dir, name);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      // Delivered and removed by another process between readdir and here.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const entry = parseEntry(text, name.slice(0, -FILE_SUFFIX.length));
    if (entry === null) {
      corrupt.push(options.moveAside === false ? path : moveAside(path));
    } else {
      entries.push(entry);
    }
  }
  return { entries, corrupt };
}

function moveAside(path: string): string {
  let target = `${path}${CORRUPT_SUFFIX}`;
  for (let n = 1; existsSync(target); n += 1) target = `${path}.${n}${CORRUPT_SUFFIX}`;
  renameSync(path, target);
  return target;
}

function parseEntry(text: string, idFromName: string): OutboxEntry | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(value) || value.version !== 1 || value.id !== idFromName) return null;
  const {
    host,
    createdMs,
    silent,
    alerts,
    delivered,
    sentParts,
    attempts,
    lastError,
    lastAttemptMs,
    permanent,
  } = value;
  if (
    typeof host !== 'string' ||
    typeof createdMs !== 'number' ||
    typeof silent !== 'boolean' ||
    !Array.isArray(alerts) ||
    !alerts.every((alert) => isRecord(alert) && typeof alert.kind === 'string') ||
    !Array.isArray(delivered) ||
    !delivered.every((name) => typeof name === 'string') ||
    !isRecord(sentParts) ||
    !Object.values(sentParts).every((n) => typeof n === 'number') ||
    typeof attempts !== 'number' ||
    !(lastError === null || typeof lastError === 'string') ||
    !(lastAttemptMs === null || typeof lastAttemptMs === 'number') ||
    !isRecord(permanent) ||
    !Object.values(permanent).every(isPermanentFailure)
  ) {
    return null;
  }
  return {
    id: idFromName,
    host,
    createdMs,
    silent,
    alerts: alerts as Alert[],
    delivered: delivered as string[],
    sentParts: sentParts as Record<string, number>,
    attempts,
    lastError,
    lastAttemptMs,
    permanent: Object.fromEntries(
      Object.entries(permanent).map(([channel, failure]) => [
        channel,
        permanentFailureOf(failure as Record<string, unknown>),
      ]),
    ),
  };
}

function isPermanentFailure(value: unknown): boolean {
  return (
    isRecord(value) &&
    typeof value.error === 'string' &&
    typeof value.atMs === 'number' &&
    typeof value.fingerprint === 'string' &&
    (value.scope === undefined || value.scope === 'channel' || value.scope === 'message') &&
    (value.tries === undefined || typeof value.tries === 'number')
  );
}

/** A refusal as stored; files written before `scope` and `tries` existed were channel refusals. */
function permanentFailureOf(value: Record<string, unknown>): PermanentFailure {
  return {
    error: value.error as string,
    atMs: value.atMs as number,
    fingerprint: value.fingerprint as string,
    scope: (value.scope as PermanentFailure['scope'] | undefined) ?? 'channel',
    tries: (value.tries as number | undefined) ?? 1,
  };
}

const WORKED_DIR = 'channels';

/**
 * Records that `channel` was seen to work with the config `fingerprint`: refusals older than this
 * no longer hold its alerts. Written by whoever saw it (a delivery, `test-alert`, `doctor`), one
 * file per channel so that writers of different channels never overwrite each other.
 */
export async function recordChannelWorked(
  stateDir: string,
  channel: string,
  worked: ChannelWorked,
): Promise<void> {
  if (!ID_PATTERN.test(channel)) throw new TypeError(`Expected a channel name, got \`${channel}\``);
  const dir = join(stateDir, WORKED_DIR);
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  await writeFileAtomic(
    join(dir, `${channel}${FILE_SUFFIX}`),
    `${JSON.stringify({ version: 1, ...worked })}\n`,
    FILE_MODE,
  );
}

/** When each channel was last seen to work; a channel never seen, or an unreadable record, is absent. */
export async function readChannelsWorked(stateDir: string): Promise<Record<string, ChannelWorked>> {
  const dir = join(stateDir, WORKED_DIR);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    names = [];
  }
  const worked: Record<string, ChannelWorked> = {};
  for (const name of names.filter(isRecordFile)) {
    let value: unknown = null;
    try {
      value = JSON.parse(readFileSync(join(dir, name), 'utf8'));
    } catch {
      // Unreadable: as if the channel had never been seen to work.
    }
    if (isRecord(value) && typeof value.atMs === 'number' && typeof value.fingerprint === 'string') {
      worked[name.slice(0, -FILE_SUFFIX.length)] = { atMs: value.atMs, fingerprint: value.fingerprint };
    }
  }
  return worked;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
