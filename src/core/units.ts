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

/** `3h 5m`, `12m`, `40s`: the two largest units, for people. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const parts: Array<[number, string]> = [
    [Math.floor(seconds / 86_400), 'd'],
    [Math.floor((seconds % 86_400) / 3600), 'h'],
    [Math.floor((seconds % 3600) / 60), 'm'],
    [seconds % 60, 's'],
  ];
  const first = parts.findIndex(([value]) => value > 0);
  return parts
    .slice(first, first + 2)
    .filter(([value]) => value > 0)
    .map(([value, unit]) => `${value}${unit}`)
    .join(' ');
}
