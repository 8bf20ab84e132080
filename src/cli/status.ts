import { decide } from '../core/decide.js';
import { isOverdue } from '../core/overdue.js';
import type { Config, PauseInfo } from '../core/types.js';
import { formatBytes, formatDuration } from '../core/units.js';
import { holdOf } from '../notifiers/deliver.js';
import { describeShared } from '../probes/match.js';
import { lockHolder } from '../store/lock.js';
import { type OutboxEntry, type PermanentFailure, readChannelsWorked, readOutbox } from '../store/outbox.js';
import { loadState } from '../store/state.js';
import { channelsOf } from './alerting.js';
import { defineCommand, loadConfigFor } from './command.js';
import { EXIT_NOT_UP, EXIT_OK, selectTargets } from './context.js';
import { observe } from './observe.js';

export interface StatusOptions {
  readonly config: Config;
  readonly names: readonly string[];
  readonly json: boolean;
}

export interface StatusRow {
  readonly name: string;
  /** As seen now (the stored state for a paused target). */
  readonly state: string;
  readonly reason: string | null;
  /** The process running now (the oldest when several match), paused or not. */
  readonly pid: number | null;
  /** How many processes the target's `match` finds now. */
  readonly processes: number;
  readonly uptimeMs: number | null;
  readonly rssBytes: number | null;
  /** Average over the process's life, in percent of one core. */
  readonly cpuPercent: number | null;
  readonly stateFileAgeMs: number | null;
  readonly restarts24h: number;
  readonly lastAlertAt: string | null;
}

