/**
 * What each alert says: one formatter per alert kind, in a table keyed by kind, so that a new
 * kind without its formatter fails to compile. An alert becomes a block of lines of spans (plain
 * text, one tag around plain text, or an icon); `format.ts` renders and cuts them per channel.
 * Pure: no clock, no I/O.
 */

import { formatUptime } from './summary.js';
import type { ActionOutcome, Alert, Summary, TargetStatus } from './types.js';
import { formatDuration } from './units.js';

export type Tag = 'b' | 'i' | 'code' | 'pre';
export type Span = string | { readonly tag: Tag; readonly text: string } | { readonly icon: string };
export type Line = readonly Span[];

/** One alert, ready for any channel. */
export interface Block {
  readonly title: Line;
  readonly details: readonly Line[];
}

/** `2024-05-01 12:03 UTC`: UTC, so the text does not depend on the host's time zone. */
export function formatTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

type AlertFormatters = { readonly [K in Alert['kind']]: (alert: Extract<Alert, { kind: K }>) => Block };
type OutcomeFormatters = {
  readonly [K in ActionOutcome['kind']]: (outcome: Extract<ActionOutcome, { kind: K }>) => OutcomeText;
};

interface OutcomeText {
  /** Whether the target is running after the action. */
  readonly ok: boolean;
  /** Follows the target's name in the title: `restarted, new pid 1234`. */
  readonly summary: string;
  readonly details: readonly Line[];
}

const outcomeFormatters: OutcomeFormatters = {
  started: (outcome) => ({ ok: true, summary: `restarted, new pid ${outcome.pid}`, details: [] }),
  start_failed: (outcome) => {
    const how =
      outcome.error !== null
        ? `error: ${outcome.error}`
        : outcome.signal !== null
          ? `killed by ${outcome.signal}`
          : outcome.exitCode !== null
            ? `exit code ${outcome.exitCode}`
            : 'it did not stay up';
    const details: Line[] = [[`Start failed: ${how}`]];
    details.push(
      outcome.logTail.length > 0
        ? [{ tag: 'pre', text: outcome.logTail.join('\n') }]
        : [{ tag: 'i', text: 'the log is empty' }],
    );
    return { ok: false, summary: 'restart failed', details };
  },
  stop_failed: (outcome) => ({
    ok: false,
    summary: 'could not stop it',
    details: [[`Stop failed: ${outcome.error}`]],
  }),
};

function describeOutcome(outcome: ActionOutcome): OutcomeText {
  // The table is keyed by kind; TypeScript cannot correlate the lookup with the argument.
  const format = outcomeFormatters[outcome.kind] as (value: ActionOutcome) => OutcomeText;
  return format(outcome);
}

const STATUS_WORDS = {
  down: 'down',
  stale: 'stale (hung)',
  over_limit: 'over its limit',
  error: 'reporting an error',
  backoff: 'backing off',
} as const;

const TARGET_STATUS_WORDS: Readonly<Record<TargetStatus, string>> = {
  ...STATUS_WORDS,
  new: 'not yet seen',
  up: 'up',
  paused: 'paused',
};

/** `7 changes merged since the flapping alert at …`, or since the last report when there was one. */
function mergedText(merged: number, mergedSinceMs: number, flappingSinceMs: number): string {
  const since =
    mergedSinceMs === flappingSinceMs
      ? `the flapping alert at ${formatTime(flappingSinceMs)}`
      : `${formatTime(mergedSinceMs)} (flapping since ${formatTime(flappingSinceMs)})`;
  return `${plural(merged, 'change')} merged since ${since}`;
}

