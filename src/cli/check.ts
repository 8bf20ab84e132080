import { conclude, decide, type Plan, type Verdict } from '../core/decide.js';
import { describeOverdue, overdueAlert } from '../core/overdue.js';
import type { ActionOutcome, Alert, Config, State } from '../core/types.js';
import { describeUnset, unsetNames } from '../core/unset-env.js';
import { appendEvents } from '../store/events.js';
import { acquireLock } from '../store/lock.js';
import { loadState, saveState } from '../store/state.js';
import { act } from './act.js';
import {
  type DeliveryReport,
  deliverDirectly,
  deliveryLines,
  directLine,
  queueAlerts,
  sendQueued,
} from './alerting.js';
import { defineCommand, loadConfigFor } from './command.js';
import {
  CommandError,
  EXIT_LOCKED,
  EXIT_NOT_UP,
  EXIT_OK,
  EXIT_SOFTWARE,
  prepareStateDir,
  selectTargets,
} from './context.js';
import { observe } from './observe.js';
import { mark } from './profile.js';
import { createRecording } from './recording.js';
import { watchRun } from './run-watch.js';

export interface CheckOptions {
  readonly config: Config;
  readonly names: readonly string[];
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly verbose: boolean;
}

/** What `check --json` prints. */
export interface CheckReport {
  readonly host: string;
  readonly startedAt: string;
  readonly dryRun: boolean;
  readonly targets: readonly {
    readonly name: string;
    readonly observed: Verdict['status'];
    readonly reason: string | null;
    readonly action: string | null;
    readonly outcome: ActionOutcome | null;
    readonly status: string;
    readonly pid: number | null;
  }[];
  readonly alerts: readonly Alert[];
  readonly delivery: DeliveryReport | null;
  readonly notices: readonly string[];
  /** What the run could not record in its state dir, and why (exit 70); null when all was. */
  readonly unrecorded: string | null;
  readonly exitCode: number;
}

function describeOutcome(outcome: ActionOutcome): string {
  switch (outcome.kind) {
    case 'started':
      return `started, pid ${outcome.pid}`;
    case 'start_failed':
      return `start failed (${outcome.error ?? (outcome.signal ? `killed by ${outcome.signal}` : `exit code ${outcome.exitCode}`)})`;
    case 'stop_failed':
      return `stop failed (${outcome.error})`;
  }
}

function planLines(plan: Plan, config: Config): string[] {
  const actionOf = new Map(plan.actions.map((action) => [action.target, action]));
  const targetOf = new Map(config.targets.map((target) => [target.name, target]));
  return plan.verdicts.map((verdict) => {
    const action = actionOf.get(verdict.target);
    const target = targetOf.get(verdict.target);
    const what = verdict.reason === null ? verdict.status : `${verdict.status} (${verdict.reason})`;
    const pid = verdict.pid === null ? '' : `, pid ${verdict.pid}`;
    if (action === undefined) return `${verdict.target}: ${what}${pid}: nothing to do`;
    const verb = action.kind === 'start' ? 'would start' : `would stop pid ${action.process.pid}, then start`;
    return `${verdict.target}: ${what}${pid}: ${verb}: ${target?.start ?? ''}`;
  });
}

function eventLines(report: CheckReport, verbose: boolean, previous: State): string[] {
  const lines: string[] = [];
  for (const target of report.targets) {
    const before = previous.targets[target.name]?.status ?? 'new';
    const pid = target.pid === null ? '' : `, pid ${target.pid}`;
    if (target.outcome !== null) {
      lines.push(
        `${target.name}: ${target.observed} (${target.reason}) -> ${describeOutcome(target.outcome)}`,
      );
    } else if (
      before !== target.status &&
      !(target.status === 'up' && (before === 'new' || before === 'paused'))
    ) {
      const why = target.reason === null ? '' : ` (${target.reason})`;
      lines.push(`${target.name}: ${before} -> ${target.status}${why}${pid}`);
    } else if (verbose) {
      const why = target.reason === null ? '' : ` (${target.reason})`;
      lines.push(`${target.name}: ${target.status}${why}${pid}`);
    } else if (target.observed === 'unknown') {
      lines.push(`${target.name}: could not be observed: ${target.reason}`);
    }
  }
  return lines;
}

