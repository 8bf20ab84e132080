/**
 * The events log: `state_dir/events.jsonl`, append-only, one JSON event per line (see
 * `src/core/events.ts`). When it would grow past `EVENTS_MAX_BYTES` it is renamed to
 * `events.jsonl.1` (replacing the previous one) and a new file begun, so the log keeps at least
 * one full file of history and never more than two.
 *
 * Beside it, `counters.json` keeps the cumulative restart counts per target, which the log cannot
 * give once rotated: the metrics' `cronwatch_target_restarts_total` must never go down.
 */
import { appendFileSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type CronwatchEvent, parseEvent } from '../core/events.js';
import { writeFileAtomic } from './atomic.js';

export const EVENTS_FILE = 'events.jsonl';
export const COUNTERS_FILE = 'counters.json';
/** The live log is rotated before it grows past this (a run writes ~300 bytes; 5 MB is months). */
export const EVENTS_MAX_BYTES = 5 * 1024 * 1024;

export interface AppendOptions {
  /** Default `EVENTS_MAX_BYTES`. */
  readonly maxBytes?: number;
}

/** Cumulative restarts of one target, since the counters file was begun. */
export interface RestartCounts {
  readonly incident: number;
  readonly planned: number;
}

export type Counters = Readonly<Record<string, RestartCounts>>;

function eventsPath(stateDir: string): string {
  return join(stateDir, EVENTS_FILE);
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

/**
 * Appends `events` to the log in one write (0600), rotating first when it would pass the cap,
 * and adds their restarts to the counters. Callers hold the run lock, so no two append at once.
 */
export async function appendEvents(
  stateDir: string,
  events: readonly CronwatchEvent[],
  options: AppendOptions = {},
): Promise<void> {
  if (events.length === 0) return;
  const path = eventsPath(stateDir);
  const text = events.map((event) => `${JSON.stringify(event)}\n`).join('');
  const size = sizeOf(path);
  if (size > 0 && size + Buffer.byteLength(text) > (options.maxBytes ?? EVENTS_MAX_BYTES)) {
    renameSync(path, `${path}.1`);
  }
  appendFileSync(path, text, { mode: 0o600 });
  const restarts = events.filter((event) => event.kind === 'restart');
  if (restarts.length > 0) {
    const counters: Record<string, RestartCounts> = { ...(await readCounters(stateDir)) };
    for (const restart of restarts) {
      const before = counters[restart.target] ?? { incident: 0, planned: 0 };
      counters[restart.target] = restart.planned
        ? { ...before, planned: before.planned + 1 }
        : { ...before, incident: before.incident + 1 };
    }
    await writeFileAtomic(
      join(stateDir, COUNTERS_FILE),
      `${JSON.stringify({ version: 1, restarts: counters })}\n`,
    );
  }
}

export interface ReadEvents {
  /** Every readable event, the rotated file's first, in the order written. */
  readonly events: readonly CronwatchEvent[];
  /** Lines that were not events (cut by a crash, or from a later version), skipped. */
  readonly skipped: number;
}

/** Reads the rotated and the live log. Missing files are an empty log. */
export async function readEvents(stateDir: string): Promise<ReadEvents> {
  const path = eventsPath(stateDir);
  const events: CronwatchEvent[] = [];
  let skipped = 0;
  for (const file of [`${path}.1`, path]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`cannot read events log ${file}`, { cause: error });
    }
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let event: CronwatchEvent | null = null;
      try {
        event = parseEvent(JSON.parse(line));
      } catch {
        // A line cut short by a crash mid-append: counted below.
      }
      if (event === null) {
        skipped += 1;
      } else {
        events.push(event);
      }
    }
  }
  return { events, skipped };
}

/** The cumulative restart counts; an unreadable file counts from zero again. */
export async function readCounters(stateDir: string): Promise<Counters> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(stateDir, COUNTERS_FILE), 'utf8'));
  } catch {
    return {};
  }
  const restarts = (parsed as { restarts?: unknown } | null)?.restarts;
  if (typeof restarts !== 'object' || restarts === null) return {};
  const counters: Record<string, RestartCounts> = {};
  for (const [name, value] of Object.entries(restarts)) {
    const counts = value as Partial<RestartCounts> | null;
    if (typeof counts?.incident === 'number' && typeof counts.planned === 'number') {
      counters[name] = { incident: counts.incident, planned: counts.planned };
    }
  }
  return counters;
}
