import type { ChildProcessByStdio } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import { sameProcess } from '../core/identity.js';
import type { ProcessIdentity, TargetConfig } from '../core/types.js';
import { hasProcFs, liveGroupMembers, readProcess } from '../probes/process-table.js';
import { childEnv } from './child-env.js';
import { assertSignalable, type SignalGuard } from './safety.js';
import { pollUntil, within } from './wait.js';

/** How long a process may take to disappear after SIGKILL before the stop is reported failed. */
export const KILL_WAIT_MS = 2000;

/** How much of a stop command's output is kept for the report. */
const STOP_OUTPUT_MAX_CHARS = 2000;

/** How long the output of a stop command that has exited may take to arrive. */
const STOP_OUTPUT_DRAIN_MS = 2000;

/** What to stop and how; the process is identified again before any signal. */
export interface StopRequest extends Pick<TargetConfig, 'stopSignal' | 'stopTimeoutMs' | 'cwd' | 'env'> {
  /** The target's `stop` command, run by `/bin/sh -c`; null: send `stopSignal`. */
  readonly stopCommand: string | null;
  /** The process to stop, as last observed. */
  readonly identity: ProcessIdentity;
  /**
   * Its process group as last observed. When it equals `identity.pid` the target leads its own
   * group (as every target cronwatch started does) and the whole group is signalled.
   */
  readonly pgid: number;
  readonly guard: SignalGuard;
  /** Variables of cronwatch's environment the stop command must not inherit. */
  readonly hiddenEnv?: readonly string[];
}

/**
 * How the target came to be stopped:
 * - `already_gone`: it had exited before anything was done;
 * - `pid_reused`: its pid now belongs to another program, which was left alone;
 * - `signal`: `stopSignal` (then SIGKILL when `forced`);
 * - `command`: the target's stop command (then SIGKILL when `forced`).
 */
export type StopVia = 'already_gone' | 'pid_reused' | 'signal' | 'command';

/** The outcome of {@link stopTarget}. */
export type StopResult =
  | {
      readonly kind: 'stopped';
      /** SIGKILL was needed: the target outlived `stopTimeoutMs`. */
      readonly forced: boolean;
      readonly via: StopVia;
      /** Something worth telling the owner, e.g. the stop command failed; null when all went to plan. */
      readonly note: string | null;
    }
  | { readonly kind: 'failed'; readonly error: string };

/** What is left of the target: nothing, the tracked process alone, or (some of) its group. */
type Remaining = 'none' | 'process' | 'group';

/**
 * Stops one target and waits for it to be gone.
 *
 * The process is read again right before every signal: when it has exited the stop has succeeded,
 * and when its pid now belongs to another program nothing is sent. With a `stopCommand` that
 * command runs (`/bin/sh -c`, in `cwd`, with `env` and `CRONWATCH_PID`); otherwise `stopSignal`
 * goes to the process group when the target leads one, to the pid alone otherwise, followed by
 * SIGCONT so that a stopped (state T) process can act on it. After `stopTimeoutMs` SIGKILL follows.
 * A zombie counts as exited. Never throws: a refused or failed stop is `{kind: 'failed'}`.
 */
export async function stopTarget(request: StopRequest): Promise<StopResult> {
  const req = withKnownGroup(request);
  const { identity, pgid } = req;
  if (!isSignalName(req.stopSignal)) {
    return {
      kind: 'failed',
      error: `Expected \`stop_signal\` to be a signal name like SIGTERM, got \`${req.stopSignal}\``,
    };
  }
  const leadsGroup = pgid === identity.pid;
  try {
    assertSignalable(identity.pid, leadsGroup ? pgid : null, req.guard);
  } catch (error) {
    return { kind: 'failed', error: messageOf(error) };
  }

  if (presenceOf(identity) === 'reused')
    return { kind: 'stopped', forced: false, via: 'pid_reused', note: null };
  if (remainingOf(identity, leadsGroup) === 'none') {
    return { kind: 'stopped', forced: false, via: 'already_gone', note: null };
  }

  const deadlineMs = Date.now() + req.stopTimeoutMs;
  const gone = () => remainingOf(identity, leadsGroup) === 'none';
  try {
    let via: StopVia = 'signal';
    let note: string | null = null;
    if (req.stopCommand !== null) {
      const ran = await runStopCommand(req, req.stopCommand, deadlineMs);
      note = ran.note;
      if (ran.started) via = 'command';
    }
    if (via === 'signal') {
      signal(req, leadsGroup, req.stopSignal);
      signal(req, leadsGroup, 'SIGCONT');
    }
    if (await pollUntil(gone, deadlineMs)) return { kind: 'stopped', forced: false, via, note };

    signal(req, leadsGroup, 'SIGKILL');
    if (await pollUntil(gone, Date.now() + KILL_WAIT_MS)) {
      return { kind: 'stopped', forced: true, via, note };
    }
    return {
      kind: 'failed',
      error: `pid ${identity.pid} is still running ${KILL_WAIT_MS} ms after SIGKILL (uninterruptible sleep?)`,
    };
  } catch (error) {
    return { kind: 'failed', error: messageOf(error) };
  }
}

