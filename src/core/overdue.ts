/**
 * Whether cronwatch itself missed its runs: cron stopped, the host was down, or runs crashed
 * before recording. Pure: the caller passes the clock.
 */
import type { Alert } from './types.js';
import { formatDuration } from './units.js';

/** The previous run is overdue when it is more than this many intervals old. */
export const OVERDUE_INTERVALS = 3;

export interface OverdueInput {
  /** When the previous run recorded its state, epoch ms; null on a first run. */
  readonly lastRunMs: number | null;
  readonly nowMs: number;
  readonly intervalMs: number;
}

/** Whether the previous run is more than `OVERDUE_INTERVALS` intervals old. */
export function isOverdue(input: OverdueInput): boolean {
  return input.lastRunMs !== null && input.nowMs - input.lastRunMs > OVERDUE_INTERVALS * input.intervalMs;
}

/**
 * The one alert owed by a run that finds its predecessor overdue, or null. Sent once: the run
 * records itself as the last run, so the next one is on time again.
 */
export function overdueAlert(input: OverdueInput): Extract<Alert, { kind: 'overdue' }> | null {
  if (input.lastRunMs === null || !isOverdue(input)) return null;
  return {
    kind: 'overdue',
    lastRunMs: input.lastRunMs,
    nowMs: input.nowMs,
    intervalMs: input.intervalMs,
    atMs: input.nowMs,
  };
}

/** One line for the terminal (and cron's mail) about an overdue previous run. */
export function describeOverdue(input: {
  readonly lastRunMs: number;
  readonly nowMs: number;
  readonly intervalMs: number;
}): string {
  return (
    `no run for ${formatDuration(input.nowMs - input.lastRunMs)} (previous run ${new Date(input.lastRunMs).toISOString()}, ` +
    `interval ${formatDuration(input.intervalMs)}): cronwatch was not running; is cron?`
  );
}
