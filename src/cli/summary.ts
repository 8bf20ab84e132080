import { effectiveStatus, previousOf } from '../core/decide.js';
import { formatTime } from '../core/format.js';
import { formatUptime, summarize } from '../core/summary.js';
import type { Alert, Config, Summary } from '../core/types.js';
import { formatDuration, parseDurationMs } from '../core/units.js';
import { readEvents } from '../store/events.js';
import { acquireLock } from '../store/lock.js';
import { enqueue, newEnvelopeId } from '../store/outbox.js';
import { loadState } from '../store/state.js';
import { type DeliveryReport, deliverAlerts, deliveryLines } from './alerting.js';
import { defineCommand, loadConfigFor } from './command.js';
import { CommandError, EXIT_OK, EXIT_USAGE, prepareStateDir } from './context.js';

export const DEFAULT_SINCE = '24h';

export interface SummaryOptions {
  readonly config: Config;
  /** The window, as a duration: `24h`, `7d`. */
  readonly since: string;
  readonly send: boolean;
  readonly json: boolean;
}

/** What `summary --json` prints. */
export interface SummaryReport {
  readonly host: string;
  readonly summary: Summary;
  /** Lines of the events log that could not be read and were left out. */
  readonly skippedLines: number;
  /** With `--send`: the delivery, `queued` when a run held the lock, null without `--send`. */
  readonly delivery: DeliveryReport | 'queued' | null;
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd(),
  );
}

/** The summary as text for the terminal. */
function summaryText(host: string, summary: Summary, skippedLines: number): string[] {
  const { runs } = summary;
  const lines = [
    `cronwatch summary for ${host}, last ${formatDuration(summary.toMs - summary.fromMs)} ` +
      `(${formatTime(summary.fromMs)} to ${formatTime(summary.toMs)})`,
    `runs: ${runs.made} made, ${runs.missed} missed, ${runs.failed} failed (interval ${formatDuration(summary.intervalMs)})`,
  ];
  if (summary.targets.length > 0) {
    lines.push(
      ...table([
        ['target', 'uptime', 'down', 'longest outage', 'restarts', 'planned', 'alerts'],
        ...summary.targets.map((target) => [
          target.name,
          formatUptime(target.uptimePercent),
          formatDuration(target.downMs),
          formatDuration(target.longestOutageMs),
          String(target.incidentRestarts),
          String(target.plannedRestarts),
          String(target.alerts),
        ]),
      ]),
    );
  }
  if (summary.ownAlerts > 0) lines.push(`alerts about cronwatch itself: ${summary.ownAlerts}`);
  if (skippedLines > 0) lines.push(`(${skippedLines} unreadable line(s) of the events log left out)`);
  return lines;
}

/**
 * Delivers the summary through the outbox, silently (a report, not an incident). A run holding
 * the lock may be delivering the outbox right now; rather than race it or wait, the summary is
 * queued and the next run sends it.
 */
async function send(config: Config, alert: Alert, nowMs: number): Promise<DeliveryReport | 'queued' | null> {
  await prepareStateDir(config.stateDir);
  const lock = await acquireLock(config.stateDir, nowMs);
  if (lock.kind === 'held') {
    await enqueue(config.stateDir, {
      id: newEnvelopeId(nowMs),
      host: config.host,
      createdMs: nowMs,
      silent: true,
      alerts: [alert],
    });
    return 'queued';
  }
  try {
    return await deliverAlerts(config, [alert], { silent: true, nowMs });
  } finally {
    await lock.release();
  }
}

/** Prints (and with `send`, delivers) the health report over the window. */
export async function runSummary(options: SummaryOptions): Promise<number> {
  const { config } = options;
  const windowMs = parseDurationMs(options.since);
  if (windowMs === null || windowMs <= 0) {
    throw new CommandError(
      `cronwatch: --since expects a duration such as 24h or 7d, got \`${options.since}\``,
      EXIT_USAGE,
    );
  }
  const nowMs = Date.now();
  const { state } = await loadState(config.stateDir, nowMs, { moveAside: false });
  const { events, skipped } = await readEvents(config.stateDir);
  const summary = summarize({
    events,
    sinceMs: nowMs - windowMs,
    nowMs,
    intervalMs: config.intervalMs,
    targets: config.targets.map((target) => ({
      name: target.name,
      status: effectiveStatus(previousOf(state, target.name)),
    })),
  });
  const delivery = options.send ? await send(config, { kind: 'summary', summary, atMs: nowMs }, nowMs) : null;
  if (options.json) {
    const report: SummaryReport = { host: config.host, summary, skippedLines: skipped, delivery };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return EXIT_OK;
  }
  const lines = summaryText(config.host, summary, skipped);
  if (delivery === 'queued') {
    lines.push('cronwatch: another run holds the lock; the summary is queued and the next run sends it');
  } else if (delivery !== null) {
    lines.push(...deliveryLines(delivery));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return EXIT_OK;
}

export const command = defineCommand({
  usage: 'summary',
  describe: 'health report over a window: uptime, restarts, alerts per target; runs made and missed',
  builder: (args) =>
    args
      .option('since', {
        type: 'string',
        default: DEFAULT_SINCE,
        describe: 'the window, ending now: 24h, 7d, ...',
      })
      .option('send', {
        type: 'boolean',
        default: false,
        describe: 'deliver it to the channels too (for a daily cron line)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print it as JSON' }),
  run: async (args) =>
    runSummary({
      // Only --send writes to the state dir (the outbox).
      config: await loadConfigFor(args, { warnUnset: true, writeCache: args.send }),
      since: args.since,
      send: args.send,
      json: args.json,
    }),
});
