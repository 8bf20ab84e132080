/**
 * Finding a target in the process table: by regular expression on the full command line, by pid
 * file, or both. Pure but for reading the pid file.
 */
import { readFileSync } from 'node:fs';
import { type Candidates, type Claims, oldestOf, type SharedProcess, settleClaims } from '../core/claims.js';
import type { ProcessFinding, ProcessIdentity, ProcessInfo } from '../core/types.js';
import { indexPatterns, type MatchIndex, matchCandidates, mayMatch } from './match-index.js';

/** How a target is recognised; at least one of the two is set. */
export interface TargetSpec {
  /** Matched against the full command line (like `pgrep -f`), never the 15-character comm. */
  readonly match: RegExp | null;
  /** Absolute path of a pid file; with `match` too, the pid's command line must also match. */
  readonly pidfile: string | null;
}

/** Longest command line or pid file excerpt quoted in a reason, so that alerts stay short. */
const QUOTE_CHARS = 200;

/**
 * cronwatch's own process, its ancestors and its descendants: the cron job's `/bin/sh -c "...
 * cronwatch check"` or a `sh -c` cronwatch started may carry a target's pattern in their command
 * line, and must never be taken for the target.
 */
export function excludedPids(table: readonly ProcessInfo[], selfPid: number): Set<number> {
  const byPid = new Map<number, ProcessInfo>();
  const children = new Map<number, number[]>();
  for (const entry of table) {
    byPid.set(entry.pid, entry);
    const siblings = children.get(entry.ppid);
    if (siblings === undefined) {
      children.set(entry.ppid, [entry.pid]);
    } else {
      siblings.push(entry.pid);
    }
  }
  const excluded = new Set<number>([selfPid]);
  // The `has` checks guard against a loop, possible in a table read while pids were being reused.
  for (let ancestor = byPid.get(selfPid)?.ppid; ancestor !== undefined && ancestor > 0; ) {
    if (excluded.has(ancestor)) {
      break;
    }
    excluded.add(ancestor);
    ancestor = byPid.get(ancestor)?.ppid;
  }
  // Descendants in another session are targets cronwatch started (detached, setsid), not its
  // helpers: they must stay visible, or a run would not see what it had just started.
  const ownSid = byPid.get(selfPid)?.sid;
  const pending = [selfPid];
  for (let parent = pending.pop(); parent !== undefined; parent = pending.pop()) {
    for (const child of children.get(parent) ?? []) {
      if (ownSid !== undefined && byPid.get(child)?.sid !== ownSid) continue;
      if (!excluded.has(child)) {
        excluded.add(child);
        pending.push(child);
      }
    }
  }
  return excluded;
}

/**
 * Why a process in the table cannot be a target, or null when it can. A zombie has exited; a
 * kernel thread (empty command line) was never started by anyone's config.
 */
function notAlive(entry: ProcessInfo): string | null {
  if (entry.state === 'Z' || entry.state === 'X') {
    return 'is not running (zombie)';
  }
  if (entry.cmdline === '') {
    return 'is a kernel thread';
  }
  return null;
}

/** A shell running one command line for someone: `sh -c ...`, `/bin/bash -c ...`. */
const SHELL_WRAPPER = /^(\S*\/)?(sh|bash|dash|zsh) -c /;

function byPidOf(table: readonly ProcessInfo[], pid: number): string {
  return table.find((entry) => entry.pid === pid)?.cmdline ?? '';
}

function matches(pattern: RegExp, cmdline: string): boolean {
  // `search` ignores `lastIndex`, so a pattern given the `g` or `y` flag still tests the whole line.
  return cmdline.search(pattern) !== -1;
}

function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text);
}

/**
 * Finds a target's process. With `match` only: every live process outside `excluded` whose command
 * line matches; `process` is the oldest (then the lowest pid), `count` how many matched. With a pid
 * file: that pid, which must be live, outside `excluded` and, with `match` too, matching; `count`
 * is then 1. Absent findings say why in words fit for an alert.
 * @throws when `spec` has neither `match` nor `pidfile`.
 */
export function findTargetProcess(
  spec: TargetSpec,
  table: readonly ProcessInfo[],
  excluded: ReadonlySet<number>,
): ProcessFinding {
  const found = candidatesOf(spec, table, excluded);
  if (found.kind === 'absent') return found;
  return { kind: 'running', process: oldestOf(found.processes), count: found.processes.length };
}

/** `pool`: the processes `spec.match` may find (the match index's candidates); default all. */
function candidatesOf(
  spec: TargetSpec,
  table: readonly ProcessInfo[],
  excluded: ReadonlySet<number>,
  pool: readonly ProcessInfo[] = table,
): Candidates {
  if (spec.pidfile !== null) {
    const found = findByPidfile(spec.pidfile, spec.match, table, excluded);
    return found.kind === 'running' ? { kind: 'found', processes: [found.process] } : found;
  }
  if (spec.match === null) {
    throw new TypeError('Expected a target with `match` or `pidfile`, got neither');
  }
  const pattern = spec.match;
  const matching = pool.filter(
    (entry) => !excluded.has(entry.pid) && notAlive(entry) === null && matches(pattern, entry.cmdline),
  );
  // A wrapper is the parent of another match: one match alone (most targets) is none.
  const found = matching.length < 2 ? matching : withoutWrappers(matching, table);
  return found.length > 0
    ? { kind: 'found', processes: found }
    : { kind: 'absent', reason: `no process matches ${String(spec.match)}` };
}