function describePause(pause: PauseInfo): string {
  const until = pause.untilMs === null ? 'until resumed' : `until ${new Date(pause.untilMs).toISOString()}`;
  return `paused by ${pause.by}${pause.reason === null ? '' : ` (${pause.reason})`}, ${until}`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** What waits in the outbox, for `status`. */
export interface OutboxStatus {
  /** Envelopes not yet accepted by every channel. */
  readonly pending: number;
  /** The newest error of any waiting envelope, token-free. */
  readonly lastError: string | null;
  /** Per channel held after a refusal: how many alerts, the refusal, and when they are tried next. */
  readonly refused: readonly {
    readonly channel: string;
    readonly error: string;
    readonly at: string;
    readonly held: number;
    readonly nextTryAt: string | null;
  }[];
  /** Files that are not valid entries; the next `check` moves them aside. */
  readonly unreadable: number;
}

async function outboxStatus(config: Config): Promise<OutboxStatus> {
  const { entries, corrupt } = await readOutbox(config.stateDir, { moveAside: false });
  const worked = await readChannelsWorked(config.stateDir);
  const channels = entries.some((entry) => Object.keys(entry.permanent).length > 0)
    ? await channelsOf(config)
    : [];
  const refused: OutboxStatus['refused'][number][] = [];
  for (const channel of channels) {
    const hold = holdOf(entries, channel, worked[channel.name], Date.now());
    const latest = hold.refusal ?? latestRefusal(entries, channel.name);
    if (hold.held === 0 || latest === null) continue;
    refused.push({
      channel: channel.name,
      error: latest.error,
      at: new Date(latest.atMs).toISOString(),
      held: hold.held,
      nextTryAt: hold.nextTryMs === null ? null : new Date(hold.nextTryMs).toISOString(),
    });
  }
  return {
    pending: entries.length,
    lastError: [...entries].reverse().find((entry) => entry.lastError !== null)?.lastError ?? null,
    refused,
    unreadable: corrupt.length,
  };
}

function latestRefusal(entries: readonly OutboxEntry[], channel: string): PermanentFailure | null {
  let latest: PermanentFailure | null = null;
  for (const entry of entries) {
    const failure = entry.permanent[channel];
    if (failure !== undefined && failure.atMs >= (latest?.atMs ?? 0)) latest = failure;
  }
  return latest;
}

function outboxLines(outbox: OutboxStatus): string[] {
  if (outbox.pending === 0 && outbox.unreadable === 0) return ['outbox: empty'];
  const why = outbox.lastError === null ? '' : ` (last error: ${outbox.lastError})`;
  const lines = [`outbox: ${outbox.pending} alert(s) waiting to be sent${why}`];
  for (const { channel, error, at, held, nextTryAt } of outbox.refused) {
    lines.push(
      `outbox: ${held} alert(s) held on ${channel} after a refusal (${at}): ${error}; next try ${nextTryAt ?? 'with the next check'}, or at once when test-alert or doctor sees the channel work`,
    );
  }
  if (outbox.unreadable > 0) {
    lines.push(`outbox: ${outbox.unreadable} unreadable file(s); the next check moves them aside`);
  }
  return lines;
}

/** Prints every target's live state; exits 1 when any is not up (or paused). */
export async function runStatus(options: StatusOptions): Promise<number> {
  const { config } = options;
  const targets = selectTargets(config, options.names);
  const nowMs = Date.now();
  const { state } = await loadState(config.stateDir, nowMs, { moveAside: false });
  const { table: processes, observations, shared } = await observe(targets, config.targets, state);
  const plan = decide({ observations, state, config: { ...config, targets }, nowMs });
  const outbox = await outboxStatus(config);
  const run = await lockHolder(config.stateDir);

  // Maps, not a search per target: a host may watch a thousand.
  const targetOf = new Map(targets.map((target) => [target.name, target]));
  const observationOf = new Map(observations.map((observation) => [observation.target, observation]));
  const processOf = new Map(processes.map((entry) => [entry.pid, entry]));
  const rows: StatusRow[] = plan.verdicts.map((verdict) => {
    const stored = state.targets[verdict.target];
    const target = targetOf.get(verdict.target)!;
    const observation = observationOf.get(verdict.target);
    const found =
      observation?.kind === 'observed' && observation.process?.kind === 'running'
        ? observation.process
        : null;
    const process = verdict.pid === null ? undefined : processOf.get(verdict.pid);
    const file = observation?.kind === 'observed' ? observation.file : null;
    // Whole milliseconds: the process table and file times carry fractions no one needs.
    const uptimeMs = process === undefined ? null : Math.round(nowMs - process.startTimeMs);
    return {
      name: verdict.target,
      state: verdict.status,
      reason: verdict.status === 'paused' && stored?.pause ? describePause(stored.pause) : verdict.reason,
      pid: verdict.pid,
      processes: found?.count ?? 0,
      uptimeMs,
      rssBytes: process?.rssBytes ?? null,
      cpuPercent:
        process === undefined || uptimeMs === null || uptimeMs <= 0
          ? null
          : Math.round((process.cpuMs / uptimeMs) * 1000) / 10,
      stateFileAgeMs:
        target.stateFile !== null && file?.kind === 'present' ? Math.round(nowMs - file.mtimeMs) : null,
      restarts24h: stored?.restartsMs.filter((at) => nowMs - at < 86_400_000).length ?? 0,
      lastAlertAt: stored?.lastAlertMs ? new Date(stored.lastAlertMs).toISOString() : null,
    };
  });
  const lastRunMs = state.lastRunMs;
  // Never run at all is as overdue as it gets (the crontab line is missing or broken), unless
  // the first run is under way.
  const overdue =
    lastRunMs === null ? run === null : isOverdue({ lastRunMs, nowMs, intervalMs: config.intervalMs });
  const exitCode = rows.every((row) => row.state === 'up' || row.state === 'paused') ? EXIT_OK : EXIT_NOT_UP;

  if (options.json) {
    const lastRunAt = lastRunMs === null ? null : new Date(lastRunMs).toISOString();
    const runInProgress =
      run === null ? null : { pid: run.pid, startedAt: new Date(run.sinceMs).toISOString() };
    process.stdout.write(
      `${JSON.stringify({ host: config.host, lastRunAt, overdue, runInProgress, targets: rows, shared, outbox }, null, 2)}\n`,
    );
    return exitCode;
  }
  const header = [
    'TARGET',
    'STATE',
    'PID',
    'UPTIME',
    'MEMORY',
    'CPU',
    'FILE AGE',
    'RESTARTS 24H',
    'LAST ALERT',
  ];
  const cells = rows.map((row) => [
    row.name,
    row.state,
    row.pid === null ? '-' : String(row.pid),
    row.uptimeMs === null ? '-' : formatDuration(row.uptimeMs),
    row.rssBytes === null ? '-' : formatBytes(row.rssBytes),
    row.cpuPercent === null ? '-' : `${row.cpuPercent}%`,
    row.stateFileAgeMs === null ? '-' : formatDuration(row.stateFileAgeMs),
    String(row.restarts24h),
    row.lastAlertAt === null ? '-' : row.lastAlertAt.replace('T', ' ').slice(0, 16),
  ]);
  const reasons = rows.flatMap((row) => {
    const lines = row.reason === null ? [] : [`  ${row.name}: ${row.reason}`];
    if (row.processes > 1) {
      const expected = targetOf.get(row.name)?.instances ?? 1;
      lines.push(`  ${row.name}: ${row.processes} processes match, ${expected} expected; PID is the oldest`);
    }
    return lines;
  });
  reasons.push(...shared.map((entry) => `  note: ${describeShared(entry)}`));
  const inProgress =
    run === null
      ? null
      : `a run is in progress (pid ${run.pid}, started ${new Date(run.sinceMs).toISOString()}, ${formatDuration(nowMs - run.sinceMs)} ago)`;
  const lastRun =
    lastRunMs === null
      ? inProgress === null
        ? 'last run: never (is the crontab line installed?)'
        : `last run: none finished yet; ${inProgress}`
      : `last run: ${new Date(lastRunMs).toISOString()} (${formatDuration(nowMs - lastRunMs)} ago)${overdue ? `, OVERDUE: expected every ${formatDuration(config.intervalMs)}` : ''}${inProgress === null ? '' : `; ${inProgress}`}`;
  const out = [
    table([header, ...cells]),
    ...(reasons.length > 0 ? ['', ...reasons] : []),
    '',
    lastRun,
    ...outboxLines(outbox),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  return exitCode;
}

export const command = defineCommand({
  usage: 'status [names..]',
  describe: 'a table of every target: state, pid, uptime, memory, cpu, state-file age, restarts',
  builder: (args) =>
    args
      .positional('names', { type: 'string', array: true, describe: 'only these targets' })
      .option('json', { type: 'boolean', default: false, describe: 'print as JSON' }),
  run: async (args) =>
    runStatus({
      config: await loadConfigFor(args, { warnUnset: true, writeCache: false }),
      names: args.names ?? [],
      json: args.json,
    }),
});
