/**
 * cronwatch's metrics in the Prometheus text exposition format (version 0.0.4), for
 * node_exporter's textfile collector. Pure: the shell gathers the numbers and writes the file.
 *
 * The collector rejects samples with timestamps and families it cannot parse, so every sample
 * is timestamp-free, every family has HELP and TYPE lines and appears once, and label values
 * and help texts are escaped.
 */
import type { TargetStatus } from './types.js';

export interface MetricSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`, with the unit as suffix (`_seconds`, `_bytes`, `_total`). */
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly samples: readonly MetricSample[];
}

// Keyed by status so that a status added to the type without its metric fails to compile.
const STATUS_SET: { readonly [S in TargetStatus]: true } = {
  new: true,
  up: true,
  down: true,
  stale: true,
  over_limit: true,
  error: true,
  backoff: true,
  paused: true,
};

/** Every target state, in the order the one-hot `cronwatch_target_state` lists them. */
export const TARGET_STATUSES = Object.keys(STATUS_SET) as readonly TargetStatus[];

/** Label values: backslash, double quote and line feed are escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (char) => (char === '\n' ? '\\n' : `\\${char}`));
}

/** HELP text: backslash and line feed are escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (char) => (char === '\n' ? '\\n' : '\\\\'));
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/** The exposition text of `families`; families without samples are left out. */
export function renderExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      lines.push(`${family.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** What one run knows of a target for its metrics. */
export interface TargetMetrics {
  readonly name: string;
  /** The target's state at the end of the run. */
  readonly status: TargetStatus;
  /** Age of its state file when observed; null: no state file, or not observed in this run. */
  readonly stateFileAgeMs: number | null;
  /** Resident memory of its process when observed; null: none running, or it was restarted. */
  readonly rssBytes: number | null;
  /** Restarts cronwatch made since the counters began: incidents and planned ones. */
  readonly restarts: { readonly incident: number; readonly planned: number };
}

export interface RunMetrics {
  readonly targets: readonly TargetMetrics[];
  readonly runStartedMs: number;
  readonly runEndedMs: number;
  /** Envelopes left in the outbox after the run's delivery. */
  readonly alertsPending: number;
  /** The configured interval, so that a rule can tell a late run without knowing the config. */
  readonly intervalMs: number;
}

function perTarget(
  targets: readonly TargetMetrics[],
  value: (target: TargetMetrics) => number | null,
): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const target of targets) {
    const sample = value(target);
    if (sample !== null) samples.push({ labels: { target: target.name }, value: sample });
  }
  return samples;
}

/** cronwatch's metric families for one run. */
export function runMetricFamilies(input: RunMetrics): MetricFamily[] {
  const { targets } = input;
  return [
    {
      name: 'cronwatch_target_up',
      help: 'Whether the target was up at the end of the last run (1) or not (0).',
      type: 'gauge',
      samples: perTarget(targets, (target) => (target.status === 'up' ? 1 : 0)),
    },
    {
      name: 'cronwatch_target_state',
      help: "The target's state at the end of the last run: 1 for its state, 0 for the others.",
      type: 'gauge',
      samples: targets.flatMap((target) =>
        TARGET_STATUSES.map((status) => ({
          labels: { target: target.name, state: status },
          value: target.status === status ? 1 : 0,
        })),
      ),
    },
    {
      name: 'cronwatch_target_state_file_age_seconds',
      help: "Age of the target's state file when last observed.",
      type: 'gauge',
      samples: perTarget(targets, (target) =>
        target.stateFileAgeMs === null ? null : Math.max(0, target.stateFileAgeMs) / 1000,
      ),
    },
    {
      name: 'cronwatch_target_resident_memory_bytes',
      help: "Resident memory of the target's process when last observed.",
      type: 'gauge',
      samples: perTarget(targets, (target) => target.rssBytes),
    },
    {
      name: 'cronwatch_target_restarts_total',
      help: 'Restarts of the target by cronwatch; planned="true" for restart --planned.',
      type: 'counter',
      samples: targets.flatMap((target) => [
        { labels: { target: target.name, planned: 'false' }, value: target.restarts.incident },
        { labels: { target: target.name, planned: 'true' }, value: target.restarts.planned },
      ]),
    },
    {
      name: 'cronwatch_run_duration_seconds',
      help: 'How long the last check run took.',
      type: 'gauge',
      samples: [{ labels: {}, value: Math.max(0, input.runEndedMs - input.runStartedMs) / 1000 }],
    },
    {
      name: 'cronwatch_last_run_timestamp_seconds',
      help: 'When the last check run ended, in seconds since the epoch.',
      type: 'gauge',
      samples: [{ labels: {}, value: input.runEndedMs / 1000 }],
    },
    {
      name: 'cronwatch_interval_seconds',
      help: 'The interval cron runs check at (config interval); a run is overdue after 3 of them.',
      type: 'gauge',
      samples: [{ labels: {}, value: input.intervalMs / 1000 }],
    },
    {
      name: 'cronwatch_alerts_pending',
      help: 'Alerts waiting in the outbox, not yet delivered to every channel.',
      type: 'gauge',
      samples: [{ labels: {}, value: input.alertsPending }],
    },
  ];
}
