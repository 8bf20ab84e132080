/**
 * The pure core of a run. `decide()` turns what was observed into a verdict and actions per
 * target; the shell saves the state it returns, acts, and hands the outcomes to `conclude()`,
 * which gives the final state and the alerts. Neither reads a clock, a file or a process.
 */

import { damp, isProblem } from './damping.js';
import type {
  Action,
  ActionOutcome,
  Alert,
  Config,
  FileFinding,
  Flip,
  Observation,
  ProcessIdentity,
  ProcessInfo,
  State,
  TargetConfig,
  TargetState,
  TargetStatus,
} from './types.js';
import { formatBytes, formatDuration, formatDurationOver } from './units.js';

/** Restart times older than this are dropped from the state. */
export const RESTART_HISTORY_MS = 24 * 3_600_000;
/** The longest backoff; never a give-up that only a person can lift. */
export const MAX_BACKOFF_MS = 6 * 3_600_000;
/** The first backoff skips this many runs; each failed try doubles it. */
export const FIRST_BACKOFF_INTERVALS = 2;
/**
 * A target just started (by a run or by hand): up, with the new process, its limit counters
 * reset and the problem forgotten. `counted`: the start goes toward `restart_limit`.
 */
export function startedState(
  previous: TargetState,
  identity: ProcessIdentity,
  atMs: number,
  counted: boolean,
): TargetState {
  return {
    ...previous,
    status: 'up',
    sinceMs: atMs,
    downSinceMs: null,
    reason: null,
    process: identity,
    restartsMs: counted ? [...previous.restartsMs, atMs] : previous.restartsMs,
    limitRuns: 0,
    cpuSample: null,
  };
}

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
  /** Alerts owed whatever the actions do (backoff entered, extra instances). */
  readonly alerts: readonly Alert[];
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

export const NEW_TARGET: TargetState = {
  status: 'new',
  sinceMs: 0,
  downSinceMs: null,
  reason: null,
  process: null,
  restartsMs: [],
  lastAlertMs: null,
  pause: null,
  backoff: null,
  limitRuns: 0,
  cpuSample: null,
  problemsMs: [],
  damping: null,
  extraInstances: false,
};

/** A target's stored state, with fields added by later versions filled in. */
export function previousOf(state: State, name: string): TargetState {
  const stored = state.targets[name];
  return stored === undefined ? NEW_TARGET : { ...NEW_TARGET, ...stored };
}

/** A target's state as the history sees it: a pause hides the stored status. */
export function effectiveStatus(target: Pick<TargetState, 'status' | 'pause'>): TargetStatus {
  return target.pause === null ? target.status : 'paused';
}

/** The identity by which a process is recognised again before any signal. */
export function identityOf(process: ProcessInfo): ProcessIdentity {
  return {
    pid: process.pid,
    startTicks: process.startTicks,
    startTimeMs: process.startTimeMs,
    cmdline: process.cmdline,
  };
}

/** What is wrong with a target, before the restart policy has its say. */
interface Judgement {
  readonly status: Exclude<TargetStatus, 'new' | 'paused' | 'backoff'>;
  readonly reason: string | null;
  /** What would fix it: start (nothing runs), restart (stop what runs first), or nothing. */
  readonly remedy: 'start' | 'restart' | null;
  readonly running: ProcessInfo | null;
  readonly limitRuns: number;
  readonly cpuSample: TargetState['cpuSample'];
}

function fileAgeProblem(
  target: TargetConfig,
  file: FileFinding | null,
  running: ProcessInfo | null,
  nowMs: number,
): { status: 'down' | 'stale' | 'error'; reason: string } | null {
  if (file === null || target.stateFile === null || target.maxAgeMs === null) return null;
  // The last sign of life is the later of the file's write and the process's start, so a
  // just-restarted target is not judged hung by the file its predecessor left.
  const fileMs = file.kind === 'present' ? file.mtimeMs : null;
  const lastSignMs = Math.max(
    fileMs ?? Number.NEGATIVE_INFINITY,
    running?.startTimeMs ?? Number.NEGATIVE_INFINITY,
  );
  if (lastSignMs === Number.NEGATIVE_INFINITY) {
    return { status: 'down', reason: `state file ${target.stateFile} is missing` };
  }
  const ageMs = nowMs - lastSignMs;
  if (ageMs > target.maxAgeMs) {
    // An age over max_age must never read as max_age itself.
    const what =
      fileMs === null
        ? `state file ${target.stateFile} missing, process running for ${formatDurationOver(ageMs, target.maxAgeMs)}`
        : fileMs < lastSignMs
          ? `state file ${target.stateFile} last written ${formatDurationOver(nowMs - fileMs, target.maxAgeMs)} ago, process running for ${formatDurationOver(ageMs, target.maxAgeMs)}`
          : `state file ${target.stateFile} last written ${formatDurationOver(ageMs, target.maxAgeMs)} ago`;
    return { status: 'stale', reason: `${what} (max_age ${formatDuration(target.maxAgeMs)})` };
  }
  // An error the current process (or the job's last run) wrote about itself; one written by a
  // predecessor before the current process started does not count.
  const heartbeat = file.kind === 'present' ? file.heartbeat : null;
  if (heartbeat?.status === 'error' && (running === null || (fileMs ?? 0) >= running.startTimeMs)) {
    return { status: 'error', reason: `reported an error: ${heartbeat.message ?? '(no message)'}` };
  }
  return null;
}

