import type { ChildProcess } from 'node:child_process';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { identityOf } from '../core/decide.js';
import { sameProcess } from '../core/identity.js';
import type { ActionOutcome, ProcessFinding, ProcessInfo, TargetConfig } from '../core/types.js';
import { formatDuration } from '../core/units.js';
import { excludedPids, findTargetProcess } from '../probes/match.js';
import { readProcess, scanProcessTable } from '../probes/process-table.js';
import { childEnv } from './child-env.js';
import { createSignalGuard } from './safety.js';
import { stopTarget } from './stop.js';
import { within } from './wait.js';

/** A disk that cannot take the log: full, read-only, over quota. */
const LOST_DISK = new Set(['ENOSPC', 'EROFS', 'EDQUOT']);

/** How many lines of its log a failed start reports. */
export const START_FAILURE_LOG_LINES = 20;

/**
 * How long to wait for the exit event of a start command found dead when its grace ended: it
 * died at the boundary and its exit status is on its way.
 */
const LATE_EXIT_WAIT_MS = 1000;

/** The size of each read when reading a file backwards. */
const TAIL_CHUNK_BYTES = 16 * 1024;

/** At most this much of a file's end is read for its last lines, however long those lines are. */
const TAIL_MAX_BYTES = 256 * 1024;

/**
 * What to start: a target's `start`, `cwd`, `env`, `log` and `start_grace`, and its `match` and
 * `pidfile`, by which the started target is found (at least one of the two is set); its
 * `stop_signal` and `stop_timeout` stop what a failed start left running.
 */
export interface StartRequest
  extends Pick<
    TargetConfig,
    'cwd' | 'env' | 'startGraceMs' | 'match' | 'pidfile' | 'stopSignal' | 'stopTimeoutMs'
  > {
  /** The target's `start` command, run by `/bin/sh -c`. */
  readonly command: string;
  /** Absolute path of the log that receives its stdout and stderr, appended; created with its directory. */
  readonly logPath: string;
  /** Variables of cronwatch's environment the target must not inherit (the bot token's). */
  readonly hiddenEnv?: readonly string[];
}

type Ending =
  | { readonly kind: 'exit'; readonly code: number | null; readonly signal: string | null }
  | { readonly kind: 'error'; readonly error: Error };

/**
 * Starts a target so that it outlives cronwatch and the cron job: `/bin/sh -c <command>` in `cwd`,
 * with cronwatch's environment plus `env`, in a session of its own (`setsid`), stdin closed,
 * stdout and stderr appended to `logPath`.
 *
 * The start is judged by the target, not by the command: when `startGraceMs` ends, the target's
 * `match` and/or `pidfile` must find a process the start brought (never one that ran before it,
 * which may be another target's). A command that stays in the foreground and one that daemonizes
 * and exits 0 (`(cmd &)`, `start-stop-daemon --background`, `redis-server --daemonize yes`) are
 * both started when their target is found; the pid returned is the target's, never a wrapper
 * shell's. A command that exits non-zero (or is killed) within the grace has failed with that
 * status. A failure carries the last {@link START_FAILURE_LOG_LINES} lines this start wrote.
 *
 * A start judged failed because its target was not found leaves nothing behind: what still runs
 * in the process group it created (the foreground command itself, or what `(cmd &)` left) is
 * stopped as `stop` would (`stopSignal` to the group, SIGKILL after `stopTimeoutMs`), and the
 * failure says so. Otherwise every run would start one more copy of a command whose `match` or
 * `pidfile` never finds it. A daemon that left the group (`setsid`) is not the start's to stop.
 *
 * Fully asynchronous: several starts may run side by side. Never throws.
 */
