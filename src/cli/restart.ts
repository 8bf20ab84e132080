import type { Config, TargetState } from '../core/types.js';
import { acquireLock } from '../store/lock.js';
import { loadState, saveState } from '../store/state.js';
import { start, stopThenStart } from './act.js';
import { deliverAlerts, deliveryLines } from './alerting.js';
import { defineCommand, loadConfigFor } from './command.js';
import {
  CommandError,
  EXIT_LOCKED,
  EXIT_NOT_UP,
  EXIT_OK,
  EXIT_USAGE,
  prepareStateDir,
  selectTargets,
} from './context.js';
import { observe } from './observe.js';

export interface RestartOptions {
  readonly config: Config;
  readonly name: string;
  readonly reason: string | null;
}

/** Stops (if running) and starts one target now, under the run lock; alerts the result. */
export async function runRestart(options: RestartOptions): Promise<number> {
  const { config } = options;
  const [target] = selectTargets(config, [options.name]);
  if (target === undefined || target.start === null) {
    throw new CommandError(
      `cronwatch: target ${options.name} has no start command; nothing to restart`,
      EXIT_USAGE,
    );
  }
  await prepareStateDir(config.stateDir);
  const nowMs = Date.now();
  const lock = await acquireLock(config.stateDir, nowMs);
  if (lock.kind === 'held') {
    throw new CommandError(
      `cronwatch: another run (pid ${lock.pid}) holds the lock in ${config.stateDir}`,
      EXIT_LOCKED,
    );
  }
  try {
    const { state } = await loadState(config.stateDir, nowMs);
    const { observations } = await observe([target]);
    const observation = observations[0];
    if (observation?.kind === 'error') {
      throw new CommandError(`cronwatch: cannot observe ${target.name}: ${observation.message}`, EXIT_NOT_UP);
    }
    const running = observation?.process?.kind === 'running' ? observation.process.process : null;
    const outcome =
      running === null
        ? await start(target, config)
        : await stopThenStart(
            target,
            config,
            {
              pid: running.pid,
              startTicks: running.startTicks,
              startTimeMs: running.startTimeMs,
              cmdline: running.cmdline,
            },
            running.pgid,
          );
    const doneMs = Date.now();
    const previous: TargetState = state.targets[target.name] ?? {
      status: 'new',
      sinceMs: nowMs,
      downSinceMs: null,
      reason: null,
      process: null,
      restartsMs: [],
      lastAlertMs: null,
      pause: null,
    };
    const started = outcome.kind === 'started';
    const next: TargetState = started
      ? {
          ...previous,
          status: 'up',
          sinceMs: doneMs,
          downSinceMs: null,
          reason: null,
          process: outcome.identity,
        }
      : {
          ...previous,
          status: 'down',
          sinceMs: previous.status === 'down' ? previous.sinceMs : doneMs,
          downSinceMs: previous.downSinceMs ?? doneMs,
          reason: 'restart by hand failed',
        };
    await saveState(config.stateDir, {
      ...state,
      targets: { ...state.targets, [target.name]: { ...next, lastAlertMs: doneMs } },
    });
    const delivery = await deliverAlerts(
      config,
      [{ kind: 'restarted', target: target.name, reason: options.reason, outcome, atMs: doneMs }],
      { silent: false, nowMs: doneMs },
    );
    const said =
      outcome.kind === 'started'
        ? `${target.name}: restarted, pid ${outcome.pid}`
        : outcome.kind === 'stop_failed'
          ? `${target.name}: could not stop it: ${outcome.error}`
          : `${target.name}: start failed (${outcome.error ?? `exit code ${outcome.exitCode}`})\n${outcome.logTail.join('\n')}`;
    process.stdout.write(`${[said, ...deliveryLines(delivery)].join('\n')}\n`);
    return started ? EXIT_OK : EXIT_NOT_UP;
  } finally {
    await lock.release();
  }
}

export const command = defineCommand({
  usage: 'restart <name>',
  describe: 'stop and start a target now',
  builder: (args) =>
    args
      .positional('name', { type: 'string', demandOption: true, describe: 'the target' })
      .option('reason', { type: 'string', describe: 'said in the alert' }),
  run: async (args) =>
    runRestart({ config: await loadConfigFor(args), name: args.name, reason: args.reason ?? null }),
});
