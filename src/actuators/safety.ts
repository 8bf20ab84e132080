import { hasProcFs, readProcess, readStat } from '../probes/process-table.js';

/** The largest value a `pid_t` holds; anything above it would wrap around in `kill(2)`. */
const MAX_PID = 0x7fff_ffff;

/** A bound on the ancestor walk, so a corrupt or looping parent chain cannot spin forever. */
const MAX_ANCESTOR_DEPTH = 256;

/** Who cronwatch is, so that no signal ever reaches cronwatch itself or what runs it. */
export interface SignalGuard {
  /** cronwatch's own pid. */
  readonly selfPid: number;
  /**
   * cronwatch's own process group. When omitted it is read from `/proc` at each check; null or
   * unreadable means the group check relies on `selfPid` and `ancestors` alone.
   */
  readonly selfPgid?: number | null;
  /** Every ancestor of cronwatch: the shell and cron that started it, up to init. */
  readonly ancestors: ReadonlySet<number>;
}

/**
 * Throws unless it is safe to signal `pid` (and, when `pgid` is given, the process group `pgid`).
 *
 * Refused: a pid or group that is not an integer above 1 (`kill(0)`, `kill(-1)` and `kill(1)` reach
 * the caller's group, every process on the host, or init), cronwatch itself, its own process group,
 * and any of its ancestors. Every signal the actuators send passes here first: a peer tool once
 * ran `kill -TERM -$PID` with `$PID` unset, which as root ends every process on the host.
 */
export function assertSignalable(pid: number, pgid: number | null, guard: SignalGuard): void {
  checkId('pid', pid);
  if (pgid !== null) checkId('process group', pgid);

  const selfPgid = guard.selfPgid ?? idsOf(guard.selfPid)?.pgid ?? null;
  const refuse = (what: string, id: number, why: string): never => {
    throw new Error(`Refusing to signal ${what} \`${id}\`: ${why}`);
  };

  const targets: [string, number][] = [['pid', pid]];
  if (pgid !== null) targets.push(['process group', pgid]);
  for (const [what, id] of targets) {
    if (id === guard.selfPid) refuse(what, id, 'it is cronwatch itself');
    if (selfPgid !== null && id === selfPgid) refuse(what, id, 'it is cronwatch’s own process group');
    if (guard.ancestors.has(id)) refuse(what, id, 'it is an ancestor of cronwatch');
  }
}

function checkId(what: string, id: number): void {
  if (!Number.isInteger(id) || id <= 1 || id > MAX_PID) {
    throw new Error(`Refusing to signal ${what} \`${String(id)}\`: expected an integer from 2 to ${MAX_PID}`);
  }
}

/**
 * The pids of every ancestor of `selfPid` (its parent, grandparent, ... up to init), without
 * `selfPid` itself and without 0. Linux walks `/proc/<pid>/stat`; elsewhere it asks `ps`, and
 * falls back on `process.ppid` when that fails (best effort: at least the parent is known).
 */
export function ancestorsOf(selfPid: number): ReadonlySet<number> {
  const ancestors = new Set<number>();
  let pid = selfPid;
  for (let depth = 0; depth < MAX_ANCESTOR_DEPTH; depth += 1) {
    const ppid = idsOf(pid)?.ppid ?? null;
    if (ppid === null || ppid <= 0 || ancestors.has(ppid) || ppid === selfPid) break;
    ancestors.add(ppid);
    pid = ppid;
  }
  if (ancestors.size === 0 && selfPid === process.pid && process.ppid > 0) ancestors.add(process.ppid);
  return ancestors;
}

/** A guard for the running process: its pid, process group and ancestors, read once. */
export function createSignalGuard(selfPid: number = process.pid): SignalGuard {
  return { selfPid, selfPgid: idsOf(selfPid)?.pgid ?? null, ancestors: ancestorsOf(selfPid) };
}

/**
 * The parent and group of `pid`: its stat file alone on Linux, `ps` elsewhere. null when unknown;
 * a `ps` that fails leaves the guard to what it knows without it.
 */
function idsOf(pid: number): { readonly ppid: number; readonly pgid: number } | null {
  if (hasProcFs) return readStat(pid);
  try {
    const found = readProcess(pid);
    return found === null || found.pgid < 0 ? null : found;
  } catch {
    return null;
  }
}