/** `sh -c 'node bot.js --x'` mentions the pattern too; while its child runs, the child is the target. */
function withoutWrappers(matching: readonly ProcessInfo[], table: readonly ProcessInfo[]): ProcessInfo[] {
  const matchingPids = new Set(matching.map((entry) => entry.pid));
  const wrappers = new Set(
    matching
      .filter((entry) => matchingPids.has(entry.ppid) && SHELL_WRAPPER.test(byPidOf(table, entry.ppid)))
      .map((entry) => entry.ppid),
  );
  return matching.filter((entry) => !wrappers.has(entry.pid));
}

/** One target, by name, as {@link findTargetProcesses} looks for it. */
export interface NamedSpec {
  readonly name: string;
  readonly spec: TargetSpec;
}

/**
 * The targets' patterns indexed by their required texts (see `match-index.ts`): a `match` is tried
 * only on the processes holding its text; a target with a pid file needs them all, and has none.
 */
export function indexSpecs(targets: readonly NamedSpec[]): MatchIndex {
  return indexPatterns(patternsOf(targets));
}

/** Each target's pattern for the index: its `match`, or null for a target its pid file finds. */
function patternsOf(targets: readonly NamedSpec[]): (string | null)[] {
  return targets.map(({ spec }) => (spec.pidfile === null && spec.match !== null ? spec.match.source : null));
}

/**
 * Which command lines {@link findTargetProcesses} could find for `targets`, as a test for the
 * scan to read only those processes whole; null when it needs every process: a target with a
 * pid file, or a pattern with no required text.
 */
export function processFilter(
  targets: readonly NamedSpec[],
  index: MatchIndex,
): ((cmdline: string) => boolean) | null {
  const everyLiteral = targets.every(
    ({ spec }, position) => spec.pidfile === null && index.literals[position] !== null,
  );
  return everyLiteral ? (cmdline) => mayMatch(index, cmdline) : null;
}

/**
 * Finds every target's process at once, so that no process is counted for two targets where it
 * can be helped; `recorded` (each target's last known process) settles whose a process several
 * targets find is, as {@link settleClaims} says. `indexed`: {@link indexSpecs} of `targets`.
 * @throws when a spec has neither `match` nor `pidfile`.
 */
export function findTargetProcesses(
  targets: readonly NamedSpec[],
  table: readonly ProcessInfo[],
  excluded: ReadonlySet<number>,
  recorded: ReadonlyMap<string, ProcessIdentity>,
  indexed: MatchIndex = indexSpecs(targets),
): Claims {
  const pools = matchCandidates(patternsOf(targets), table, indexed);
  return settleClaims(
    targets.map(({ name, spec }, index) => ({
      name,
      found: candidatesOf(spec, table, excluded, spec.pidfile === null ? pools[index]! : table),
    })),
    recorded,
  );
}

/** A shared process in words, for `status` and `doctor`. */
export function describeShared(shared: SharedProcess): string {
  const found = `pid ${shared.pid} (${quote(shared.cmdline)}) is found by targets ${shared.foundBy.join(' and ')}`;
  const fix = 'make their match patterns exclusive';
  if (shared.recordedAs !== null) {
    const others = shared.foundBy.filter((name) => name !== shared.recordedAs);
    return `${found}; it counts as ${shared.recordedAs}'s, whose recorded process it is (not ${others.join(' or ')}'s); ${fix}`;
  }
  if (shared.heldBy.length === 2) {
    return `${found}, which both take it for theirs: neither starts another copy or restarts it; ${fix}`;
  }
  if (shared.heldBy.length > 2) {
    return `${found}, which all take it for theirs: none of them starts another copy or restarts it; ${fix}`;
  }
  if (shared.heldBy.length === 1) {
    const others = shared.foundBy.filter((name) => name !== shared.heldBy[0]);
    return `${found}; it counts as ${shared.heldBy[0]}'s (${others.join(' and ')} found a process of its own); ${fix}`;
  }
  return `${found}; it counts for none of them (each found a process of its own); ${fix}`;
}

function findByPidfile(
  pidfile: string,
  pattern: RegExp | null,
  table: readonly ProcessInfo[],
  excluded: ReadonlySet<number>,
): ProcessFinding {
  const read = readPidfile(pidfile);
  if (typeof read === 'string') {
    return { kind: 'absent', reason: read };
  }
  const pid = read.pid;
  const entry = table.find((candidate) => candidate.pid === pid);
  if (entry === undefined) {
    return { kind: 'absent', reason: `pid ${pid} from ${pidfile} is not running` };
  }
  const dead = notAlive(entry);
  if (dead !== null) {
    return { kind: 'absent', reason: `pid ${pid} from ${pidfile} ${dead}` };
  }
  if (excluded.has(pid)) {
    // A stale pid file whose pid was reused by cron, a shell or cronwatch itself.
    return {
      kind: 'absent',
      reason: `pid ${pid} from ${pidfile} is cronwatch or one of its parent or child processes`,
    };
  }
  if (pattern !== null && !matches(pattern, entry.cmdline)) {
    return {
      kind: 'absent',
      reason: `pid ${pid} from ${pidfile} is ${quote(entry.cmdline)}, which does not match ${String(pattern)}`,
    };
  }
  return { kind: 'running', process: entry, count: 1 };
}

/** The pid a pid file names, or why it names none. Like most tools, only the first line counts. */
function readPidfile(pidfile: string): { readonly pid: number } | string {
  let text: string;
  try {
    text = readFileSync(pidfile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return `pid file ${pidfile} missing`;
    }
    return `pid file ${pidfile} unreadable (${code ?? (error as Error).message})`;
  }
  const firstLine = text.split('\n', 1)[0]?.trim() ?? '';
  if (firstLine === '') {
    return `pid file ${pidfile} is empty`;
  }
  const pid = Number(firstLine);
  if (!/^\d+$/.test(firstLine) || !Number.isSafeInteger(pid) || pid <= 0) {
    return `pid file ${pidfile} holds ${quote(firstLine)}, not a pid`;
  }
  return { pid };
}