export async function startTarget(req: StartRequest): Promise<ActionOutcome> {
  if (req.match === null && req.pidfile === null) {
    return startFailed({
      error: 'the target has neither match nor pidfile: nothing would find what it started',
    });
  }
  // Loaded here, not at the top: a healthy run starts nothing and need not pay for them.
  const [{ mkdir, open, stat }, { spawn }] = await Promise.all([
    import('node:fs/promises'),
    import('node:child_process'),
  ]);
  const cwdStat = await stat(req.cwd).catch(() => null);
  if (cwdStat === null || !cwdStat.isDirectory()) {
    return startFailed({ error: `cwd ${req.cwd} does not exist or is not a directory` });
  }

  let log: FileHandle;
  try {
    await mkdir(dirname(req.logPath), { recursive: true });
    log = await open(req.logPath, 'a');
  } catch (error) {
    // A log on a full or read-only disk must not keep the target down: it starts, unlogged.
    // A recursive mkdir reports a read-only disk as ENOENT; a plain one tells the real cause.
    let code = (error as NodeJS.ErrnoException).code ?? '';
    if (code === 'ENOENT') {
      code = await mkdir(dirname(req.logPath)).then(
        () => code,
        (retry: NodeJS.ErrnoException) => retry.code ?? code,
      );
    }
    if (!LOST_DISK.has(code))
      return startFailed({ error: `cannot open log ${req.logPath}: ${messageOf(error)}` });
    log = await open('/dev/null', 'a');
  }

  let child: ChildProcess;
  let ended: Promise<Ending>;
  let logStartByte = 0;
  let since: StartedSince;
  let shell: ProcessInfo | null;
  try {
    // Only what this start writes is its failure's tail, not an earlier run's last words.
    logStartByte = (await log.stat()).size;
    const spawnedMs = Date.now();
    child = spawn('/bin/sh', ['-c', execSimple(req.command)], {
      cwd: req.cwd,
      env: childEnv(req.env, req.hiddenEnv ?? []),
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
    });
    // Listen before anything is awaited: a command that fails at once may exit during any await,
    // and an exit event nobody listened to is lost for good.
    ended = endingOf(child);
    // Read before the event loop runs again: until then the shell exists (a zombie at worst, not
    // yet reaped), so its start time is there to be read however fast it exits.
    shell = child.pid === undefined ? null : readProcess(child.pid);
    since = {
      ticks: shell?.startTicks ?? null,
      pid: shell?.pid ?? null,
      ms: shell?.startTimeMs ?? spawnedMs,
    };
  } catch (error) {
    return startFailed({ error: `cannot run \`${req.command}\`: ${messageOf(error)}` });
  } finally {
    // The child holds its own copy of the descriptor from here on.
    await log.close();
  }

  // Neither the child nor a listener on it may keep cronwatch running once its work is done.
  child.unref();

  const graceEndsMs = Date.now() + req.startGraceMs;
  const ending = await within(ended, req.startGraceMs);
  const failure = async (fields: Omit<Parameters<typeof startFailed>[0], 'logTail'>) =>
    startFailed({
      ...fields,
      logTail: await tailLines(req.logPath, START_FAILURE_LOG_LINES, logStartByte).catch(() => []),
    });
  const failedBy = (end: Ending) =>
    end.kind === 'error'
      ? failure({ error: `cannot run \`${req.command}\`: ${end.error.message}` })
      : failure({ exitCode: end.code, signal: end.signal });
  if (ending !== 'timeout' && (ending.kind === 'error' || ending.code !== 0)) return failedBy(ending);
  // Exited 0: it daemonized, or it was never a long-running command. The target decides, at the
  // end of the grace, so that a daemon that dies at once is not taken for started.
  if (ending !== 'timeout') await sleep(Math.max(0, graceEndsMs - Date.now()));

  const found = await findStarted(req, child.pid ?? -1, since, graceEndsMs);
  if (found.kind === 'running') {
    return { kind: 'started', pid: found.process.pid, identity: identityOf(found.process) };
  }
  // A command that died at the grace's boundary: its exit status says more than the probe.
  const last = ending === 'timeout' && !isAlive(child.pid) ? await within(ended, LATE_EXIT_WAIT_MS) : ending;
  if (last !== 'timeout' && (last.kind === 'error' || last.code !== 0)) return failedBy(last);
  const command =
    last === 'timeout'
      ? `the start command is still running (pid ${child.pid})`
      : 'the start command exited 0';
  const stopped = shell === null ? '' : await stopLeftovers(req, shell);
  return failure({
    error: `${command} but no new process was found within its start grace of ${graceText(req.startGraceMs)}: ${found.reason}${stopped}`,
  });
}

