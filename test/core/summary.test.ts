import { describe, expect, it } from 'vitest';
import type { CronwatchEvent } from '../../src/core/events.js';
import { renderTelegram } from '../../src/core/format.js';
import { formatUptime, missedRuns, summarize } from '../../src/core/summary.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const INTERVAL_MS = 5 * MINUTE;
const NOW_MS = Date.UTC(2024, 4, 2, 12, 0, 0);
const SINCE_MS = NOW_MS - 24 * HOUR;

function flip(atMs: number, target: string, from: string, to: string): CronwatchEvent {
  return { kind: 'flip', atMs, target, from, to, reason: null } as CronwatchEvent;
}

function runsEvery(fromMs: number, toMs: number, skip: (atMs: number) => boolean = () => false) {
  const events: CronwatchEvent[] = [];
  for (let atMs = fromMs; atMs <= toMs; atMs += INTERVAL_MS) {
    if (!skip(atMs)) events.push({ kind: 'run_start', atMs, rid: `r${atMs}` });
  }
  return events;
}

describe('core', () => {
  describe('summarize()', () => {
    it('gives the uptime of a target from its flips: 36 minutes down in 24 hours is 97.5%', () => {
      const events: CronwatchEvent[] = [
        flip(SINCE_MS - HOUR, 'web', 'new', 'up'),
        flip(SINCE_MS + 2 * HOUR, 'web', 'up', 'down'),
        flip(SINCE_MS + 2 * HOUR + 30 * MINUTE, 'web', 'down', 'up'),
        flip(SINCE_MS + 10 * HOUR, 'web', 'up', 'stale'),
        flip(SINCE_MS + 10 * HOUR + 6 * MINUTE, 'web', 'stale', 'up'),
        { kind: 'restart', atMs: SINCE_MS + 2 * HOUR + 30 * MINUTE, target: 'web', planned: false, ok: true },
        { kind: 'restart', atMs: SINCE_MS + 15 * HOUR, target: 'web', planned: true, ok: true },
        { kind: 'alert', atMs: SINCE_MS + 2 * HOUR, target: 'web', alert: 'problem' },
        { kind: 'alert', atMs: SINCE_MS + 10 * HOUR, target: 'web', alert: 'problem' },
        { kind: 'alert', atMs: SINCE_MS - 2 * HOUR, target: 'web', alert: 'problem' },
      ];
      const summary = summarize({
        events,
        sinceMs: SINCE_MS,
        nowMs: NOW_MS,
        intervalMs: INTERVAL_MS,
        targets: [{ name: 'web', status: 'up' }],
      });
      expect(summary.targets).toEqual([
        {
          name: 'web',
          uptimePercent: 97.5,
          downMs: 36 * MINUTE,
          longestOutageMs: 30 * MINUTE,
          incidentRestarts: 1,
          plannedRestarts: 1,
          alerts: 2,
        },
      ]);
      expect(formatUptime(summary.targets[0]!.uptimePercent)).toBe('97.50%');
    });

    it('counts down then stale without a pause as one outage, clipped to the window', () => {
      const events = [
        flip(SINCE_MS - HOUR, 'job', 'up', 'down'),
        flip(SINCE_MS + HOUR, 'job', 'down', 'stale'),
        flip(SINCE_MS + 2 * HOUR, 'job', 'stale', 'up'),
      ];
      const [job] = summarize({
        events,
        sinceMs: SINCE_MS,
        nowMs: NOW_MS,
        intervalMs: INTERVAL_MS,
        targets: [{ name: 'job', status: 'up' }],
      }).targets;
      expect(job?.longestOutageMs).toBe(2 * HOUR);
      expect(job?.uptimePercent).toBeCloseTo((100 * 22) / 24, 10);
    });

    it('leaves paused and never-observed time out of the uptime', () => {
      const events = [
        flip(SINCE_MS + 12 * HOUR, 'web', 'new', 'up'),
        flip(SINCE_MS + 18 * HOUR, 'web', 'up', 'paused'),
        flip(SINCE_MS + 20 * HOUR, 'web', 'paused', 'down'),
        flip(SINCE_MS + 21 * HOUR, 'web', 'down', 'up'),
      ];
      const [web] = summarize({
        events,
        sinceMs: SINCE_MS,
        nowMs: NOW_MS,
        intervalMs: INTERVAL_MS,
        targets: [{ name: 'web', status: 'up' }],
      }).targets;
      // Watched: 6h up, 1h down, 3h up.
      expect(web?.uptimePercent).toBeCloseTo(90, 10);
      expect(web?.downMs).toBe(HOUR);
    });

    it('takes the current state of a target the log never saw flip', () => {
      const summary = summarize({
        events: [],
        sinceMs: SINCE_MS,
        nowMs: NOW_MS,
        intervalMs: INTERVAL_MS,
        targets: [
          { name: 'steady', status: 'up' },
          { name: 'waiting', status: 'new' },
        ],
      });
      expect(summary.targets.map((target) => target.uptimePercent)).toEqual([100, null]);
      expect(formatUptime(null)).toBe('-');
    });

    it('counts runs made, missed and failed, and alerts about cronwatch itself', () => {
      // Every 5 minutes, but none between 10:00 and 11:00 (11 runs missed).
      const gapFrom = SINCE_MS + 10 * HOUR;
      const events: CronwatchEvent[] = [
        ...runsEvery(SINCE_MS - HOUR, NOW_MS - MINUTE, (atMs) => atMs > gapFrom && atMs < gapFrom + HOUR),
        {
          kind: 'run_end',
          atMs: SINCE_MS + 3 * HOUR,
          rid: 'x',
          startedMs: SINCE_MS,
          exitCode: null,
          ok: false,
          problem: 'disk full',
        },
        { kind: 'alert', atMs: gapFrom + HOUR, target: null, alert: 'overdue' },
      ];
      const summary = summarize({
        events,
        sinceMs: SINCE_MS,
        nowMs: NOW_MS,
        intervalMs: INTERVAL_MS,
        targets: [],
      });
      expect(summary.runs).toEqual({ made: 288 - 11, missed: 11, failed: 1 });
      expect(summary.ownAlerts).toBe(1);
    });

    it('renders as a message for the channels', () => {
      const summary = summarize({
        events: [
          flip(SINCE_MS + HOUR, 'web', 'up', 'down'),
          flip(SINCE_MS + HOUR + 6 * MINUTE, 'web', 'down', 'up'),
        ],
        sinceMs: SINCE_MS,
        nowMs: NOW_MS,
        intervalMs: INTERVAL_MS,
        targets: [{ name: 'web', status: 'up' }],
      });
      const [message] = renderTelegram({
        id: 'x',
        host: 'web-1',
        createdMs: NOW_MS,
        silent: true,
        alerts: [{ kind: 'summary', summary, atMs: NOW_MS }],
      });
      expect(message).toContain('Summary of the last 1d');
      expect(message).toContain('<b>web</b>: 99.58% up · longest outage 6m');
      expect(message).toContain('Runs: 0 made, 0 missed');
    });
  });

  describe('missedRuns()', () => {
    it('counts nothing before the first run the log knows of', () => {
      expect(missedRuns([NOW_MS - 2 * HOUR], SINCE_MS, NOW_MS - 2 * HOUR + MINUTE, INTERVAL_MS)).toBe(0);
    });

    it('counts a run missed once it is half an interval late', () => {
      const last = NOW_MS - 7 * MINUTE;
      expect(missedRuns([last], SINCE_MS, NOW_MS, INTERVAL_MS)).toBe(0);
      expect(missedRuns([last], SINCE_MS, last + 8 * MINUTE, INTERVAL_MS)).toBe(1);
    });

    it('tolerates the jitter of cron and of slow runs', () => {
      const starts = [0, 5.2, 9.9, 15.4, 20].map((minutes) => SINCE_MS + minutes * MINUTE);
      expect(missedRuns(starts, SINCE_MS, SINCE_MS + 21 * MINUTE, INTERVAL_MS)).toBe(0);
    });
  });

  describe('formatUptime()', () => {
    it('never rounds to 100% while there was downtime', () => {
      expect(formatUptime(99.9999)).toBe('99.99%');
      expect(formatUptime(0.0001)).toBe('0.01%');
      expect(formatUptime(100)).toBe('100%');
    });
  });
});