function limitProblem(
  target: TargetConfig,
  running: ProcessInfo,
  previous: TargetState,
  nowMs: number,
): { limitRuns: number; cpuSample: TargetState['cpuSample']; breach: string | null } {
  const cpuSample = { pid: running.pid, startTimeMs: running.startTimeMs, cpuMs: running.cpuMs, atMs: nowMs };
  const before = previous.cpuSample;
  // Counters belong to one process: a restarted target starts from zero (Monit carries them over).
  const sameProcess =
    before !== null && before.pid === running.pid && before.startTimeMs === running.startTimeMs;
  const breaches: string[] = [];
  if (target.maxMemoryBytes !== null && running.rssBytes > target.maxMemoryBytes) {
    breaches.push(
      `resident memory ${formatBytes(running.rssBytes)} over max_memory ${formatBytes(target.maxMemoryBytes)}`,
    );
  }
  if (target.maxCpuPercent !== null && sameProcess && nowMs > before.atMs) {
    // CPU used since the previous run over the wall time between them, not ps's lifetime average.
    const percent = ((running.cpuMs - before.cpuMs) / (nowMs - before.atMs)) * 100;
    if (percent > target.maxCpuPercent) {
      breaches.push(`CPU ${Math.round(percent)}% over max_cpu ${target.maxCpuPercent}%`);
    }
  }
  if (breaches.length === 0) return { limitRuns: 0, cpuSample, breach: null };
  const limitRuns = (sameProcess ? previous.limitRuns : 0) + 1;
  return { limitRuns, cpuSample, breach: breaches.join(', ') };
}

function judge(
  target: TargetConfig,
  observation: Observation & { kind: 'observed' },
  previous: TargetState,
  nowMs: number,
): Judgement {
  const found = observation.process;
  const running = found?.kind === 'running' ? found.process : null;
  const base = { running, limitRuns: 0, cpuSample: null };
  const canStart = target.start !== null;
  if (found?.kind === 'absent') {
    return { ...base, status: 'down', reason: found.reason, remedy: canStart ? 'start' : null };
  }
  const fileProblem = fileAgeProblem(target, observation.file, running, nowMs);
  if (fileProblem !== null) {
    const restartable =
      canStart && running !== null && (fileProblem.status !== 'error' || target.restartOnError);
    const startable = canStart && running === null && found !== null && fileProblem.status === 'error';
    return {
      ...base,
      ...fileProblem,
      remedy: restartable ? 'restart' : startable && target.restartOnError ? 'start' : null,
    };
  }
  if (running !== null && (target.maxMemoryBytes !== null || target.maxCpuPercent !== null)) {
    const limits = limitProblem(target, running, previous, nowMs);
    if (limits.breach !== null && limits.limitRuns >= target.forRuns) {
      const runs = target.forRuns > 1 ? ` for ${limits.limitRuns} runs` : '';
      return {
        running,
        limitRuns: limits.limitRuns,
        cpuSample: limits.cpuSample,
        status: 'over_limit',
        reason: `${limits.breach}${runs}`,
        remedy: canStart ? 'restart' : null,
      };
    }
    return {
      ...base,
      limitRuns: limits.limitRuns,
      cpuSample: limits.cpuSample,
      status: 'up',
      reason: null,
      remedy: null,
    };
  }
  // Written out, not spread from `base`: this is every healthy target's judgement, and in a
  // run's not yet optimised code the spread cost ~2 µs each (3 ms for 1,000 targets).
  return { running, limitRuns: 0, cpuSample: null, status: 'up', reason: null, remedy: null };
}

function pauseActive(previous: TargetState, nowMs: number): boolean {
  return previous.pause !== null && (previous.pause.untilMs === null || previous.pause.untilMs > nowMs);
}

/**
 * A copy of the targets' states to replace entries in. Not `{ ...targets }`: V8 copies a
 * thousand properties into one fast object whose every replaced entry then costs a change of
 * its hidden class (13 ms for 1,000 targets, against 3 ms for this copy, which V8 keeps as a
 * hash table).
 */
