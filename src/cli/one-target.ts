import { userInfo } from 'node:os';
import { previousOf } from '../core/decide.js';
import { targetChangeEvents } from '../core/events.js';
import type { Alert, Config, ProcessInfo, State, TargetConfig, TargetState } from '../core/types.js';
import { acquireLock } from '../store/lock.js';
import { loadState, saveState } from '../store/state.js';
import { deliverAlerts, deliveryLines } from './alerting.js';
import {
  CommandError,
  EXIT_LOCKED,
  EXIT_NOT_UP,
  EXIT_USAGE,
  prepareStateDir,
  selectTargets,
} from './context.js';
import { observe } from './observe.js';
import { recordEvents } from './run-watch.js';

export interface TargetContext {
  readonly config: Config;
  readonly target: TargetConfig;
  readonly previous: TargetState;
  /** The target's process as found now; null when none runs. */
  readonly running: ProcessInfo | null;
  /** Other targets that take `running` for their own process too (overlapping patterns). */
  readonly sharedWith: readonly string[];
  readonly nowMs: number;
}

export interface TargetChange {
  /** The target's new state, recorded before the alert is sent. */
  readonly state: TargetState;
  readonly alert: Alert | null;
  /** Sent without sound. */
  readonly silent: boolean;
  /** What to tell the person at the terminal. */
  readonly lines: readonly string[];
  readonly exitCode: number;
}

/** How long a command on one target waits for a running check to finish. */
const LOCK_WAIT_MS = 90_000;
const LOCK_POLL_MS = 500;

/**
 * The run lock, waited for: the daily `restart --planned` line often starts in the same minute
 * as a check, and must not be skipped because of it. A check itself never waits (exit 75).
 */
async function acquireLockPatiently(stateDir: string) {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const lock = await acquireLock(stateDir, Date.now());
    if (lock.kind === 'acquired' || Date.now() >= deadline) return lock;
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

/**
 * Refuses to stop a process another target also takes for its own: stopping it for one target
 * would take the other down too.
 */
export function refuseShared(context: TargetContext, verb: string): void {
  if (context.running === null || context.sharedWith.length === 0) return;
  throw new CommandError(
    `cronwatch: not ${verb} ${context.target.name}: its process, pid ${context.running.pid}, is also ${context.sharedWith.join(' and ')}'s (their match patterns overlap; make them exclusive)`,
    EXIT_USAGE,
  );
}

/** Who is doing this by hand, for the alert and `status`. */
export function whoAmI(): string {
  return process.env.SUDO_USER ?? process.env.USER ?? userInfo().username;
}

/**
 * A command on one target done under the run lock, so that it never races a cron run: observe
 * the target, let `change` act, record the new state, then send its alert.
 */
export async function changeTarget(
  config: Config,
  name: string,
  change: (context: TargetContext) => Promise<TargetChange>,
): Promise<number> {
  const [target] = selectTargets(config, [name]);
  if (target === undefined) throw new CommandError(`cronwatch: no target named ${name}`, EXIT_NOT_UP);
  await prepareStateDir(config.stateDir);
  const lock = await acquireLockPatiently(config.stateDir);
  if (lock.kind === 'held') {
    throw new CommandError(
      `cronwatch: another run (pid ${lock.pid}) holds the lock in ${config.stateDir}`,
      EXIT_LOCKED,
    );
  }
  try {
    const nowMs = Date.now();
    const { state } = await loadState(config.stateDir, nowMs);
    const { observations } = await observe([target], config.targets, state);
    const observation = observations[0];
    if (observation?.kind === 'error') {
      throw new CommandError(`cronwatch: cannot observe ${target.name}: ${observation.message}`, EXIT_NOT_UP);
    }
    const found = observation?.kind === 'observed' ? observation.process : null;
    const running = found?.kind === 'running' ? found.process : null;
    const sharedWith = found?.kind === 'running' ? (found.sharedWith ?? []) : [];
    const previous = previousOf(state, target.name);
    const result = await change({ config, target, previous, running, sharedWith, nowMs });
    const next: State = { ...state, targets: { ...state.targets, [target.name]: result.state } };
    await saveState(config.stateDir, next);
    await recordEvents(
      config.stateDir,
      targetChangeEvents({
        target: target.name,
        before: previous,
        after: result.state,
        alert: result.alert,
        atMs: Date.now(),
      }),
    );
    const delivery =
      result.alert === null
        ? null
        : await deliverAlerts(config, [result.alert], { silent: result.silent, nowMs: Date.now() });
    const lines = [...result.lines, ...deliveryLines(delivery)];
    if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
    return result.exitCode;
  } finally {
    await lock.release();
  }
}
