import { describe, expect, it } from 'vitest';
import { renderPlain, renderTelegram } from '../../src/core/format.js';
import { describeOverdue, isOverdue, OVERDUE_INTERVALS, overdueAlert } from '../../src/core/overdue.js';

const INTERVAL_MS = 5 * 60_000;
const NOW_MS = Date.UTC(2024, 4, 1, 14, 8, 0);

describe('core', () => {
  describe('overdueAlert()', () => {
    it('says nothing on a first run', () => {
      expect(overdueAlert({ lastRunMs: null, nowMs: NOW_MS, intervalMs: INTERVAL_MS })).toBeNull();
    });

    it('says nothing while the previous run is within three intervals', () => {
      const lastRunMs = NOW_MS - OVERDUE_INTERVALS * INTERVAL_MS;
      expect(isOverdue({ lastRunMs, nowMs: NOW_MS, intervalMs: INTERVAL_MS })).toBe(false);
      expect(overdueAlert({ lastRunMs, nowMs: NOW_MS, intervalMs: INTERVAL_MS })).toBeNull();
    });

    it('raises one alert about cronwatch itself from when to when it did not run', () => {
      const lastRunMs = NOW_MS - 2 * 3_600_000 - 5 * 60_000;
      const alert = overdueAlert({ lastRunMs, nowMs: NOW_MS, intervalMs: INTERVAL_MS });
      expect(alert).toEqual({
        kind: 'overdue',
        lastRunMs,
        nowMs: NOW_MS,
        intervalMs: INTERVAL_MS,
        atMs: NOW_MS,
      });
      const envelope = { id: 'x', host: 'web-1', createdMs: NOW_MS, silent: false, alerts: [alert!] };
      const [message] = renderTelegram(envelope);
      expect(message).toContain('cronwatch did not run for 2h 5m');
      expect(message).toContain('No run from 2024-05-01 12:03 UTC to 2024-05-01 14:08 UTC');
      expect(message).toContain('expected every 5m');
      expect(renderPlain(envelope)).toContain('cronwatch did not run for 2h 5m');
      expect(describeOverdue(alert!)).toBe(
        'no run for 2h 5m (previous run 2024-05-01T12:03:00.000Z, interval 5m): cronwatch was not running; is cron?',
      );
    });
  });
});
