/**
 * The crontab block: which cron lines a config needs, and how that block is put into (or taken
 * out of) a user's crontab between marker lines without touching any other line. Pure: the
 * shell reads and writes the crontab (`src/cli/crontab.ts`).
 */
import { formatDuration } from './units.js';

const MINUTE_MS = 60_000;
const HOUR_MINUTES = 60;
const DAY_HOURS = 24;

/** When the daily summary goes out: late enough to cover the day, early enough to end in it. */
export const SUMMARY_SCHEDULE = '55 23 * * *';

/** The shell's PATH for a cron job (Debian, the BSDs and macOS agree). */
export const CRON_PATH = '/usr/bin:/bin';

export type ScheduleResult =
  | { readonly kind: 'ok'; readonly schedule: string }
  | { readonly kind: 'invalid'; readonly reason: string };

function divisors(of: number, below: number): string {
  const found: number[] = [];
  for (let n = 1; n < below; n += 1) if (of % n === 0) found.push(n);
  return `${found.slice(0, -1).join(', ')} or ${found.at(-1)}`;
}

/**
 * The cron fields that run something every `intervalMs`. Cron counts whole minutes and its
 * steps restart at every hour (and day), so only divisors of an hour, divisors of a day in
 * whole hours, and one day come out even; anything else is refused with the reason.
 */
export function cronScheduleFor(intervalMs: number): ScheduleResult {
  // Whole minutes read best as `5m`; anything else in seconds, so the part cron cannot do shows.
  const shown = intervalMs % MINUTE_MS === 0 ? formatDuration(intervalMs) : `${intervalMs / 1000}s`;
  if (intervalMs < MINUTE_MS) {
    return { kind: 'invalid', reason: `${shown} is under a minute, and cron counts in whole minutes` };
  }
  if (intervalMs % MINUTE_MS !== 0) {
    return {
      kind: 'invalid',
      reason: `${shown} is not a whole number of minutes, which cron counts in`,
    };
  }
  const minutes = intervalMs / MINUTE_MS;
  if (minutes < HOUR_MINUTES) {
    if (HOUR_MINUTES % minutes !== 0) {
      return {
        kind: 'invalid',
        reason:
          `cron cannot run every ${shown} evenly (a step of ${minutes} minutes starts again at every full ` +
          `hour); use ${divisors(HOUR_MINUTES, HOUR_MINUTES)}m`,
      };
    }
    return { kind: 'ok', schedule: minutes === 1 ? '* * * * *' : `*/${minutes} * * * *` };
  }
  const hours = minutes / HOUR_MINUTES;
  if (!Number.isInteger(hours) || (hours < DAY_HOURS && DAY_HOURS % hours !== 0) || hours > DAY_HOURS) {
    return {
      kind: 'invalid',
      reason: `cron cannot run every ${shown} evenly; above an hour use ${divisors(DAY_HOURS, DAY_HOURS)}h, or 1d`,
    };
  }
  if (hours === DAY_HOURS) return { kind: 'ok', schedule: '0 0 * * *' };
  return { kind: 'ok', schedule: hours === 1 ? '0 * * * *' : `0 */${hours} * * *` };
}

export function beginMarker(configFile: string): string {
  return `# >>> cronwatch ${configFile} >>>`;
}

export function endMarker(configFile: string): string {
  return `# <<< cronwatch ${configFile} <<<`;
}

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One word for `/bin/sh`, quoted only when it must be. */
export function shellQuote(word: string): string {
  return SHELL_SAFE.test(word) ? word : `'${word.split("'").join("'\\''")}'`;
}

/** Everything a crontab block is made of; every path absolute. */
export interface CrontabInput {
  readonly configFile: string;
  /** Where each job starts (`cd`): the config's directory, which its relative paths are anchored to. */
  readonly workDir: string;
  readonly stateDir: string;
  readonly intervalMs: number;
  /** The node binary that runs cronwatch (cron's PATH may not hold it). */
  readonly nodePath: string;
  /** The compiled CLI entry, `dist/scripts/cronwatch.js`. */
  readonly entryPath: string;
  readonly targets: readonly {
    readonly name: string;
    readonly start: string | null;
    readonly restartSchedule: string | null;
  }[];
  /** Variables the config's channels read from the environment, which cron does not pass on. */
  readonly secretEnv: readonly string[];
}

export type BlockResult =
  | { readonly kind: 'ok'; readonly lines: readonly string[] }
  | { readonly kind: 'invalid'; readonly reason: string };

/** The crontab log: every job's output, appended, in the state dir. */
export function cronLogPath(stateDir: string): string {
  return `${stateDir}/cron.log`;
}

/**
 * The block for one config, marker lines included: the check every interval, each planned
 * restart, the daily summary. Each line `cd`s into the project and names node, the entry, the
 * config and the log by absolute path, so it runs the same under cron's bare environment.
 */
