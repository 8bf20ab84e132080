/**
 * Writes a run's metrics for node_exporter's textfile collector: gathered from the run, rendered
 * by `src/core/metrics.ts`, and written atomically (temp file in the same directory, then
 * rename) so the collector never reads half a file. Mode 0644: node_exporter runs as another
 * user. The temp file's name does not end in `.prom`, so the collector skips it.
 */
import { effectiveStatus } from '../core/decide.js';
import { renderExposition, runMetricFamilies, type TargetMetrics } from '../core/metrics.js';
import type { Config, Observation, State } from '../core/types.js';
import { writeFileAtomic } from '../store/atomic.js';
import { readCounters } from '../store/events.js';
import type { CheckReport } from './check.js';

export interface RunMetricsInput {
  readonly config: Config;
  /** The state saved at the end of the run. */
  readonly state: State;
  readonly observations: readonly Observation[];
  readonly report: CheckReport;
  readonly startedMs: number;
  readonly endedMs: number;
  readonly alertsPending: number;
}

/**
 * Every configured target's metrics: states from the saved state (so a run over some targets
 * keeps the others' series), ages and memory only for those observed in this run.
 */
function targetMetrics(
  input: RunMetricsInput,
  counters: Readonly<Record<string, TargetMetrics['restarts']>>,
): TargetMetrics[] {
  // Maps, not a search per target: a run may watch a thousand targets.
  const observed = new Map(input.observations.map((observation) => [observation.target, observation]));
  const outcomes = new Map(input.report.targets.map((entry) => [entry.name, entry.outcome]));
  return input.config.targets.map((target) => {
    const stored = input.state.targets[target.name];
    const seen = observed.get(target.name);
    const found = seen?.kind === 'observed' ? seen : null;
    const outcome = outcomes.get(target.name) ?? null;
    // After a restart (or a stop), the process whose memory was read is gone.
    const sameProcess = outcome === null || outcome.kind === 'stop_failed';
    return {
      name: target.name,
      status: stored === undefined ? 'new' : effectiveStatus(stored),
      stateFileAgeMs: found?.file?.kind === 'present' ? input.startedMs - found.file.mtimeMs : null,
      rssBytes: found?.process?.kind === 'running' && sameProcess ? found.process.process.rssBytes : null,
      restarts: counters[target.name] ?? { incident: 0, planned: 0 },
    };
  });
}

export async function writeRunMetrics(file: string, input: RunMetricsInput): Promise<void> {
  const targets = targetMetrics(input, await readCounters(input.config.stateDir));
  const text = renderExposition(
    runMetricFamilies({
      targets,
      runStartedMs: input.startedMs,
      runEndedMs: input.endedMs,
      alertsPending: input.alertsPending,
      intervalMs: input.config.intervalMs,
    }),
  );
  await writeFileAtomic(file, text, 0o644);
}