function copyTargets(targets: Readonly<Record<string, TargetState>>): Record<string, TargetState> {
  return Object.assign({}, targets);
}

/** Judges every observed target, applies the restart policy, and says what to do. */
export function decide(input: DecideInput): Plan {
  const { config, state, nowMs } = input;
  const byName = new Map(input.observations.map((observation) => [observation.target, observation]));
  const verdicts: Verdict[] = [];
  const actions: Action[] = [];
  const flips: Flip[] = [];
  const alerts: Alert[] = [];
  const targets = copyTargets(state.targets);

  for (const target of config.targets) {
    const observation = byName.get(target.name);
    if (observation === undefined) continue;
    const previous = previousOf(state, target.name);
    if (pauseActive(previous, nowMs)) {
      verdicts.push({
        target: target.name,
        status: 'paused',
        reason: previous.pause?.reason ?? null,
        // Paused is not gone: a process that still runs is shown with its pid.
        pid:
          observation.kind === 'observed' && observation.process?.kind === 'running'
            ? observation.process.process.pid
            : null,
      });
      continue;
    }
    if (observation.kind === 'error') {
      verdicts.push({ target: target.name, status: 'unknown', reason: observation.message, pid: null });
      continue;
    }
    const judgement = judge(target, observation, previous, nowMs);
    const historyMs = Math.max(RESTART_HISTORY_MS, target.restartLimit?.windowMs ?? 0);
    const restarts = previous.restartsMs.filter((at) => nowMs - at < historyMs);
    let status: TargetStatus = judgement.status;
    let reason = judgement.reason;
    let backoff = previous.backoff;
    let act = judgement.remedy;
    // Another target takes this process for its own: stopping it would take that one down too.
    const sharedWith = observation.process?.kind === 'running' ? (observation.process.sharedWith ?? []) : [];
    if (act === 'restart' && sharedWith.length > 0) {
      act = null;
      reason = `${reason ?? status}; not restarted: pid ${judgement.running?.pid} is also ${sharedWith.join(' and ')}'s process`;
    }

    if (act !== null && target.restartLimit !== null) {
      const limit = target.restartLimit;
      const inWindow = restarts.filter((at) => nowMs - at < limit.windowMs).length;
      if (backoff !== null && backoff.untilMs > nowMs) {
        status = 'backoff';
        reason = `${judgement.reason}; backing off until ${new Date(backoff.untilMs).toISOString()}`;
        act = null;
      } else if (backoff !== null) {
        // The backoff ran out: one try now, and a longer backoff waits if it does not hold.
        const stepMs = Math.min(backoff.stepMs * 2, MAX_BACKOFF_MS);
        backoff = { untilMs: nowMs + stepMs, stepMs };
      } else if (inWindow >= limit.count) {
        const stepMs = Math.min(FIRST_BACKOFF_INTERVALS * config.intervalMs, MAX_BACKOFF_MS);
        backoff = { untilMs: nowMs + stepMs, stepMs };
        status = 'backoff';
        act = null;
        reason = `${judgement.reason}; restarted ${inWindow} times in ${formatDuration(limit.windowMs)}, backing off`;
      }
      // One alert each time a backoff begins: at the limit, and when a try's start held only briefly.
      if (status === 'backoff' && previous.status !== 'backoff' && backoff !== null) {
        alerts.push({
          kind: 'backoff',
          target: target.name,
          restarts: inWindow,
          windowMs: limit.windowMs,
          untilMs: backoff.untilMs,
          reason: judgement.reason ?? judgement.status,
          atMs: nowMs,
        });
      }
    }
    // A backoff is forgotten once the target has stayed up for a whole window.
    if (
      status === 'up' &&
      backoff !== null &&
      previous.status === 'up' &&
      nowMs - previous.sinceMs >= (target.restartLimit?.windowMs ?? 0)
    ) {
      backoff = null;
    }

    const running = judgement.running;
    if (act === 'start') {
      actions.push({ kind: 'start', target: target.name, reason: reason ?? status });
    } else if (act === 'restart' && running !== null) {
      actions.push({
        kind: 'restart',
        target: target.name,
        reason: reason ?? status,
        process: identityOf(running),
        pgid: running.pgid,
      });
    }

    const count = observation.process?.kind === 'running' ? observation.process.count : 0;
    const extraInstances = count > target.instances;
    if (extraInstances && !previous.extraInstances) {
      alerts.push({ kind: 'instances', target: target.name, count, expected: target.instances, atMs: nowMs });
    }

    verdicts.push({ target: target.name, status, reason, pid: running?.pid ?? null });
    // A pause that ran out counts as paused until this observation.
    const from = effectiveStatus(previous);
    if (from !== status) flips.push({ target: target.name, from, to: status, reason, atMs: nowMs });
    const isUp = status === 'up';
    targets[target.name] = {
      ...previous,
      status,
      sinceMs: from === status ? previous.sinceMs : nowMs,
      downSinceMs: isUp ? null : (previous.downSinceMs ?? nowMs),
      reason: reason ?? (isUp ? null : previous.reason),
      process: running === null ? previous.process : identityOf(running),
      pause: null,
      restartsMs: restarts,
      backoff,
      limitRuns: judgement.limitRuns,
      cpuSample: judgement.cpuSample,
      extraInstances,
    };
  }
  return { verdicts, actions, flips, alerts, state: { ...state, targets } };
}

