/** What the runs left behind: when check last ran, and alerts still in the outbox. */

import { cronLogPath } from '../../core/crontab.js';
import { OVERDUE_INTERVALS } from '../../core/overdue.js';
import { redact, secretsOf } from '../../core/redact.js';
import type { Config } from '../../core/types.js';
import { formatDuration, formatDurationOver } from '../../core/units.js';
import { nextTryMs } from '../../notifiers/deliver.js';
import { describeCauses } from '../../notifiers/http-policy.js';
import { type PermanentFailure, readOutbox } from '../../store/outbox.js';
import { loadState } from '../../store/state.js';
import { type CheckLine, type DoctorCheck, fail, ok } from './check-line.js';

async function checkLastRun(config: Config, nowMs: number): Promise<CheckLine> {
  const label = 'last run';
  try {
    const loaded = await loadState(config.stateDir, nowMs, { moveAside: false });
    if (loaded.kind === 'corrupt') return fail(label, `the state file is corrupt (${loaded.error})`);
    const lastRunMs = loaded.state.lastRunMs;
    const limitMs = OVERDUE_INTERVALS * config.intervalMs;
    if (lastRunMs === null) {
      return fail(
        label,
        `cronwatch check has not run with this state dir yet (see ${cronLogPath(config.stateDir)})`,
      );
    }
    const ago = `${formatDuration(nowMs - lastRunMs)} ago (${new Date(lastRunMs).toISOString()})`;
    if (nowMs - lastRunMs > limitMs) {
      return fail(
        label,
        `${formatDurationOver(nowMs - lastRunMs, limitMs)} ago (${new Date(lastRunMs).toISOString()}): more than ${OVERDUE_INTERVALS} × interval ${formatDuration(config.intervalMs)}; ` +
          `is cron running it? See ${cronLogPath(config.stateDir)}`,
      );
    }
    return ok(label, `${ago}, within ${OVERDUE_INTERVALS} × interval ${formatDuration(config.intervalMs)}`);
  } catch (error) {
    return fail(label, `cannot read the state: ${describeCauses(error)}`);
  }
}

async function checkOutbox(config: Config, secrets: readonly string[]): Promise<CheckLine[]> {
  let contents: Awaited<ReturnType<typeof readOutbox>>;
  try {
    contents = await readOutbox(config.stateDir, { moveAside: false });
  } catch (error) {
    return [fail('outbox', `cannot read it: ${describeCauses(error)}`)];
  }
  const { entries, corrupt } = contents;
  if (entries.length === 0 && corrupt.length === 0) {
    // The console channel "delivers" by printing: that is not a message anyone received.
    const printed = config.channels.telegram === null && config.channels.webhook === null;
    return [
      ok(
        'outbox',
        printed
          ? `empty: no channel is configured, so every alert was printed to stderr (by cron, into ${cronLogPath(config.stateDir)}), not sent`
          : 'empty: every alert was delivered',
      ),
    ];
  }
  const lines: CheckLine[] = [];
  if (entries.length > 0) {
    const oldest = new Date(entries[0]!.createdMs).toISOString();
    const last = [...entries].reverse().find((entry) => entry.lastError !== null)?.lastError;
    const why = last === undefined || last === null ? '' : ` (last error: ${redact(last, secrets)})`;
    lines.push(fail('outbox', `${entries.length} alert(s) not delivered, the oldest from ${oldest}${why}`));
  }
  const refusals = new Map<string, { count: number; latest: PermanentFailure }>();
  for (const entry of entries) {
    for (const [channel, failure] of Object.entries(entry.permanent)) {
      const seen = refusals.get(channel);
      const newer = seen === undefined || failure.atMs >= seen.latest.atMs;
      refusals.set(channel, { count: (seen?.count ?? 0) + 1, latest: newer ? failure : seen.latest });
    }
  }
  for (const [channel, { count, latest }] of refusals) {
    lines.push(
      fail(
        `outbox ${channel}`,
        `${count} alert(s) held after a refusal at ${new Date(latest.atMs).toISOString()}: ${redact(latest.error, secrets)}; ` +
          `next try ${new Date(nextTryMs(latest)).toISOString()}, or at once when test-alert or doctor sees the channel work`,
      ),
    );
  }
  if (corrupt.length > 0)
    lines.push(fail('outbox', `${corrupt.length} unreadable file(s): ${corrupt.join(', ')}`));
  return lines;
}

export const LAST_RUN_CHECKS: readonly DoctorCheck[] = [
  {
    name: 'last run',
    needs: 'config',
    run: async (context, config) => [await checkLastRun(config, context.nowMs)],
  },
  { name: 'outbox', needs: 'config', run: (_context, config) => checkOutbox(config, secretsOf(config)) },
];
