import { type ChildProcess, spawn } from 'node:child_process';
import { type FileHandle, mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ActionOutcome, ProcessIdentity, TargetConfig } from '../core/types.js';
import { readProcess } from '../probes/process-table.js';
import { within } from './wait.js';

/** A disk that cannot take the log: full, read-only, over quota. */
const LOST_DISK = new Set(['ENOSPC', 'EROFS', 'EDQUOT']);

/** How many lines of its log a failed start reports. */
export const START_FAILURE_LOG_LINES = 20;

/**
 * How long to wait for the exit event of a process found dead when its grace ended: it died at
 * the boundary and its exit status is on its way.
 */
const LATE_EXIT_WAIT_MS = 1000;

/** The size of each read when reading a file backwards. */
const TAIL_CHUNK_BYTES = 16 * 1024;

/** At most this much of a file's end is read for its last lines, however long those lines are. */
const TAIL_MAX_BYTES = 256 * 1024;

/** What to start: a target's `start`, `cwd`, `env`, `log` and `start_grace`. */
export interface StartRequest extends Pick<TargetConfig, 'cwd' | 'env' | 'startGraceMs'> {
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
 * stdout and stderr appended to `logPath`. It counts as started when it is still running after
 * `startGraceMs`; otherwise the outcome carries its exit status and the last
 * {@link START_FAILURE_LOG_LINES} lines it wrote to the log.
 *
 * The pid returned is that of `/bin/sh`, which leads the new session and process group (pgid ===
 * pid). Debian's dash does not `exec` the last command of `-c`, so for `start: node monitor.js`
 * the shell stays as the parent of node, in the same group: signals to the group reach both, and
 * the match probe finds the program itself by its command line on the next run.
 *
 * Fully asynchronous: several starts may run side by side. Never throws.
 */
export async function startTarget(req: StartRequest): Promise<ActionOutcome> {
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
  try {
    // Only what this start writes is its failure's tail, not an earlier run's last words.
    logStartByte = (await log.stat()).size;
    child = spawn('/bin/sh', ['-c', execSimple(req.command)], {
      cwd: req.cwd,
      env: childEnv(req.env, req.hiddenEnv ?? []),
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
    });
    // Listen before anything is awaited: a command that fails at once may exit during any await,
    // and an exit event nobody listened to is lost for good.
    ended = endingOf(child);
  } catch (error) {
    return startFailed({ error: `cannot run \`${req.command}\`: ${messageOf(error)}` });
  } finally {
    // The child holds its own copy of the descriptor from here on.
    await log.close();
  }

  // Neither the child nor a listener on it may keep cronwatch running once its work is done.
  child.unref();

  let ending = await within(ended, req.startGraceMs);
  if (ending === 'timeout' && child.pid !== undefined) {
    const info = readProcess(child.pid);
    if (info !== null && info.state !== 'Z') {
      const identity: ProcessIdentity = {
        pid: info.pid,
        startTicks: info.startTicks,
        startTimeMs: info.startTimeMs,
        cmdline: info.cmdline,
      };
      return { kind: 'started', pid: info.pid, identity };
    }
    ending = await within(ended, LATE_EXIT_WAIT_MS);
  }

  const logTail = await tailLines(req.logPath, START_FAILURE_LOG_LINES, logStartByte).catch(() => []);
  if (ending === 'timeout') {
    return startFailed({ error: `exited within its start grace of ${req.startGraceMs} ms`, logTail });
  }
  if (ending.kind === 'error') {
    return startFailed({ error: `cannot run \`${req.command}\`: ${ending.error.message}`, logTail });
  }
  return startFailed({ exitCode: ending.code, signal: ending.signal, logTail });
}

/** Shell syntax that `exec` in front would break: operators, grouping, assignments first. */
const NOT_SIMPLE = /[;&|()<>`\n{}]|\$\(|^\s*\w+=|^\s*(if|for|while|until|case|cd|exec)\b/;

/**
 * `exec` in front of a simple command makes the program itself the started process (dash does
 * not exec the last command of `sh -c`), so its pid, group and start time are the program's.
 */
export function execSimple(command: string): string {
  return NOT_SIMPLE.test(command) ? command : `exec ${command}`;
}

/** cronwatch's environment, less its own secrets (the bot token), plus the target's `env`. */
export function childEnv(
  env: Readonly<Record<string, string>>,
  hidden: readonly string[],
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env };
  for (const name of hidden) delete out[name];
  return { ...out, ...env };
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
