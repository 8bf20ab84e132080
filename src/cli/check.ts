import { conclude, decide, type Plan, type Verdict } from '../core/decide.js';
import { describeOverdue, overdueAlert } from '../core/overdue.js';
import type { ActionOutcome, Alert, Config, State } from '../core/types.js';
import { acquireLock } from '../store/lock.js';
import { loadState, saveState } from '../store/state.js';
import { act } from './act.js';
import { type DeliveryReport, deliverAlerts, deliveryLines } from './alerting.js';
import { defineCommand, loadConfigFor } from './command.js';
import {
  CommandError,
  EXIT_LOCKED,
  EXIT_NOT_UP,
  EXIT_OK,
  prepareStateDir,
  selectTargets,
} from './context.js';
import { observe } from './observe.js';
import { mark } from './profile.js';
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
  return plan.verdicts.map((verdict) => {
    const action = plan.actions.find((candidate) => candidate.target === verdict.target);
    const target = config.targets.find((candidate) => candidate.name === verdict.target);
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
  // Events, metrics and pings; none for a dry run. A run that finds the lock held pings nothing.
  const watch = dryRun ? null : watchRun(config, nowMs);
  if (watch !== null) await watch.guard(prepareStateDir(config.stateDir));

  const lock = watch === null ? null : await watch.guard(acquireLock(config.stateDir, nowMs));
  if (lock?.kind === 'held') {
    throw new CommandError(
      `cronwatch: another run (pid ${lock.pid}, since ${new Date(lock.sinceMs).toISOString()}) holds the lock in ${config.stateDir}`,
      EXIT_LOCKED,
    );
  }
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
    const { observations } = await observe(targets);
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
    if (plan.actions.length > 0) await saveState(config.stateDir, plan.state);
    const outcomes = await act(plan.actions, config);
    const concludedMs = Date.now();
    const finished = conclude({ plan, previous, outcomes, config, nowMs: concludedMs });
    const state = finished.state;
    const alerts = overdue === null ? finished.alerts : [overdue, ...finished.alerts];
    // A run that acted, flipped or alerted must not be forgotten; a healthy one may be.
    const durable = plan.actions.length > 0 || finished.flips.length > 0 || alerts.length > 0;
    await saveState(config.stateDir, state, { durable });
    mark('state save');
    if (overdue !== null) notices.push(describeOverdue(overdue));
    await watch?.concluded({ plan, outcomes, final: state, alerts, concludedMs });
    mark('events');
    const delivery = await deliverAlerts(config, alerts, { silent: false, nowMs: Date.now() });
    mark('alerts (outbox)');

    const exitCode = finished.statuses.every((s) => s.status === 'up' || s.status === 'paused')
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
      exitCode,
    };
    if (options.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const lines = [
        ...notices.map((n) => `cronwatch: ${n}`),
        ...eventLines(report, options.verbose, previous),
      ];
      lines.push(...deliveryLines(delivery, { sinceMs: nowMs }));
      if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
    }
    mark('report');
    await watch?.finish({ report, state, observations, delivery });
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
      config: await loadConfigFor(args),
      names: args.names ?? [],
      dryRun: args['dry-run'],
      json: args.json,
      verbose: args.verbose,
    }),
});
