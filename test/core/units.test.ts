import { describe, expect, it } from 'vitest';
import { formatBytes, parseSizeBytes } from '../../src/core/units.js';

describe('core', () => {
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
