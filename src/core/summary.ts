/**
 * Health over a window, computed from the events log: per target uptime (from its flips),
 * restarts, alerts and longest outage; runs made and missed (from the runs' start times against
 * the interval). Pure: the caller reads the log and passes the clock.
 *
 * A target's state between two flips is the state the first one flipped to, so downtime runs
 * from the run that found the target down to the run (or restart) that found it up: a process
 * that died and was restarted within one run shows as a restart, barely as downtime.
 */
import type { CronwatchEvent } from './events.js';
import type { Summary, TargetStatus, TargetSummary } from './types.js';

export interface SummaryInput {
  /** The log, oldest first (events before `sinceMs` give the state at the window's start). */
  readonly events: readonly CronwatchEvent[];
  readonly sinceMs: number;
  readonly nowMs: number;
  readonly intervalMs: number;
  /** The configured targets with their current state, used when the log has no flip for one. */
  readonly targets: readonly { readonly name: string; readonly status: TargetStatus }[];
}

/** Time in these states is not watched time: it counts neither as up nor as down. */
const UNWATCHED: ReadonlySet<TargetStatus> = new Set<TargetStatus>(['new', 'paused']);

type FlipEvent = Extract<CronwatchEvent, { kind: 'flip' }>;

interface Segment {
  readonly status: TargetStatus;
  readonly fromMs: number;
  readonly toMs: number;
}

/** The target's states over [sinceMs, nowMs], from its flips. */
function timeline(flips: readonly FlipEvent[], current: TargetStatus, sinceMs: number, nowMs: number) {
  const before = flips.filter((flip) => flip.atMs <= sinceMs).at(-1);
  const inside = flips.filter((flip) => flip.atMs > sinceMs && flip.atMs < nowMs);
  let status: TargetStatus = before?.to ?? inside[0]?.from ?? current;
  let fromMs = sinceMs;
  const segments: Segment[] = [];
  for (const flip of inside) {
    segments.push({ status, fromMs, toMs: flip.atMs });
    status = flip.to;
    fromMs = flip.atMs;
  }
  segments.push({ status, fromMs, toMs: nowMs });
  return segments.filter((segment) => segment.toMs > segment.fromMs);
}

function targetSummary(name: string, current: TargetStatus, input: SummaryInput): TargetSummary {
  const { events, sinceMs, nowMs } = input;
  const mine = events.filter((event) => 'target' in event && event.target === name);
  const flips = mine
    .filter((event): event is FlipEvent => event.kind === 'flip')
    .sort((a, b) => a.atMs - b.atMs);
  let upMs = 0;
  let downMs = 0;
  let longestOutageMs = 0;
  let outageMs = 0;
  for (const segment of timeline(flips, current, sinceMs, nowMs)) {
    const lengthMs = segment.toMs - segment.fromMs;
    if (segment.status === 'up') {
      upMs += lengthMs;
    } else if (!UNWATCHED.has(segment.status)) {
      downMs += lengthMs;
      // down -> stale is one outage, not two.
      outageMs += lengthMs;
      longestOutageMs = Math.max(longestOutageMs, outageMs);
      continue;
    }
    outageMs = 0;
  }
  const inWindow = mine.filter((event) => event.atMs >= sinceMs && event.atMs <= nowMs);
  const restarts = inWindow.filter((event) => event.kind === 'restart');
  return {
    name,
    uptimePercent: upMs + downMs === 0 ? null : (100 * upMs) / (upMs + downMs),
    downMs,
    longestOutageMs,
    incidentRestarts: restarts.filter((event) => !event.planned).length,
    plannedRestarts: restarts.filter((event) => event.planned).length,
    alerts: inWindow.filter((event) => event.kind === 'alert').length,
  };
}

/**
 * Runs expected every `intervalMs` that did not happen in the window. A gap between two runs of
 * about k intervals missed k - 1 runs; after the last run, a run is missed once it is half an
 * interval late. Nothing is counted before the first run the log knows of.
 */
export function missedRuns(
  startsMs: readonly number[],
  sinceMs: number,
  nowMs: number,
  intervalMs: number,
): number {
  const sorted = [...startsMs].sort((a, b) => a - b);
  const anchor = sorted.filter((at) => at < sinceMs).at(-1);
  const points = [...(anchor === undefined ? [] : [anchor]), ...sorted.filter((at) => at >= sinceMs)];
  let missed = 0;
  const countSlots = (fromMs: number, slots: number) => {
    for (let slot = 1; slot <= slots; slot += 1) {
      const atMs = fromMs + slot * intervalMs;
      if (atMs >= sinceMs && atMs <= nowMs) missed += 1;
    }
  };
  for (let index = 1; index < points.length; index += 1) {
    countSlots(points[index - 1]!, Math.round((points[index]! - points[index - 1]!) / intervalMs) - 1);
  }
  const last = points.at(-1);
  if (last !== undefined) countSlots(last, Math.floor((nowMs - last - intervalMs / 2) / intervalMs));
  return missed;
}

/** The health report over [sinceMs, nowMs]. */
export function summarize(input: SummaryInput): Summary {
  const { events, sinceMs, nowMs, intervalMs } = input;
  const inWindow = events.filter((event) => event.atMs >= sinceMs && event.atMs <= nowMs);
  const starts = events.filter((event) => event.kind === 'run_start').map((event) => event.atMs);
  return {
    fromMs: sinceMs,
    toMs: nowMs,
    intervalMs,
    runs: {
      made: inWindow.filter((event) => event.kind === 'run_start').length,
      missed: missedRuns(
        starts.filter((at) => at <= nowMs),
        sinceMs,
        nowMs,
        intervalMs,
      ),
      failed: inWindow.filter((event) => event.kind === 'run_end' && !event.ok).length,
    },
    targets: input.targets.map((target) => targetSummary(target.name, target.status, input)),
    ownAlerts: inWindow.filter((event) => event.kind === 'alert' && event.target === null).length,
  };
}

/**
 * `99.95%`: two decimals, never rounded up to 100% while any downtime is left, nor down to 0%
 * while any up time is; `-` when nothing was watched.
 */
export function formatUptime(percent: number | null): string {
  if (percent === null) return '-';
  if (percent === 100 || percent === 0) return `${percent}%`;
  const text = percent.toFixed(2);
  if (text === '100.00') return '99.99%';
  if (text === '0.00') return '0.01%';
  return `${text}%`;
}