export function renderCrontabBlock(input: CrontabInput): BlockResult {
  const paths = [input.configFile, input.workDir, input.stateDir, input.nodePath, input.entryPath];
  const bad = paths.find((path) => /[\n\r]/.test(path));
  if (bad !== undefined) {
    return {
      kind: 'invalid',
      reason: `a path in a crontab line cannot hold a line break: ${JSON.stringify(bad)}`,
    };
  }
  const check = cronScheduleFor(input.intervalMs);
  if (check.kind === 'invalid') return { kind: 'invalid', reason: `interval: ${check.reason}` };
  const noStart = input.targets.find((target) => target.restartSchedule !== null && target.start === null);
  if (noStart !== undefined) {
    return {
      kind: 'invalid',
      reason: `target ${noStart.name} has a restart_schedule but no start command to restart it with`,
    };
  }
  // Cron turns an unescaped % into a line break, even inside quotes.
  const job = (schedule: string, args: string): string =>
    `${schedule} ${[
      `cd ${shellQuote(input.workDir)}`,
      `&& ${shellQuote(input.nodePath)} ${shellQuote(input.entryPath)} ${args}`,
      `--config ${shellQuote(input.configFile)}`,
      `>> ${shellQuote(cronLogPath(input.stateDir))} 2>&1`,
    ]
      .join(' ')
      .split('%')
      .join('\\%')}`;
  const lines = [
    beginMarker(input.configFile),
    '# Written by `cronwatch crontab --install`: change the config and install again rather than edit here.',
  ];
  if (input.secretEnv.length > 0) {
    lines.push(
      `# Cron passes on no shell environment: set ${input.secretEnv.join(', ')} above this block (crontab -e).`,
    );
  }
  lines.push(job(check.schedule, 'check'));
  for (const target of input.targets) {
    if (target.restartSchedule !== null)
      lines.push(job(target.restartSchedule, `restart ${target.name} --planned`));
  }
  lines.push(job(SUMMARY_SCHEDULE, 'summary --send'), endMarker(input.configFile));
  return { kind: 'ok', lines };
}

export type BlockSearch =
  | { readonly kind: 'absent' }
  /** Line indexes of the begin and end markers. */
  | { readonly kind: 'found'; readonly begin: number; readonly end: number }
  | { readonly kind: 'broken'; readonly reason: string };

/** The lines of a crontab, without the empty string after its final newline. */
export function crontabLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Where the block for `configFile` is in `lines`; marker lines that do not pair up are `broken`. */
export function findBlock(lines: readonly string[], configFile: string): BlockSearch {
  const begin = beginMarker(configFile);
  const end = endMarker(configFile);
  const begins: number[] = [];
  const ends: number[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === begin) begins.push(index);
    if (line.trim() === end) ends.push(index);
  });
  if (begins.length === 0 && ends.length === 0) return { kind: 'absent' };
  if (begins.length === 1 && ends.length === 1 && ends[0]! > begins[0]!) {
    return { kind: 'found', begin: begins[0]!, end: ends[0]! };
  }
  return {
    kind: 'broken',
    reason:
      `the crontab has ${begins.length} begin and ${ends.length} end marker lines for ${configFile}, ` +
      'not one pair in order; mend it by hand (crontab -e)',
  };
}

export type SpliceResult =
  | { readonly kind: 'ok'; readonly text: string; readonly changed: boolean }
  | { readonly kind: 'broken'; readonly reason: string };

/**
 * The crontab `text` with the block for `configFile` replaced by `block` (appended when absent),
 * or taken out when `block` is null. Every other line stays as it was, in its place.
 */
export function spliceBlock(text: string, configFile: string, block: readonly string[] | null): SpliceResult {
  const lines = crontabLines(text);
  const found = findBlock(lines, configFile);
  if (found.kind === 'broken') return found;
  const next =
    found.kind === 'found'
      ? [...lines.slice(0, found.begin), ...(block ?? []), ...lines.slice(found.end + 1)]
      : [...lines, ...(block ?? [])];
  const result = next.length === 0 ? '' : `${next.join('\n')}\n`;
  return { kind: 'ok', text: result, changed: result !== text };
}

/** Names of the variables set by `NAME=value` lines (a crontab's, or /etc/environment's). */
export function assignedNames(lines: readonly string[]): string[] {
  const names: string[] = [];
  for (const line of lines) {
    const assignment = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line);
    if (assignment !== null) names.push(assignment[1]!);
  }
  return names;
}

/**
 * Names of the variables a crontab sets before the block for `configFile`, which cron passes to
 * that block's jobs (a setting applies to the lines after it).
 */
export function crontabEnvNames(lines: readonly string[], configFile: string): string[] {
  const found = findBlock(lines, configFile);
  return assignedNames(found.kind === 'found' ? lines.slice(0, found.begin) : lines);
}