/** The alert a flip owes, before damping is considered; null when it owes none. */
function flipAlert(
  name: string,
  from: TargetStatus,
  verdict: Verdict,
  final: TargetState,
  before: TargetState,
  outcome: ActionOutcome | undefined,
  nowMs: number,
): Alert | null {
  const observed = verdict.status;
  const wasBad = isProblem(from);
  if (observed !== 'unknown' && observed !== 'backoff' && isProblem(observed)) {
    // A problem that began this run, or changed its kind while a fix failed.
    if (!wasBad || (from !== observed && outcome !== undefined && outcome.kind !== 'started')) {
      return {
        kind: 'problem',
        target: name,
        status: observed,
        reason: verdict.reason ?? observed,
        outcome: outcome ?? null,
        atMs: nowMs,
      };
    }
  }
  if (final.status === 'up' && wasBad) {
    return {
      kind: 'recovered',
      target: name,
      downForMs: nowMs - (before.downSinceMs ?? before.sinceMs),
      pid: final.process?.pid ?? null,
      atMs: nowMs,
    };
  }
  return null;
}

/** Folds the actions' outcomes into the final state and the alerts owed for the run. */
export function conclude(input: ConcludeInput): Conclusion {
  const { plan, previous, outcomes, config, nowMs } = input;
  const targets = copyTargets(plan.state.targets);
  const flips: Flip[] = [];
  const alerts: Alert[] = [...plan.alerts];
  const statuses: Conclusion['statuses'][number][] = [];

  for (const verdict of plan.verdicts) {
    const name = verdict.target;
    const before = previousOf(previous, name);
    const observed = { ...NEW_TARGET, ...(targets[name] ?? before) };
    if (verdict.status === 'unknown' || verdict.status === 'paused') {
      statuses.push({ target: name, status: observed.status, pid: verdict.pid });
      continue;
    }
    const from = effectiveStatus(before);
    const outcome = outcomes[name];
    let final: TargetState = observed;
    if (outcome?.kind === 'started') {
      final = startedState(observed, outcome.identity, nowMs, true);
    } else if (outcome !== undefined) {
      // A failed fix still counts toward the limit: a target that cannot start must back off too.
      // A failed try after a backoff goes straight back to backing off (the longer one decided).
      const backingOff = observed.backoff !== null && observed.backoff.untilMs > nowMs && from === 'backoff';
      final = {
        ...observed,
        status: backingOff ? 'backoff' : outcome.kind === 'start_failed' ? 'down' : observed.status,
        sinceMs: from === 'down' ? before.sinceMs : nowMs,
        restartsMs: [...observed.restartsMs, nowMs],
      };
    }

    const owed = flipAlert(name, from, verdict, final, before, outcome, nowMs);
    const planned = plan.alerts.some((candidate) => 'target' in candidate && candidate.target === name);
    const damped = damp({
      target: name,
      before,
      final,
      from,
      owed,
      planned,
      intervalMs: config.intervalMs,
      reminderMs: config.reminderMs,
      nowMs,
    });
    alerts.push(...damped.alerts);
    final = { ...final, problemsMs: damped.problemsMs, damping: damped.damping };
    if (damped.alerts.length > 0 || planned) final = { ...final, lastAlertMs: nowMs };
    if (from !== final.status) {
      flips.push({ target: name, from, to: final.status, reason: verdict.reason, atMs: nowMs });
    }
    targets[name] = final;
    // The live process: the stored identity stays that of a process that died, for recognition.
    const livePid =
      outcome === undefined || outcome.kind === 'stop_failed'
        ? verdict.pid
        : outcome.kind === 'started'
          ? outcome.identity.pid
          : null;
    statuses.push({ target: name, status: final.status, pid: livePid });
  }
  // Targets removed from the config are forgotten; their state would only confuse `status`.
  const known = new Set(config.targets.map((target) => target.name));
  for (const name of Object.keys(targets)) if (!known.has(name)) delete targets[name];
  return { state: { ...plan.state, targets, lastRunMs: nowMs }, flips, alerts, statuses };
}