/**
 * Where `ps` could not say (a scan off Linux reports -1), the group is taken from a fresh read of
 * the same process: a target's children share its group, and signalling the leader alone would
 * leave them behind.
 */
function withKnownGroup(req: StopRequest): StopRequest {
  if (req.pgid > 0) return req;
  const info = readProcess(req.identity.pid);
  return info !== null && sameProcess(req.identity, info) ? { ...req, pgid: info.pgid } : req;
}

/**
 * Whether the tracked process is still the target (`alive`), has ended (`exited`: gone from the
 * table or a zombie of the same start), or its pid now names another process (`reused`).
 */
function presenceOf(identity: ProcessIdentity): 'alive' | 'exited' | 'reused' {
  const info = readProcess(identity.pid);
  if (info === null) return 'exited';
  if (info.state === 'Z') {
    // A zombie's command line reads empty, so only its start time can say whose zombie it is.
    return sameProcess(identity, { ...info, cmdline: identity.cmdline }) ? 'exited' : 'reused';
  }
  return sameProcess(identity, info) ? 'alive' : 'reused';
}

/**
 * What must still be stopped. When the leader has exited but its group has live members, those
 * are the target's own children: the kernel does not hand out a pid that is still in use as a
 * group id, so a live group with the leader's pid as its id is the one the target created.
 */
function remainingOf(identity: ProcessIdentity, leadsGroup: boolean): Remaining {
  const presence = presenceOf(identity);
  if (presence === 'reused') return 'none';
  if (!leadsGroup) return presence === 'alive' ? 'process' : 'none';
  if (presence === 'alive') return 'group';
  return groupAlive(identity.pid) ? 'group' : 'none';
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // kill(2) also succeeds on a group of zombies, which nobody may ever reap.
  return hasProcFs ? liveGroupMembers(pgid).length > 0 : true;
}

/** Sends `sig` to what is left of the target, after checking again who that is. */
function signal(req: StopRequest, leadsGroup: boolean, sig: NodeJS.Signals): void {
  const remaining = remainingOf(req.identity, leadsGroup);
  if (remaining === 'none') return;
  const pid = req.identity.pid;
  assertSignalable(pid, remaining === 'group' ? req.pgid : null, req.guard);
  try {
    process.kill(remaining === 'group' ? -req.pgid : pid, sig);
  } catch (error) {
    // It ended between the check and the signal: what the signal was for.
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return;
    const what = remaining === 'group' ? 'process group' : 'pid';
    throw new Error(`Could not send ${sig} to ${what} ${pid}: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * Runs the target's stop command until it exits or `deadlineMs`. `started` is false when it could
 * not run at all, and the caller falls back on the stop signal rather than wait for nothing.
 */
async function runStopCommand(
  req: StopRequest,
  command: string,
  deadlineMs: number,
): Promise<{ readonly started: boolean; readonly note: string | null }> {
  // Loaded here, not at the top: a healthy run stops nothing and need not pay for them.
  const [{ stat }, { spawn }] = await Promise.all([import('node:fs/promises'), import('node:child_process')]);
  const cwdStat = await stat(req.cwd).catch(() => null);
  if (cwdStat === null || !cwdStat.isDirectory()) {
    return {
      started: false,
      note: `stop command not run: cwd ${req.cwd} is not a directory; sent the stop signal`,
    };
  }
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-STOP_OUTPUT_MAX_CHARS);
  };
  // Its own group, so that a stop command which hangs can be killed with whatever it started.
  let child: ChildProcessByStdio<null, Readable, Readable>;
  try {
    child = spawn('/bin/sh', ['-c', command], {
      cwd: req.cwd,
      env: { ...childEnv(req.env, req.hiddenEnv ?? []), CRONWATCH_PID: String(req.identity.pid) },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    return { started: false, note: `stop command not run (${messageOf(error)}); sent the stop signal` };
  }
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const ended = new Promise<{ code: number | null; signal: string | null } | { error: Error }>((resolve) => {
    child.once('error', (error) => resolve({ error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const drained = new Promise((resolve) => child.once('close', resolve));
  const result = await within(ended, deadlineMs - Date.now());
  // Its last output may still be in the pipes; but a background process the command left behind
  // can hold them open for ever, so the wait for it is short.
  if (result !== 'timeout') await within(drained, STOP_OUTPUT_DRAIN_MS);
  child.stdout.destroy();
  child.stderr.destroy();
  const tail = output.trim() === '' ? '' : `: ${output.trim()}`;

  if (result === 'timeout') {
    if (child.pid !== undefined) {
      try {
        assertSignalable(child.pid, child.pid, req.guard);
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone, or refused by the guard: either way nothing more to do for the command.
      }
    }
    return {
      started: true,
      note: `stop command still running after ${req.stopTimeoutMs} ms; killed it${tail}`,
    };
  }
  if ('error' in result) {
    return { started: false, note: `stop command not run (${result.error.message}); sent the stop signal` };
  }
  if (result.code === 0) return { started: true, note: null };
  const how = result.code === null ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
  return { started: true, note: `stop command ${how}${tail}` };
}

function isSignalName(name: string): name is NodeJS.Signals {
  return Object.hasOwn(constants.signals, name);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