/**
 * Stops what a failed start left in the process group it created (its session's, led by the
 * shell's pid), as `stop` stops a target; says what it did, '' when nothing was left. The leader
 * is identified by its start time alone, as it may since have exec'd the command or exited: the
 * kernel hands out no pid still in use as a group id, so a live group with the shell's pid as
 * its id is this start's.
 */
async function stopLeftovers(req: StartRequest, shell: ProcessInfo): Promise<string> {
  const now = readProcess(shell.pid);
  const identity =
    now !== null && sameProcess({ ...identityOf(shell), cmdline: now.cmdline }, now)
      ? identityOf(now)
      : identityOf(shell);
  const result = await stopTarget({
    identity,
    pgid: shell.pid,
    stopCommand: null,
    stopSignal: req.stopSignal,
    stopTimeoutMs: req.stopTimeoutMs,
    cwd: req.cwd,
    env: req.env,
    guard: createSignalGuard(),
  });
  if (result.kind === 'failed') {
    return `; could not stop what it left running (process group ${shell.pid}): ${result.error}`;
  }
  if (result.via !== 'signal') return '';
  const how = result.forced ? `${req.stopSignal}, then SIGKILL` : req.stopSignal;
  return `; stopped what it left running (${how} to process group ${shell.pid}), so that the next run does not start another copy`;
}

/** A start grace as configured: `700ms` stays `700ms`, not a rounded `0s`. */
function graceText(ms: number): string {
  return ms % 1000 === 0 ? formatDuration(ms) : `${ms}ms`;
}

function isAlive(pid: number | undefined): boolean {
  const info = pid === undefined ? null : readProcess(pid);
  return info !== null && info.state !== 'Z';
}

/** When the start's shell began: what began before it is not what it started. */
interface StartedSince {
  /** Clock ticks since boot (Linux), exact; null where unknown. */
  readonly ticks: number | null;
  /** The shell's pid: within its tick, what began before it has a lower pid. */
  readonly pid: number | null;
  readonly ms: number;
}

/** Start times from `ps` (outside Linux) are to the second. */
const START_TIME_TOLERANCE_MS = 1000;

function begunSince(entry: ProcessInfo, since: StartedSince): boolean {
  if (since.ticks !== null && entry.startTicks !== null) {
    // A tick is 10 ms: a process begun in the shell's own tick is the start's only if its pid
    // came after the shell's (pids are handed out in order; a wrap within one tick is not seen).
    if (entry.startTicks !== since.ticks) return entry.startTicks > since.ticks;
    return since.pid === null || entry.pid >= since.pid;
  }
  return entry.startTimeMs >= since.ms - START_TIME_TOLERANCE_MS;
}

/** The last scan, shared by the starts whose graces end together (a run restarting 50 targets). */
let lastScan: { readonly startedMs: number; readonly table: Promise<ProcessInfo[]> } | null = null;

/** The process table as read at or after `notBeforeMs`. */
function tableSince(notBeforeMs: number): Promise<ProcessInfo[]> {
  if (lastScan === null || lastScan.startedMs < notBeforeMs) {
    lastScan = { startedMs: Date.now(), table: scanProcessTable() };
  }
  return lastScan.table;
}

/**
 * The target as the start left it. A pid file names its process exactly; a pattern is looked for
 * among the processes begun since the start (never one that ran before it, which may be another
 * target's), first in the start's own session (a foreground command or `(cmd &)`), so that two
 * targets started side by side with overlapping patterns each find their own; then anywhere (a
 * daemon that called `setsid`).
 */
