/**
 * Whose a process is when more than one target's `match` or `pidfile` finds it. The record
 * decides where it can: a process stored as exactly one of its finders' process (pid, start time
 * and command line) is that target's alone. Where the record cannot tell, the process counts for
 * every finder that has none of its own, and none of them stops it.
 */
import { sameProcess } from './identity.js';
import type { ProcessFinding, ProcessIdentity, ProcessInfo } from './types.js';

/** What one target's `match` or `pidfile` found in the process table, before claims are settled. */
export type Candidates =
  | { readonly kind: 'found'; readonly processes: readonly ProcessInfo[] }
  | Extract<ProcessFinding, { kind: 'absent' }>;

/** A process that more than one target's `match` or `pidfile` finds. */
export interface SharedProcess {
  readonly pid: number;
  readonly cmdline: string;
  /** Every target that finds it, in config order. */
  readonly foundBy: readonly string[];
  /** Those of them that take it for their process. */
  readonly heldBy: readonly string[];
  /** The one finder whose recorded process it is; null when the record cannot tell. */
  readonly recordedAs: string | null;
}

/** Each target's finding, and the processes more than one target finds. */
export interface Claims {
  readonly findings: ReadonlyMap<string, ProcessFinding>;
  readonly shared: readonly SharedProcess[];
}

/** The oldest process of a non-empty list, then the lowest pid. */
export function oldestOf(processes: readonly ProcessInfo[]): ProcessInfo {
  return processes.reduce((oldest, entry) =>
    entry.startTimeMs < oldest.startTimeMs ||
    (entry.startTimeMs === oldest.startTimeMs && entry.pid < oldest.pid)
      ? entry
      : oldest,
  );
}

/**
 * Settles every target's claims at once, in config order. A process only one target finds is
 * its own; so is a shared one recorded as its process (`recorded`: each target's last known
 * process), which the other finders then do not see: a target whose own process died is down,
 * not up on its neighbour's. A target that has none of its own sees the shared processes the
 * record cannot settle, and its finding names the other targets that see the same process
 * (`sharedWith`): it is up, so nothing starts a second copy, and no target kills it as its own.
 */
export function settleClaims(
  candidates: readonly { readonly name: string; readonly found: Candidates }[],
  recorded: ReadonlyMap<string, ProcessIdentity>,
): Claims {
  const finders = new Map<number, string[]>();
  const byPid = new Map<number, ProcessInfo>();
  for (const { name, found } of candidates) {
    if (found.kind === 'absent') continue;
    for (const entry of found.processes) {
      const names = finders.get(entry.pid);
      if (names === undefined) finders.set(entry.pid, [name]);
      else names.push(name);
      byPid.set(entry.pid, entry);
    }
  }
  const owners = new Map<number, string>();
  for (const [pid, names] of finders) {
    if (names.length < 2) continue;
    const entry = byPid.get(pid);
    // Two finders that both recorded it (it was undecided last run too) decide nothing.
    const recordedBy = names.filter((name) => {
      const identity = recorded.get(name);
      return identity !== undefined && entry !== undefined && sameProcess(identity, entry);
    });
    if (recordedBy.length === 1 && recordedBy[0] !== undefined) owners.set(pid, recordedBy[0]);
  }
  const chosen = candidates.map(({ name, found }): { name: string; finding: ProcessFinding } => {
    if (found.kind === 'absent') return { name, finding: found };
    // Most targets: one process, found by no other target.
    const [only] = found.processes;
    if (found.processes.length === 1 && only !== undefined && finders.get(only.pid)?.length === 1) {
      return { name, finding: { kind: 'running', process: only, count: 1 } };
    }
    const visible = found.processes.filter((entry) => (owners.get(entry.pid) ?? name) === name);
    if (visible.length === 0) {
      const others = found.processes.map((entry) => `pid ${entry.pid} is ${owners.get(entry.pid)}'s`);
      return { name, finding: { kind: 'absent', reason: `no process of its own: ${others.join(', ')}` } };
    }
    const own = visible.filter((entry) => finders.get(entry.pid)?.length === 1 || owners.has(entry.pid));
    const pool = own.length > 0 ? own : visible;
    return { name, finding: { kind: 'running', process: oldestOf(pool), count: pool.length } };
  });
  const holders = new Map<number, string[]>();
  for (const { name, finding } of chosen) {
    if (finding.kind === 'running') {
      const names = holders.get(finding.process.pid);
      if (names === undefined) holders.set(finding.process.pid, [name]);
      else names.push(name);
    }
  }
  const findings = new Map<string, ProcessFinding>();
  for (const { name, finding } of chosen) {
    if (finding.kind === 'absent') {
      findings.set(name, finding);
      continue;
    }
    const others = (holders.get(finding.process.pid) ?? []).filter((holder) => holder !== name);
    findings.set(name, others.length > 0 ? { ...finding, sharedWith: others } : finding);
  }
  const shared = [...finders]
    .filter(([, names]) => names.length > 1)
    .map(([pid, foundBy]) => ({
      pid,
      cmdline: byPid.get(pid)?.cmdline ?? '',
      foundBy,
      heldBy: holders.get(pid) ?? [],
      recordedAs: owners.get(pid) ?? null,
    }));
  return { findings, shared };
}
