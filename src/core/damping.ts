/**
 * Damping: what keeps a flapping target from flooding the chat, without ever hiding an incident.
 * Pure: `conclude()` hands it the alert a target's flip owes and gets back what to send.
 *
 * A target whose problems begin `FLAP_COUNT` times within the flap window gets one "flapping"
 * alert. Until it settles, a problem that a restart fixed in the same run, of a kind already
 * told, is counted instead of sent. Everything else still goes out at once: a failed start (its
 * log tail is the one clue), a problem still there when the run ends, a kind of problem not told
 * yet, and a recovery (whoever was told "down" is told "up"). The count is never dropped: a
 * target that stays in one state for the settle window gets one "settled" message with it, and
 * one that never settles gets a "still flapping" message with it at least every
 * `DAMPED_REPORT_MAX_MS` (or every `alerts.reminder`, when shorter).
 *
 * Reminders live here too: an unresolved problem is repeated every `alerts.reminder`, counted
 * from the last message about the target, or from when the problem began if none was sent.
 */
import type { Alert, Damping, ProblemStatus, TargetState, TargetStatus } from './types.js';

/** This many problems beginning within `FLAP_WINDOW_INTERVALS` runs is flapping. */
export const FLAP_COUNT = 3;
/** The flap window, and the settle window: a target that stays in one state this long settled. */
export const FLAP_WINDOW_INTERVALS = 6;
/** A flapping target's merged changes are reported at least this often, whatever `alerts.reminder` says. */
export const DAMPED_REPORT_MAX_MS = 6 * 3_600_000;

const PROBLEMS: ReadonlySet<TargetStatus> = new Set<ProblemStatus>([
  'down',
  'stale',
  'over_limit',
  'error',
  'backoff',
]);

/** Whether a status is a problem someone should hear about. */
export function isProblem(status: TargetStatus): status is ProblemStatus {
  return PROBLEMS.has(status);
}

export interface DampInput {
  readonly target: string;
  /** The target's state at the end of the previous run. */
  readonly before: Pick<TargetState, 'problemsMs' | 'damping'>;
  /** Its state at the end of this run (status, reason, since, last alert). */
  readonly final: Pick<TargetState, 'status' | 'reason' | 'sinceMs' | 'downSinceMs' | 'lastAlertMs'>;
  /** The status it had at the end of the previous run (a pause that ran out counts as paused). */
  readonly from: TargetStatus;
  /** What the flip owes before damping: a `problem` or `recovered` alert, or null. */
  readonly owed: Alert | null;
  /** The run already raised an alert about this target (backoff entered, extra instances). */
  readonly planned: boolean;
  readonly intervalMs: number;
  readonly reminderMs: number;
  readonly nowMs: number;
}

export interface DampResult {
  /** What to send about the target this run, in order. */
  readonly alerts: readonly Alert[];
  readonly problemsMs: readonly number[];
  readonly damping: Damping | null;
}

