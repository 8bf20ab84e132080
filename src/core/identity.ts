/** Telling one process from another that later took its pid. */
import type { ProcessIdentity, ProcessInfo } from './types.js';

/** `ps` gives start times to the second; two readings of one process may straddle a tick. */
const START_TIME_TOLERANCE_MS = 1000;

/**
 * Whether `b` is the process `a` identified: same pid, same start time (exact clock ticks when
 * both have them, else within a second; an unknown start time never matches) and same command line.
 */
export function sameProcess(a: ProcessIdentity, b: ProcessInfo): boolean {
  if (a.pid !== b.pid || a.cmdline !== b.cmdline) {
    return false;
  }
  if (a.startTicks !== null && b.startTicks !== null) {
    return a.startTicks === b.startTicks;
  }
  if (a.startTimeMs < 0 || b.startTimeMs < 0) {
    return false;
  }
  return Math.abs(a.startTimeMs - b.startTimeMs) <= START_TIME_TOLERANCE_MS;
}