async function findStarted(
  req: StartRequest,
  sessionId: number,
  since: StartedSince,
  graceEndsMs: number,
): Promise<ProcessFinding> {
  const table = await tableSince(graceEndsMs);
  const excluded = excludedPids(table, process.pid);
  const spec = { match: req.match === null ? null : new RegExp(req.match), pidfile: req.pidfile };
  if (spec.pidfile !== null) return findTargetProcess(spec, table, excluded);
  const fresh = table.filter((entry) => begunSince(entry, since));
  const inSession = findTargetProcess(
    spec,
    fresh.filter((entry) => entry.sid === sessionId),
    excluded,
  );
  return inSession.kind === 'running' ? inSession : findTargetProcess(spec, fresh, excluded);
}

/**
 * The first word of commands `exec` cannot run: shell keywords, and builtins no program of the
 * same name stands in for (`exec exit 3` would fail with 127, "exit: not found").
 */
const SHELL_ONLY =
  /^\s*(!|\{|if|case|for|while|until|exit|return|break|continue|cd|exec|export|readonly|set|unset|shift|eval|trap|wait|read|ulimit|umask|alias|unalias|command|type|getopts|hash|local|times|source|\.|:)(\s|;|$)/;

/** Shell syntax that `exec` in front would break: operators, grouping, assignments first. */
const NOT_SIMPLE = /[;&|()<>`\n{}]|\$\(|^\s*\w+=/;

/**
 * `exec` in front of a simple command makes the program itself the started process (dash does
 * not exec the last command of `sh -c`): no shell stays behind as its parent.
 */
export function execSimple(command: string): string {
  return NOT_SIMPLE.test(command) || SHELL_ONLY.test(command) ? command : `exec ${command}`;
}

function endingOf(child: ChildProcess): Promise<Ending> {
  return new Promise<Ending>((resolve) => {
    child.once('error', (error) => resolve({ kind: 'error', error }));
    child.once('exit', (code, signal) => resolve({ kind: 'exit', code, signal }));
  });
}

function startFailed(
  fields: Partial<Omit<Extract<ActionOutcome, { kind: 'start_failed' }>, 'kind'>>,
): ActionOutcome {
  return {
    kind: 'start_failed',
    exitCode: fields.exitCode ?? null,
    signal: fields.signal ?? null,
    error: fields.error ?? null,
    logTail: fields.logTail ?? [],
  };
}

/**
 * The last `n` lines of the file at `path` (without their line ends), reading backwards from
 * its end so that a large log costs only its tail. Only bytes from `fromByte` on are considered.
 * A missing file has no lines.
 */
export async function tailLines(path: string, n: number, fromByte = 0): Promise<string[]> {
  if (n <= 0) return [];
  const { open } = await import('node:fs/promises');
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  try {
    const sizeBytes = (await handle.stat()).size;
    const floorByte = Math.max(fromByte, sizeBytes - TAIL_MAX_BYTES, 0);
    const chunks: Buffer[] = [];
    let position = sizeBytes;
    let newlines = 0;
    // One newline more than n lines hold (the last line's own) proves the first kept line whole.
    while (position > floorByte && newlines <= n) {
      const length = Math.min(TAIL_CHUNK_BYTES, position - floorByte);
      position -= length;
      const chunk = Buffer.alloc(length);
      const { bytesRead } = await handle.read(chunk, 0, length, position);
      const read = chunk.subarray(0, bytesRead);
      chunks.unshift(read);
      for (const byte of read) if (byte === 0x0a) newlines += 1;
    }
    let text = Buffer.concat(chunks).toString('utf8');
    if (text.endsWith('\n')) text = text.slice(0, -1);
    if (text === '') return [];
    return text
      .split('\n')
      .slice(-n)
      .map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  } finally {
    await handle.close();
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
