import type { Observation, ProcessFinding, ProcessInfo, TargetConfig } from '../core/types.js';
import { excludedPids, findTargetProcesses, type NamedSpec, type SharedProcess } from '../probes/match.js';
import { scanProcessTable } from '../probes/process-table.js';
import { probeStateFile } from '../probes/state-file.js';

export interface Observed {
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
      file: target.stateFile === null ? null : probeStateFile(target.stateFile),
    };
  } catch (error) {
    // One unreadable target must not stop the run for the others.
    return { kind: 'error', target: target.name, message: (error as Error).message };
  }
}

/**
 * One scan of the process table serves every target. Processes are assigned over `all` the
 * config's targets, observed or not, so that observing one target never takes another's process.
 */
export async function observe(
  targets: readonly TargetConfig[],
  all: readonly TargetConfig[] = targets,
): Promise<Observed> {
  const table = await scanProcessTable();
  const excluded = excludedPids(table, process.pid);
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
  const claims = findTargetProcesses(specs, table, excluded);
  const observed = new Set(targets.map((target) => target.name));
  return {
    table,
    observations: targets.map((target) =>
      observeOne(target, claims.findings.get(target.name) ?? null, errors.get(target.name) ?? null),
    ),
    shared: claims.shared.filter((entry) => entry.foundBy.some((name) => observed.has(name))),
  };
}
