/**
 * The pure core of a run. `decide()` turns what was observed into a verdict and actions per
 * target; the shell saves the state it returns, acts, and hands the outcomes to `conclude()`,
 * which gives the final state and the alerts. Neither reads a clock, a file or a process.
 */
import type {
  Action,
  ActionOutcome,
  Alert,
  Config,
  Flip,
  Observation,
  ProcessIdentity,
  State,
  TargetConfig,
  TargetState,
  TargetStatus,
} from './types.js';
import { formatDuration } from './units.js';

/** Restart times older than this are dropped from the state. */
export const RESTART_HISTORY_MS = 24 * 3_600_000;

/** What a run concluded about one target from its observation alone. */
export interface Verdict {
  readonly target: string;
  /** `unknown`: the probe failed; nothing is changed or done. */
  readonly status: TargetStatus | 'unknown';
  readonly reason: string | null;
  readonly pid: number | null;
}

export interface DecideInput {
  readonly observations: readonly Observation[];
  readonly state: State;
  readonly config: Config;
  readonly nowMs: number;
}

export interface Plan {
  readonly verdicts: readonly Verdict[];
  readonly actions: readonly Action[];
  /** Flips seen by observation, before anything was done. */
  readonly flips: readonly Flip[];
  /** The state to record before acting: if the run dies mid-action, the next one knows. */
  readonly state: State;
}

export interface ConcludeInput {
  readonly plan: Plan;
  /** Previous run's state: what the flips are measured against. */
  readonly previous: State;
  readonly outcomes: Readonly<Record<string, ActionOutcome>>;
  readonly config: Config;
  readonly nowMs: number;
}

export interface Conclusion {
  readonly state: State;
  /** Every flip of the run, from the previous run's status to the final one. */
  readonly flips: readonly Flip[];
  readonly alerts: readonly Alert[];
  /** Final status per target, in config order. */
  readonly statuses: readonly {
    readonly target: string;
    readonly status: TargetStatus;
    readonly pid: number | null;
  }[];
}

const NEW_TARGET: TargetState = {
  status: 'new',
  sinceMs: 0,
  downSinceMs: null,
  reason: null,
  process: null,
  restartsMs: [],
  lastAlertMs: null,
  pause: null,
};

function previousOf(state: State, name: string): TargetState {
  return state.targets[name] ?? NEW_TARGET;
}

function identityOf(process: {
  readonly pid: number;
  readonly startTicks: number | null;
  readonly startTimeMs: number;
  readonly cmdline: string;
}): ProcessIdentity {
  return {
    pid: process.pid,
    startTicks: process.startTicks,
    startTimeMs: process.startTimeMs,
    cmdline: process.cmdline,
  };
}

interface Judgement {
  readonly status: TargetStatus;
  readonly reason: string | null;
  readonly action: Action | null;
  readonly process: ProcessIdentity | null;
}

function judge(
  target: TargetConfig,
  observation: Observation & { kind: 'observed' },
  nowMs: number,
): Judgement {
  const found = observation.process;
  if (found?.kind === 'absent') {
    return {
      status: 'down',
      reason: found.reason,
      action: target.start === null ? null : { kind: 'start', target: target.name, reason: found.reason },
      process: null,
    };
  }
  const running = found?.kind === 'running' ? found.process : null;
  const identity = running === null ? null : identityOf(running);
  const file = observation.file;
  if (file !== null && target.stateFile !== null && target.maxAgeMs !== null) {
    // The last sign of life is the later of the file's write and the process's start, so a
    // just-restarted target is not judged hung by the file its predecessor left.
    const fileMs = file.kind === 'present' ? file.mtimeMs : null;
    const lastSignMs = Math.max(
      fileMs ?? Number.NEGATIVE_INFINITY,
      running?.startTimeMs ?? Number.NEGATIVE_INFINITY,
    );
    if (lastSignMs === Number.NEGATIVE_INFINITY) {
      return {
        status: 'down',
        reason: `state file ${target.stateFile} is missing`,
        action: null,
        process: identity,
      };
    }
    const ageMs = nowMs - lastSignMs;
    if (ageMs > target.maxAgeMs) {
      const what =
        fileMs === null
          ? `state file ${target.stateFile} missing, process running for ${formatDuration(ageMs)}`
          : `state file ${target.stateFile} last written ${formatDuration(ageMs)} ago`;
      const reason = `${what} (max_age ${formatDuration(target.maxAgeMs)})`;
      const canRestart = target.start !== null && running !== null && found?.kind === 'running';
      return {
        status: 'stale',
        reason,
        action:
          canRestart && found?.kind === 'running'
            ? {
                kind: 'restart',
                target: target.name,
                reason,
                process: identityOf(found.process),
                pgid: found.process.pgid,
              }
            : null,
        process: identity,
      };
    }
  }
  return { status: 'up', reason: null, action: null, process: identity };
}

function pauseActive(previous: TargetState, nowMs: number): boolean {
  return previous.pause !== null && (previous.pause.untilMs === null || previous.pause.untilMs > nowMs);
}

