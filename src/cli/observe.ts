import type { SharedProcess } from '../core/claims.js';
import { previousOf } from '../core/decide.js';
import type {
  Observation,
  ProcessFinding,
  ProcessIdentity,
  ProcessInfo,
  State,
  TargetConfig,
} from '../core/types.js';
import {
  excludedPids,
  findTargetProcesses,
  indexSpecs,
  type NamedSpec,
  processFilter,
} from '../probes/match.js';
import { scanProcessesFor, scanProcessTable } from '../probes/process-table.js';
import { probeStateFile } from '../probes/state-file.js';
import { mark, measure } from './profile.js';

export interface Observed {
  /** The processes read: those some target could be and their ancestors, or all of them. */
  readonly table: readonly ProcessInfo[];
  readonly observations: readonly Observation[];
  /** Processes that more than one target finds, each involving at least one observed target. */
  readonly shared: readonly SharedProcess[];
}

function observeOne(target: TargetConfig, process: ProcessFinding | null, error: string | null): Observation {
  if (error !== null) return { kind: 'error', target: target.name, message: error };
  try {
    return {
      kind: 'observed',
      target: target.name,
      process,
      file:
        target.stateFile === null ? null : measure('state files', () => probeStateFile(target.stateFile!)),
    };
  } catch (error) {
    // One unreadable target must not stop the run for the others.
    return { kind: 'error', target: target.name, message: (error as Error).message };
  }
}

/**
 * One scan of the process table serves every target. Processes are assigned over `all` the
 * config's targets, observed or not, so that observing one target never takes another's process;
 * `state` (the last run's) tells whose a process several targets find is, where it can.
 */
export async function observe(
  targets: readonly TargetConfig[],
  all: readonly TargetConfig[],
  state: State,
): Promise<Observed> {
  const specs: NamedSpec[] = [];
  const errors = new Map<string, string>();
  for (const target of all) {
    if (target.match === null && target.pidfile === null) continue;
    try {
      const match = target.match === null ? null : new RegExp(target.match);
      specs.push({ name: target.name, spec: { match, pidfile: target.pidfile } });
    } catch (error) {
      errors.set(target.name, (error as Error).message);
    }
  }
  const index = indexSpecs(specs);
  // Only the processes some target could be, when the patterns say which; see `processFilter`.
  const wanted = processFilter(specs, index);
  const table = wanted === null ? await scanProcessTable() : await scanProcessesFor(wanted, process.pid);
  const excluded = excludedPids(table, process.pid);
  mark('process scan');
  const recorded = new Map<string, ProcessIdentity>();
  for (const target of all) {
    const stored = previousOf(state, target.name).process;
    if (stored !== null) recorded.set(target.name, stored);
  }
  const claims = measure('matching', () => findTargetProcesses(specs, table, excluded, recorded, index));
  const observed = new Set(targets.map((target) => target.name));
  const observations = targets.map((target) =>
    observeOne(target, claims.findings.get(target.name) ?? null, errors.get(target.name) ?? null),
  );
  mark('matching + state files');
  return {
    table,
    observations,
    shared: claims.shared.filter((entry) => entry.foundBy.some((name) => observed.has(name))),
  };
}
