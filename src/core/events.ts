/**
 * The events log's vocabulary: what happened to cronwatch and its targets, one JSON object per
 * line in `state_dir/events.jsonl`, read back by `summary`. The builders are pure: the shell
 * passes what a run saw and did, and the clock.
 */
import { effectiveStatus, type Plan } from './decide.js';
import type { ActionOutcome, Alert, State, TargetState, TargetStatus } from './types.js';

/** One line of the events log. Times are epoch ms. */
export type CronwatchEvent =
  | {
      /** A `check` run took the lock; `rid` is also the heartbeat pings' run id. */
      readonly kind: 'run_start';
      readonly atMs: number;
      readonly rid: string;
    }
  | {
      readonly kind: 'run_end';
      readonly atMs: number;
      readonly rid: string;
      readonly startedMs: number;
      /** The run's exit code; null when it failed with an error instead. */
      readonly exitCode: number | null;
      /** Whether cronwatch did its job (the heartbeat's success or `/fail`). */
      readonly ok: boolean;
      /** Why it did not, when `ok` is false. */
      readonly problem: string | null;
    }
  | {
      /** A change of state; `paused` counts as a state here. */
      readonly kind: 'flip';
      readonly atMs: number;
      readonly target: string;
      readonly from: TargetStatus;
      readonly to: TargetStatus;
      readonly reason: string | null;
    }
  | {
      readonly kind: 'restart';
      readonly atMs: number;
      readonly target: string;
      /** `restart --planned`: routine, not an incident. */
      readonly planned: boolean;
      /** Whether the target was running again afterwards. */
      readonly ok: boolean;
    }
  | {
      /** An alert raised (enqueued); its text is in the outbox, not here. */
      readonly kind: 'alert';
      readonly atMs: number;
      readonly alert: Alert['kind'];
      /** null for alerts about cronwatch itself. */
      readonly target: string | null;
    };

export type EventKind = CronwatchEvent['kind'];

function alertEvent(alert: Alert): CronwatchEvent {
  return {
    kind: 'alert',
    atMs: alert.atMs,
    alert: alert.kind,
    target: 'target' in alert ? alert.target : null,
  };
}

export interface CheckEventsInput {
  /** What the run decided; its flips are those seen by observation. */
  readonly plan: Plan;
  readonly outcomes: Readonly<Record<string, ActionOutcome>>;
  /** The state after the actions (`conclude`'s). */
  readonly final: State;
  /** Every alert the run raised. */
  readonly alerts: readonly Alert[];
  /** When the actions' outcomes were folded in. */
  readonly concludedMs: number;
}

/**
 * The events of one `check` run after it concluded: the flips seen by observation, then what the
 * actions changed (a restart brings a target found down back up a few seconds later, which is
 * how its downtime gets measured), each restart tried, and the alerts raised.
 */
export function checkEvents(input: CheckEventsInput): CronwatchEvent[] {
  const { plan, outcomes, final, concludedMs } = input;
  const events: CronwatchEvent[] = plan.flips.map((flip) => ({
    kind: 'flip',
    atMs: flip.atMs,
    target: flip.target,
    from: flip.from,
    to: flip.to,
    reason: flip.reason,
  }));
  for (const verdict of plan.verdicts) {
    const name = verdict.target;
    const outcome = outcomes[name];
    if (outcome !== undefined) {
      events.push({
        kind: 'restart',
        atMs: concludedMs,
        target: name,
        planned: false,
        ok: outcome.kind === 'started',
      });
    }
    const observed = plan.state.targets[name];
    const after = final.targets[name];
    if (observed === undefined || after === undefined) continue;
    const from = effectiveStatus(observed);
    const to = effectiveStatus(after);
    if (from !== to) {
      const reason = outcome?.kind === 'started' ? 'started by cronwatch' : after.reason;
      events.push({ kind: 'flip', atMs: concludedMs, target: name, from, to, reason });
    }
  }
  for (const alert of input.alerts) events.push(alertEvent(alert));
  return events;
}

export interface TargetChangeInput {
  readonly target: string;
  readonly before: TargetState;
  readonly after: TargetState;
  readonly alert: Alert | null;
  readonly atMs: number;
}

/** The events of a command on one target by hand (`restart`, `pause`, `stop`, ...). */
export function targetChangeEvents(input: TargetChangeInput): CronwatchEvent[] {
  const { target, before, after, alert, atMs } = input;
  const events: CronwatchEvent[] = [];
  const from = effectiveStatus(before);
  const to = effectiveStatus(after);
  if (from !== to) {
    events.push({ kind: 'flip', atMs, target, from, to, reason: after.pause?.reason ?? after.reason });
  }
  if (alert?.kind === 'restarted') {
    events.push({
      kind: 'restart',
      atMs,
      target,
      planned: alert.planned,
      ok: alert.outcome.kind === 'started',
    });
  }
  if (alert !== null) events.push(alertEvent(alert));
  return events;
}

const EVENT_FIELDS: { readonly [K in EventKind]: Readonly<Record<string, 'string' | 'number' | 'boolean'>> } =
  {
    run_start: { atMs: 'number', rid: 'string' },
    run_end: { atMs: 'number', rid: 'string', startedMs: 'number', ok: 'boolean' },
    flip: { atMs: 'number', target: 'string', from: 'string', to: 'string' },
    restart: { atMs: 'number', target: 'string', planned: 'boolean', ok: 'boolean' },
    alert: { atMs: 'number', alert: 'string' },
  };

/**
 * One parsed line of the log as an event, or null when it is not one (a line cut by a crash, or
 * written by a later version): the reader skips it rather than failing the summary.
 */
export function parseEvent(value: unknown): CronwatchEvent | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  const kind = record.kind;
  if (typeof kind !== 'string' || !Object.hasOwn(EVENT_FIELDS, kind)) return null;
  const fields = EVENT_FIELDS[kind as EventKind];
  for (const [field, type] of Object.entries(fields)) {
    if (typeof record[field] !== type) return null;
  }
  return record as unknown as CronwatchEvent;
}
