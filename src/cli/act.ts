import { createSignalGuard } from '../actuators/safety.js';
import { startTarget } from '../actuators/start.js';
import { type StopResult, stopTarget } from '../actuators/stop.js';
import type { Action, ActionOutcome, Config, ProcessIdentity, TargetConfig } from '../core/types.js';

export function start(target: TargetConfig, config: Config): Promise<ActionOutcome> {
  return startTarget({
    command: target.start!,
    cwd: target.cwd,
    env: target.env,
    logPath: target.log,
    startGraceMs: target.startGraceMs,
    match: target.match,
    pidfile: target.pidfile,
    stopSignal: target.stopSignal,
    stopTimeoutMs: target.stopTimeoutMs,
    hiddenEnv: config.secretEnv,
  });
}

/** Stops the process, identified again right before any signal. */
export function stop(
  target: TargetConfig,
  config: Config,
  identity: ProcessIdentity,
  pgid: number,
): Promise<StopResult> {
  return stopTarget({
    identity,
    pgid,
    stopCommand: target.stop,
    stopSignal: target.stopSignal,
    stopTimeoutMs: target.stopTimeoutMs,
    cwd: target.cwd,
    env: target.env,
    // Never signal cronwatch itself or what runs it (cron's shell, a terminal).
    guard: createSignalGuard(),
    hiddenEnv: config.secretEnv,
  });
}

/** Stops the process, then starts the target again. */
export async function stopThenStart(
  target: TargetConfig,
  config: Config,
  identity: ProcessIdentity,
  pgid: number,
): Promise<ActionOutcome> {
  const stopped = await stop(target, config, identity, pgid);
  if (stopped.kind === 'failed') return { kind: 'stop_failed', error: stopped.error };
  return start(target, config);
}

/**
 * Runs every action at once: one target that is slow or fails to start must not delay the
 * others. Returns each target's outcome.
 */
export async function act(
  actions: readonly Action[],
  config: Config,
): Promise<Record<string, ActionOutcome>> {
  const settled = await Promise.all(
    actions.map(async (action): Promise<[string, ActionOutcome]> => {
      const target = config.targets.find((candidate) => candidate.name === action.target)!;
      try {
        const outcome =
          action.kind === 'start'
            ? await start(target, config)
            : await stopThenStart(target, config, action.process, action.pgid);
        return [action.target, outcome];
      } catch (error) {
        return [
          action.target,
          {
            kind: 'start_failed',
            exitCode: null,
            signal: null,
            error: (error as Error).message,
            logTail: [],
          },
        ];
      }
    }),
  );
  return Object.fromEntries(settled);
}
