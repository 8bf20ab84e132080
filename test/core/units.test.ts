import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatDurationOver, parseSizeBytes } from '../../src/core/units.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('core/units', () => {
  describe('formatDurationOver()', () => {
    it('never shows an amount over a limit as the limit itself', () => {
      expect(formatDuration(2 * MINUTE + 44 * SECOND)).toBe('2m');
      expect(formatDurationOver(2 * MINUTE + 44 * SECOND, 2 * MINUTE)).toBe('2m 44s');
      expect(formatDurationOver(2 * MINUTE + 1, 2 * MINUTE)).toBe('2m 1s');
      expect(formatDurationOver(45 * SECOND + 200, 45 * SECOND)).toBe('46s');
      expect(formatDurationOver(3 * HOUR + 5 * MINUTE + 1, 3 * HOUR + 5 * MINUTE)).toBe('3h 6m');
      expect(formatDurationOver(DAY + 1, DAY)).toBe('1d 1h');
      expect(formatDurationOver(59 * MINUTE + 59 * SECOND + 500, 59 * MINUTE)).toBe('1h');
      expect(formatDurationOver(23 * HOUR + 59 * MINUTE + 30 * SECOND, 23 * HOUR + 59 * MINUTE)).toBe('1d');
    });

    it('shows the amount as formatDuration does when that already reads over the limit', () => {
      expect(formatDurationOver(HOUR + 5 * SECOND, 2 * SECOND)).toBe('1h');
      expect(formatDurationOver(30 * MINUTE + 10 * SECOND, 20 * MINUTE)).toBe('30m');
      expect(formatDurationOver(2 * HOUR + 5 * SECOND, 15 * MINUTE)).toBe('2h');
    });

    it('shows every amount over the limit as more than the limit', () => {
      const limits = [2 * SECOND, 45 * SECOND, 2 * MINUTE, 20 * MINUTE, HOUR, 3 * HOUR, DAY, 3 * DAY];
      for (const limitMs of limits) {
        for (const overMs of [1, 499, 999, SECOND + 1, 59 * SECOND, MINUTE + 1, 59 * MINUTE, HOUR + 1]) {
          expect(parseShown(formatDurationOver(limitMs + overMs, limitMs))).toBeGreaterThan(limitMs);
        }
      }
    });
  });
});

/** Milliseconds that `1d 2h`, `2m 44s`, `45s` stand for. */
function parseShown(text: string): number {
  const units: Record<string, number> = { s: SECOND, m: MINUTE, h: HOUR, d: DAY };
  return text.split(' ').reduce((sum, part) => sum + Number(part.slice(0, -1)) * units[part.slice(-1)]!, 0);
}

describe('core/units sizes', () => {
  describe('formatBytes()', () => {
    it.each([
      [0, '0B'],
      [512, '512B'],
      [1536, '1.5KB'],
      [10 * 1024 - 1, '10KB'],
      [150 * 1024 ** 2, '150MB'],
      [Math.round(1.25 * 1024 ** 3), '1.3GB'],
      [2 * 1024 ** 3, '2GB'],
      [3 * 1024 ** 4, '3TB'],
    ])('prints %i bytes as %s', (bytes, text) => {
      expect(formatBytes(bytes)).toBe(text);
    });

    it('prints a limit as the size it was configured with', () => {
      for (const size of ['512KB', '150MB', '1.5GB', '2GB']) {
        expect(formatBytes(parseSizeBytes(size)!)).toBe(size);
      }
    });
  });
});