/** Judges every observed target and says what to do; records the judgement in the state. */
export function decide(input: DecideInput): Plan {
  const { config, state, nowMs } = input;
  const byName = new Map(input.observations.map((observation) => [observation.target, observation]));
  const verdicts: Verdict[] = [];
  const actions: Action[] = [];
  const flips: Flip[] = [];
  const targets: Record<string, TargetState> = { ...state.targets };

  for (const target of config.targets) {
    const observation = byName.get(target.name);
    if (observation === undefined) continue;
    const previous = previousOf(state, target.name);
    if (pauseActive(previous, nowMs)) {
      verdicts.push({
        target: target.name,
        status: 'paused',
        reason: previous.pause?.reason ?? null,
        pid: null,
      });
      continue;
    }
    if (observation.kind === 'error') {
      verdicts.push({ target: target.name, status: 'unknown', reason: observation.message, pid: null });
      continue;
    }
    const judgement = judge(target, observation, nowMs);
    verdicts.push({
      target: target.name,
      status: judgement.status,
      reason: judgement.reason,
      pid: judgement.process?.pid ?? null,
    });
    if (judgement.action !== null) actions.push(judgement.action);
    // A pause that ran out counts as paused until this observation.
    const from: TargetStatus = previous.pause === null ? previous.status : 'paused';
    if (from !== judgement.status) {
      flips.push({ target: target.name, from, to: judgement.status, reason: judgement.reason, atMs: nowMs });
    }
    const isUp = judgement.status === 'up';
    targets[target.name] = {
      ...previous,
      status: judgement.status,
      sinceMs: from === judgement.status ? previous.sinceMs : nowMs,
      downSinceMs: isUp ? null : (previous.downSinceMs ?? nowMs),
      reason: judgement.reason ?? (isUp ? null : previous.reason),
      process: judgement.process ?? previous.process,
      pause: null,
      restartsMs: previous.restartsMs.filter((at) => nowMs - at < RESTART_HISTORY_MS),
    };
  }
  return { verdicts, actions, flips, state: { ...state, targets } };
}

/** Whether an alert is owed for a flip between two observed states. */
function problemBegins(from: TargetStatus, to: TargetStatus): boolean {
  const wasBad = from === 'down' || from === 'stale';
  return (to === 'down' || to === 'stale') && !wasBad;
}

/** Folds the actions' outcomes into the final state and the alerts owed for the run. */
export function conclude(input: ConcludeInput): Conclusion {
  const { plan, previous, outcomes, config, nowMs } = input;
  const targets: Record<string, TargetState> = { ...plan.state.targets };
  const flips: Flip[] = [];
  const alerts: Alert[] = [];
  const statuses: Conclusion['statuses'][number][] = [];

  for (const verdict of plan.verdicts) {
    const name = verdict.target;
    const before = previousOf(previous, name);
    const observed = targets[name] ?? before;
    if (verdict.status === 'unknown' || verdict.status === 'paused') {
      statuses.push({ target: name, status: observed.status, pid: observed.process?.pid ?? null });
      continue;
    }
    const from: TargetStatus = before.pause === null ? before.status : 'paused';
    const outcome = outcomes[name];
    let final: TargetState = observed;
    if (outcome?.kind === 'started') {
      final = {
        ...observed,
        status: 'up',
        sinceMs: nowMs,
        downSinceMs: null,
        process: outcome.identity,
        restartsMs: [...observed.restartsMs, nowMs],
      };
    } else if (outcome?.kind === 'start_failed') {
      final = { ...observed, status: 'down', sinceMs: from === 'down' ? before.sinceMs : nowMs };
    }
    const wasBad = from === 'down' || from === 'stale';
    let alert: Alert | null = null;
    const problem = verdict.status === 'down' || verdict.status === 'stale' ? verdict.status : null;
    if (problem !== null && problemBegins(from, problem)) {
      alert = {
        kind: 'problem',
        target: name,
        status: problem,
        reason: verdict.reason ?? problem,
        outcome: outcome ?? null,
        atMs: nowMs,
      };
    } else if (final.status === 'up' && wasBad) {
      const downSinceMs = before.downSinceMs ?? before.sinceMs;
      alert = {
        kind: 'recovered',
        target: name,
        downForMs: nowMs - downSinceMs,
        pid: final.process?.pid ?? null,
        atMs: nowMs,
      };
    } else if (outcome !== undefined && outcome.kind !== 'started' && problem !== null && problem !== from) {
      // down <-> stale while a problem is open, and the action failed: say what changed.
      alert = {
        kind: 'problem',
        target: name,
        status: problem,
        reason: verdict.reason ?? problem,
        outcome,
        atMs: nowMs,
      };
    }
    if (alert !== null) {
      alerts.push(alert);
      final = { ...final, lastAlertMs: nowMs };
    }
    if (from !== final.status) {
      flips.push({ target: name, from, to: final.status, reason: verdict.reason, atMs: nowMs });
    }
    targets[name] = final;
    statuses.push({ target: name, status: final.status, pid: final.process?.pid ?? null });
  }
  // Targets removed from the config are forgotten; their state would only confuse `status`.
  const known = new Set(config.targets.map((target) => target.name));
  for (const name of Object.keys(targets)) if (!known.has(name)) delete targets[name];
  return { state: { ...plan.state, targets, lastRunMs: nowMs }, flips, alerts, statuses };
}
