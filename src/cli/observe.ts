import type { Observation, ProcessInfo, TargetConfig } from '../core/types.js';
import { excludedPids, findTargetProcess } from '../probes/match.js';
import { matchCandidates } from '../probes/match-index.js';
import { scanProcessTable } from '../probes/process-table.js';
import { probeStateFile } from '../probes/state-file.js';
import { mark, measure } from './profile.js';

export interface Observed {
  readonly table: readonly ProcessInfo[];
  readonly observations: readonly Observation[];
}

function observeOne(
  target: TargetConfig,
  table: readonly ProcessInfo[],
  excluded: ReadonlySet<number>,
): Observation {
  try {
    const watchesProcess = target.match !== null || target.pidfile !== null;
    return {
      kind: 'observed',
      target: target.name,
      process: watchesProcess
        ? measure('matching', () =>
            findTargetProcess(
              { match: target.match === null ? null : new RegExp(target.match), pidfile: target.pidfile },
              table,
              excluded,
            ),
          )
        : null,
      file:
        target.stateFile === null ? null : measure('state files', () => probeStateFile(target.stateFile!)),
    };
  } catch (error) {
    // One unreadable target must not stop the run for the others.
    return { kind: 'error', target: target.name, message: (error as Error).message };
  }
}

/** One scan of the process table serves every target. */
export async function observe(targets: readonly TargetConfig[]): Promise<Observed> {
  const table = await scanProcessTable();
  const excluded = excludedPids(table, process.pid);
  mark('process scan');
  // A `match` is tried only on the processes holding its required text; a pid file needs them all.
  const candidates = measure('matching', () =>
    matchCandidates(
      targets.map((target) => (target.pidfile === null ? target.match : null)),
      table,
    ),
  );
  const observations = targets.map((target, index) =>
    observeOne(target, target.pidfile === null ? candidates[index]! : table, excluded),
  );
  mark('matching + state files');
  return { table, observations };
}
