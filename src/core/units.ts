/** Durations (`500ms`, `30s`, `5m`, `2h`, `1d`) and sizes (`512KB`, `2GB`, powers of 1024). */

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
  tb: 1024 ** 4,
};

/** Milliseconds for `text`, or null when it is not a duration. */
export function parseDurationMs(text: string): number | null {
  const found = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (found === null) return null;
  return Math.round(Number(found[1]) * (DURATION_UNITS_MS[found[2]!] ?? Number.NaN));
}

/** Bytes for `text`, or null when it is not a size. */
export function parseSizeBytes(text: string): number | null {
  const found = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?b)\s*$/i.exec(text);
  if (found === null) return null;
  return Math.round(Number(found[1]) * (SIZE_UNITS[found[2]!.toLowerCase()] ?? Number.NaN));
}

/** `12s`, `12m`, `3h 5m`, `2d 3h`: the two largest units, rounded down. */
export function formatDuration(ms: number): string {
  const totalSeconds = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (days > 0) return hours > 0 ? `${days}d ${hours}h` : `${days}d`;
  if (hours > 0) return minutes > 0 ? `${hours}h ${minutes}m` : `${hours}h`;
  if (minutes > 0) return `${minutes}m`;
  return `${seconds}s`;
}

/** The last unit `formatDuration` shows of `ms`: what it rounds down to. */
function shownUnitMs(ms: number): number {
  return ms < 60_000 ? 1000 : ms < 86_400_000 ? 60_000 : 3_600_000;
}

/**
 * An amount that broke `limitMs`, never shown as within it: as `formatDuration` shows it, unless
 * that rounds it down to the limit or less (2m44s against a 2m max_age is not `2m`); then rounded
 * up instead, with its seconds under an hour (`2m 44s`).
 */
export function formatDurationOver(ms: number, limitMs: number): string {
  const unitMs = shownUnitMs(ms);
  if (Math.floor(ms / unitMs) * unitMs > limitMs) return formatDuration(ms);
  const upSeconds = Math.ceil(ms / 1000);
  if (ms >= 60_000 && ms < 3_600_000 && upSeconds % 60 !== 0) {
    return `${Math.floor(upSeconds / 60)}m ${upSeconds % 60}s`;
  }
  return formatDuration(Math.ceil(ms / unitMs) * unitMs);
}

const SIZE_SYMBOLS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;

/**
 * `512B`, `1.5KB`, `150MB`, `2GB`: powers of 1024, in the units config sizes are written in, so a
 * limit prints as it was set; at most one decimal, and only below 10 of a unit.
 */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < SIZE_SYMBOLS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 ? Math.round(value) : Number(value.toFixed(1))}${SIZE_SYMBOLS[unit]}`;
}