/** One run over all (or the named) targets. Returns the exit code. */
export async function runCheck(options: CheckOptions): Promise<number> {
  const { config, dryRun } = options;
  const targets = selectTargets(config, options.names);
  const nowMs = Date.now();
  const notices: string[] = [];
  const recording = createRecording();
  // Events, metrics and pings; none for a dry run. A run that finds the lock held pings nothing.
  const watch = dryRun
    ? null
    : watchRun(config, nowMs, {
        appendEvents: async (events) => {
          await recording.record('the events log', () => appendEvents(config.stateDir, events));
        },
      });
  if (watch !== null) await watch.guard(prepareStateDir(config.stateDir));

  const lock = watch === null ? null : await watch.guard(acquireLock(config.stateDir, nowMs));
  if (lock?.kind === 'held') {
    throw new CommandError(
      `cronwatch: another run (pid ${lock.pid}, since ${new Date(lock.sinceMs).toISOString()}) holds the lock in ${config.stateDir}`,
      EXIT_LOCKED,
    );
  }
  if (lock?.kind === 'acquired' && lock.unrecorded !== null)
    recording.failed('the lock file', lock.unrecorded);
  await watch?.begin();
  mark('lock + start ping');
  try {
    const loaded = dryRun
      ? await loadState(config.stateDir, nowMs, { moveAside: false })
      : await loadState(config.stateDir, nowMs);
    if (loaded.kind === 'corrupt') {
      notices.push(`state file was corrupt (${loaded.error}); moved to ${loaded.movedTo}, starting afresh`);
    }
    if (lock?.kind === 'acquired' && lock.tookOverFrom !== null) {
      notices.push(`took over the lock of run ${lock.tookOverFrom}, which is no longer running`);
    }
    const previous = loaded.state;
    mark('state load');
    const overdue = overdueAlert({ lastRunMs: previous.lastRunMs, nowMs, intervalMs: config.intervalMs });
    const { observations } = await observe(targets, config.targets, previous);
    // The whole config: targets outside the selection have no observation, so decide() and
    // conclude() leave their state as it was, and forget only targets gone from the config.
    const plan = decide({ observations, state: previous, config, nowMs });
    mark('decide');

    if (dryRun) {
      const exitCode = plan.verdicts.every((v) => v.status === 'up' || v.status === 'paused')
        ? EXIT_OK
        : EXIT_NOT_UP;
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({ host: config.host, dryRun: true, plan, exitCode }, null, 2)}\n`,
        );
      } else {
        process.stdout.write(
          `${['dry run: nothing will be changed or sent', ...planLines(plan, config)].join('\n')}\n`,
        );
      }
      return exitCode;
    }

    // Record first: if this run dies mid-restart, the next one still knows what it saw. A run
    // with nothing to do saves once, at its end.
    if (plan.actions.length > 0) {
      await recording.record('the state', () => saveState(config.stateDir, plan.state));
    }
    const outcomes = await act(plan.actions, config);
    const concludedMs = Date.now();
    const finished = conclude({ plan, previous, outcomes, config, nowMs: concludedMs });
    const unset = unsetNames(config.unsetEnv);
    const { unsetEnvSaid: said = [], ...concluded } = finished.state;
    // Cron mails every line: a missing variable is said once, and again when the set changes.
    if (unset.join(',') !== said.join(',') && unset.length > 0) {
      const waiting = config.unsetEnv.some((entry) => entry.path.startsWith('channels'))
        ? '; alerts wait in the outbox until a run has it'
        : '';
      notices.push(
        `${describeUnset(config.unsetEnv)}${waiting}. Fix: set it above the cronwatch block (crontab -e)`,
      );
    }
    const state: State = unset.length > 0 ? { ...concluded, unsetEnvSaid: unset } : concluded;
    // A run that acted, flipped or alerted must not be forgotten; a healthy one may be.
    const durable =
      plan.actions.length > 0 || finished.flips.length > 0 || overdue !== null || finished.alerts.length > 0;
    await recording.record('the state', () => saveState(config.stateDir, state, { durable }));
    mark('state save');
    const alerts = overdue === null ? finished.alerts : [overdue, ...finished.alerts];
    if (overdue !== null) notices.push(describeOverdue(overdue));
    await watch?.concluded({ plan, outcomes, final: state, alerts, concludedMs });
    mark('events');
    const alertOptions = { silent: false, nowMs: Date.now() };
    let delivery: DeliveryReport | null = null;
    const queued = await recording.record('the outbox', () => queueAlerts(config, alerts, alertOptions));
    if (queued) {
      // Once queued, an alert is sent from the outbox, now or by a later run; never twice.
      await recording.record("the outbox's delivery records", async () => {
        delivery = await sendQueued(config);
      });
    } else {
      // The outbox cannot be written: this run's alerts go straight to the channels.
      delivery = await deliverDirectly(config, alerts, alertOptions);
    }
    mark('alerts (outbox)');
    const unrecorded = recording.line(config.stateDir, queued ? null : directLine(delivery));

    const exitCode =
      unrecorded !== null
        ? EXIT_SOFTWARE
        : finished.statuses.every((s) => s.status === 'up' || s.status === 'paused')
          ? EXIT_OK
          : EXIT_NOT_UP;
    // Maps, not a search per target: a run may watch a thousand targets.
    const actionOf = new Map(plan.actions.map((action) => [action.target, action]));
    const finalOf = new Map(finished.statuses.map((status) => [status.target, status]));
    const report: CheckReport = {
      host: config.host,
      startedAt: new Date(nowMs).toISOString(),
      dryRun: false,
      targets: plan.verdicts.map((verdict) => {
        const action = actionOf.get(verdict.target);
        const final = finalOf.get(verdict.target);
        return {
          name: verdict.target,
          observed: verdict.status,
          reason: verdict.reason,
          action: action?.kind ?? null,
          outcome: outcomes[verdict.target] ?? null,
          status: final?.status ?? verdict.status,
          pid: final?.pid ?? verdict.pid,
        };
      }),
      alerts,
      delivery,
      notices,
      unrecorded,
      exitCode,
    };
    if (options.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const lines = [
        ...notices.map((n) => `cronwatch: ${n}`),
        ...eventLines(report, options.verbose, previous),
      ];
      // --verbose also names alerts still waiting from earlier runs.
      if (queued) lines.push(...deliveryLines(delivery, options.verbose ? {} : { sinceMs: nowMs }));
      if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
    }
    mark('report');
    if (unrecorded !== null) process.stderr.write(`cronwatch: ${unrecorded}\n`);
    const unusable = describeUnset(config.unsetEnv);
    await watch?.finish({
      report,
      state,
      observations,
      delivery,
      problems: [unusable, unrecorded].filter((problem): problem is string => problem !== null),
    });
    mark('run end + pings');
    return exitCode;
  } catch (error) {
    await watch?.fail(error);
    throw error;
  } finally {
    if (lock?.kind === 'acquired') await lock.release();
    mark('lock release');
  }
}

export const command = defineCommand({
  usage: 'check [names..]',
  describe: 'one run over all (or the named) targets: observe, restart, alert',
  builder: (args) =>
    args
      .positional('names', { type: 'string', array: true, describe: 'only these targets' })
      .option('dry-run', {
        type: 'boolean',
        default: false,
        describe: 'observe and decide; change and send nothing',
      })
      .option('json', { type: 'boolean', default: false, describe: "print the run's report as JSON" })
      .option('verbose', {
        type: 'boolean',
        default: false,
        describe: 'say what was seen even when all is well',
      }),
  run: async (args) =>
    runCheck({
      // A real run says it once, in its report (see `unsetEnvSaid`); a dry run like any command.
      config: await loadConfigFor(args, { warnUnset: args['dry-run'], writeCache: !args['dry-run'] }),
      names: args.names ?? [],
      dryRun: args['dry-run'],
      json: args.json,
      verbose: args.verbose,
    }),
});
