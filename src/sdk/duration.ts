import { parseDurationMs } from '../core/units.js';

/** Milliseconds, or a duration as cronwatch's config writes it: `500ms`, `30s`, `5m`, `2h`, `1d`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

/**
 * `value` in milliseconds; `name` is the option's name for the error.
 * @throws TypeError when `value` is neither a non-negative number nor a duration.
 */
export function durationMs(value: Duration, name: string): number {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? parseDurationMs(value) : null;
  if (ms === null || !Number.isFinite(ms) || ms < 0) {
    throw new TypeError(
      `Expected \`${name}\` to be milliseconds or a duration like 30s, 5m, got \`${String(value)}\``,
    );
  }
  return ms;
}