const alertFormatters: AlertFormatters = {
  problem: (alert) => {
    const status = STATUS_WORDS[alert.status];
    const reason: Line = ['Reason: ', alert.reason];
    if (alert.outcome === null) {
      return {
        title: [{ icon: '🔴' }, { tag: 'b', text: alert.target }, ` is ${status}`],
        details: [reason, ['No action taken.']],
      };
    }
    const outcome = describeOutcome(alert.outcome);
    return {
      title: [
        { icon: outcome.ok ? '🟢' : '🔴' },
        { tag: 'b', text: alert.target },
        outcome.ok ? ` was ${status}, ${outcome.summary}` : ` is ${status}, ${outcome.summary}`,
      ],
      details: [reason, ...outcome.details],
    };
  },
  recovered: (alert) => ({
    title: [
      { icon: '✅' },
      { tag: 'b', text: alert.target },
      ` recovered after ${formatDuration(alert.downForMs)}`,
      alert.pid === null ? '' : `, pid ${alert.pid}`,
    ],
    details: [],
  }),
  restarted: (alert) => {
    const outcome = describeOutcome(alert.outcome);
    const what = alert.planned ? 'planned restart' : 'restarted';
    const title =
      alert.outcome.kind === 'started'
        ? ` ${alert.planned ? 'planned restart done' : 'restarted'}, new pid ${alert.outcome.pid}`
        : ` ${what} failed`;
    return {
      title: [{ icon: outcome.ok ? '🔁' : '🔴' }, { tag: 'b', text: alert.target }, title],
      details: [...(alert.reason === null ? [] : [['Reason: ', alert.reason]]), ...outcome.details],
    };
  },
  backoff: (alert) => ({
    title: [
      { icon: '⏸' },
      { tag: 'b', text: alert.target },
      ` restarted ${alert.restarts} times in ${formatDuration(alert.windowMs)}; backing off`,
    ],
    details: [
      ['Last reason: ', alert.reason],
      [
        `No restart before ${formatTime(alert.untilMs)}; then one try. `,
        { tag: 'code', text: `cronwatch resume ${alert.target}` },
        ' lifts it now.',
      ],
    ],
  }),
  reminder: (alert) => ({
    title: [
      { icon: '⏰' },
      { tag: 'b', text: alert.target },
      ` still ${STATUS_WORDS[alert.status]}, for ${formatDuration(alert.atMs - alert.sinceMs)}`,
    ],
    details: [['Reason: ', alert.reason]],
  }),
  flapping: (alert) => ({
    title: [{ icon: '🔀' }, { tag: 'b', text: alert.target }, ' is flapping'],
    details: [
      [
        `${alert.count} problems within ${formatDuration(alert.windowMs)}. Until it settles (stays up or down for ${formatDuration(alert.windowMs)}), a repeat that a restart fixed is counted, not sent; failed starts, problems still there after a run and recoveries still go out.`,
      ],
    ],
  }),
  settled: (alert) => ({
    title: [
      { icon: alert.status === 'up' ? '✅' : '🔴' },
      { tag: 'b', text: alert.target },
      ` settled: ${TARGET_STATUS_WORDS[alert.status]} since ${formatTime(alert.sinceMs)}`,
    ],
    details: [
      ...(alert.reason === null ? [] : [['Reason: ', alert.reason] as Line]),
      [`${mergedText(alert.merged, alert.mergedSinceMs, alert.flappingSinceMs)}.`],
    ],
  }),
  still_flapping: (alert) => ({
    title: [
      { icon: '🔀' },
      { tag: 'b', text: alert.target },
      ` still flapping, ${TARGET_STATUS_WORDS[alert.status]} now`,
    ],
    details: [
      [`${mergedText(alert.merged, alert.mergedSinceMs, alert.flappingSinceMs)}.`],
      ...(alert.lastReason === null ? [] : [['Last: ', alert.lastReason] as Line]),
    ],
  }),
  instances: (alert) => ({
    title: [
      { icon: '⚠️' },
      { tag: 'b', text: alert.target },
      ` has ${alert.count} processes running, ${alert.expected} expected`,
    ],
    details: [['None was stopped: check for a duplicate start.']],
  }),
  maintenance: (alert) => ({
    title: [
      { icon: '🛠' },
      { tag: 'b', text: alert.target },
      ` ${alert.action} by ${alert.by}`,
      alert.pid === null ? '' : `, pid ${alert.pid}`,
      alert.untilMs === null ? '' : ` until ${formatTime(alert.untilMs)}`,
    ],
    details: alert.reason === null ? [] : [['Reason: ', alert.reason]],
  }),
  message: (alert) => {
    const [first = '', ...rest] = alert.text.split('\n');
    return { title: [{ icon: '💬' }, first], details: rest.map((line) => [line]) };
  },
  overdue: (alert) => ({
    title: [{ icon: '⏰' }, `cronwatch did not run for ${formatDuration(alert.nowMs - alert.lastRunMs)}`],
    details: [
      [
        `No run from ${formatTime(alert.lastRunMs)} to ${formatTime(alert.nowMs)}; `,
        `expected every ${formatDuration(alert.intervalMs)}. Targets went unwatched meanwhile.`,
      ],
      ['Check that cron runs it: ', { tag: 'code', text: 'cronwatch doctor' }],
    ],
  }),
  summary: ({ summary }) => ({
    title: [{ icon: '📊' }, `Summary of the last ${formatDuration(summary.toMs - summary.fromMs)}`],
    details: summaryLines(summary),
  }),
  test: () => ({
    title: [{ icon: '🔔' }, 'Test alert from cronwatch: this channel works.'],
    details: [],
  }),
};

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

function summaryLines(summary: Summary): Line[] {
  const { runs } = summary;
  const lines: Line[] = [
    [`Runs: ${runs.made} made, ${runs.missed} missed${runs.failed > 0 ? `, ${runs.failed} failed` : ''}`],
  ];
  for (const target of summary.targets) {
    const parts = [`${formatUptime(target.uptimePercent)} up`];
    const restarts = target.incidentRestarts + target.plannedRestarts;
    if (restarts > 0) {
      parts.push(
        `${plural(restarts, 'restart')}${target.plannedRestarts > 0 ? ` (${target.plannedRestarts} planned)` : ''}`,
      );
    }
    if (target.alerts > 0) parts.push(plural(target.alerts, 'alert'));
    if (target.longestOutageMs > 0) parts.push(`longest outage ${formatDuration(target.longestOutageMs)}`);
    lines.push([{ tag: 'b', text: target.name }, `: ${parts.join(' · ')}`]);
  }
  if (summary.ownAlerts > 0) lines.push([`Alerts about cronwatch itself: ${summary.ownAlerts}`]);
  return lines;
}

export function alertBlock(alert: Alert): Block {
  const format = alertFormatters[alert.kind] as (value: Alert) => Block;
  return format(alert);
}