/** Applies the flapping and reminder policy to one target's run. */
export function damp(input: DampInput): DampResult {
  const { target, before, final, from, owed, nowMs } = input;
  const windowMs = FLAP_WINDOW_INTERVALS * input.intervalMs;
  const began = owed?.kind === 'problem' && !isProblem(from);
  const problemsMs = [...before.problemsMs.filter((at) => nowMs - at < windowMs), ...(began ? [nowMs] : [])];
  const changed = began || owed !== null || from !== final.status;
  let damping = before.damping;
  if (damping !== null && changed) damping = { ...damping, lastChangeMs: nowMs };
  const alerts: Alert[] = [];

  if (owed !== null && damping === null) {
    alerts.push(...flappingBegins(input, owed, began, problemsMs.length, windowMs));
    if (alerts.some((alert) => alert.kind === 'flapping')) {
      damping = {
        sinceMs: nowMs,
        told: owed.kind === 'problem' ? [owed.status] : [],
        merged: 0,
        mergedSinceMs: nowMs,
        lastMergedReason: null,
        lastChangeMs: nowMs,
      };
    }
  } else if (owed !== null && damping !== null) {
    if (mustSend(owed, damping, final.status)) {
      alerts.push(owed);
      if (owed.kind === 'problem' && !damping.told.includes(owed.status)) {
        damping = { ...damping, told: [...damping.told, owed.status] };
      }
    } else {
      damping = {
        ...damping,
        merged: damping.merged + 1,
        lastMergedReason: owed.kind === 'problem' ? owed.reason : damping.lastMergedReason,
      };
    }
  }

  if (damping !== null && alerts.length === 0 && nowMs - damping.lastChangeMs >= windowMs) {
    alerts.push({
      kind: 'settled',
      target,
      status: final.status,
      reason: isProblem(final.status) ? final.reason : null,
      sinceMs: final.sinceMs,
      merged: damping.merged,
      mergedSinceMs: damping.mergedSinceMs,
      flappingSinceMs: damping.sinceMs,
      atMs: nowMs,
    });
    return { alerts, problemsMs: [], damping: null };
  }
  if (
    damping !== null &&
    alerts.length === 0 &&
    damping.merged > 0 &&
    nowMs - damping.mergedSinceMs >= dampedReportMs(input.reminderMs)
  ) {
    alerts.push({
      kind: 'still_flapping',
      target,
      status: final.status,
      merged: damping.merged,
      mergedSinceMs: damping.mergedSinceMs,
      lastReason: damping.lastMergedReason,
      flappingSinceMs: damping.sinceMs,
      atMs: nowMs,
    });
    damping = { ...damping, merged: 0, mergedSinceMs: nowMs, lastMergedReason: null };
  }

  const reminder = alerts.length === 0 && !input.planned ? reminderOf(input) : null;
  if (reminder !== null) alerts.push(reminder);
  return { alerts, problemsMs, damping };
}

/** How often a flapping target's merged changes are reported when it does not settle. */
export function dampedReportMs(reminderMs: number): number {
  return reminderMs > 0 ? Math.min(reminderMs, DAMPED_REPORT_MAX_MS) : DAMPED_REPORT_MAX_MS;
}

/**
 * The alerts of a flip on an undamped target: the one it owes, or, when it makes the target
 * flapping, the flapping alert — with the owed one before it unless a restart fixed the problem.
 */
function flappingBegins(
  input: DampInput,
  owed: Alert,
  began: boolean,
  problems: number,
  windowMs: number,
): Alert[] {
  if (!began || problems < FLAP_COUNT) return [owed];
  const flapping: Alert = {
    kind: 'flapping',
    target: input.target,
    count: problems,
    windowMs,
    atMs: input.nowMs,
  };
  const fixed = owed.kind === 'problem' && owed.outcome?.kind === 'started' && !isProblem(input.final.status);
  return fixed ? [flapping] : [owed, flapping];
}

/** While damped, all but a repeat that a restart fixed in the same run goes out. */
function mustSend(owed: Alert, damping: Damping, finalStatus: TargetStatus): boolean {
  if (owed.kind !== 'problem') return owed.kind === 'recovered';
  if (owed.outcome?.kind === 'start_failed') return true;
  if (isProblem(finalStatus)) return true;
  return !damping.told.includes(owed.status);
}

function reminderOf(input: DampInput): Alert | null {
  const { final, reminderMs, nowMs } = input;
  if (reminderMs <= 0 || !isProblem(final.status)) return null;
  const problemSinceMs = final.downSinceMs ?? final.sinceMs;
  const lastToldMs = Math.max(final.lastAlertMs ?? problemSinceMs, problemSinceMs);
  if (nowMs - lastToldMs < reminderMs) return null;
  return {
    kind: 'reminder',
    target: input.target,
    status: final.status,
    reason: final.reason ?? final.status,
    sinceMs: problemSinceMs,
    atMs: nowMs,
  };
}
