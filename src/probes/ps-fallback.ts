/**
 * The process table where there is no `/proc` (macOS, the BSDs): `ps`, which gives less.
 * Runs on Linux too, which is how it is tested.
 */
import { createRequire } from 'node:module';
import { totalmem } from 'node:os';
import type { ProcessInfo } from '../core/types.js';

// child_process is required when ps runs, not at load: Linux reads /proc and never needs it.
const lazyRequire = createRequire(import.meta.url) as (
  id: 'node:child_process',
) => typeof import('node:child_process');

/** A number `ps` did not give. Never a valid pid, group, size or time: never pass it to `kill`. */
export const UNKNOWN = -1;
/** A state `ps-list` did not give. */
const UNKNOWN_STATE = '?';
const PS_TIMEOUT_MS = 5000;

/**
 * Every process, from `ps-list` (`all: true`). Unknowns: `pgid`, `sid`, `cpuMs` are -1, `state`
 * is `?`, `startTicks` null; `startTimeMs` is to the second (-1 when `ps` gave none) and
 * `rssBytes` an estimate from %mem (-1 when `ps` gave none).
 */
export async function scanWithPsList(): Promise<ProcessInfo[]> {
  // Loaded only where used: Linux never pays for it.
  const { default: psList } = await import('ps-list');
  const totalBytes = totalmem();
  return (await psList({ all: true })).map((found) => ({
    pid: found.pid,
    ppid: found.ppid,
    pgid: UNKNOWN,
    sid: UNKNOWN,
    startTimeMs: found.startTime?.getTime() ?? UNKNOWN,
    startTicks: null,
    cmdline: found.cmd ?? '',
    state: UNKNOWN_STATE,
    rssBytes: found.memory === undefined ? UNKNOWN : Math.round((found.memory / 100) * totalBytes),
    cpuMs: UNKNOWN,
  }));
}

// `lstart` is the only start time both BSD and procps `ps` print to the second; with LC_ALL=C it
// reads like `Mon Nov 23 12:15:56 2026`, as ps-list asks for it too, so the two agree.
const PS_COLUMNS = ['pid', 'ppid', 'pgid', 'stat', 'rss', 'time', 'lstart', 'args'] as const;
const PS_LINE =
  /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\w{3}\s+\w{3}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}\s+\d{4})\s(.*)$/;

/**
 * Parses one line of `ps -o pid=,ppid=,pgid=,stat=,rss=,time=,lstart=,args=` (LC_ALL=C).
 * Returns null for a line that is not one.
 */
export function parsePsLine(line: string): ProcessInfo | null {
  const found = PS_LINE.exec(line.replace(/\n$/, ''));
  if (found === null) {
    return null;
  }
  const [, pid = '', ppid = '', pgid = '', stat = '', rssKb = '', time = '', lstart = '', args = ''] = found;
  const startTimeMs = new Date(lstart).getTime();
  return {
    pid: Number(pid),
    ppid: Number(ppid),
    pgid: Number(pgid),
    sid: UNKNOWN,
    startTimeMs: Number.isNaN(startTimeMs) ? UNKNOWN : startTimeMs,
    startTicks: null,
    cmdline: args,
    state: stat.charAt(0) || UNKNOWN_STATE,
    rssBytes: Number(rssKb) * 1024,
    cpuMs: parseCpuTime(time),
  };
}

/** `ps`'s cumulative CPU time, `[[DD-]HH:]MM:SS[.cc]`, in ms; -1 when it is not that. */
export function parseCpuTime(text: string): number {
  const found = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$/.exec(text);
  if (found === null) {
    return UNKNOWN;
  }
  const [, days = '0', hours = '0', minutes = '0', seconds = '0'] = found;
  const wholeMinutes = (Number(days) * 24 + Number(hours)) * 60 + Number(minutes);
  return Math.round((wholeMinutes * 60 + Number(seconds)) * 1000);
}

/** One process from one `ps` run; null when there is no such process. */
export function readProcessWithPs(pid: number): ProcessInfo | null {
  let output: string;
  try {
    output = lazyRequire('node:child_process').execFileSync(
      'ps',
      [...PS_COLUMNS.flatMap((column) => ['-o', `${column}=`]), '-p', String(pid)],
      {
        encoding: 'utf8',
        env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: PS_TIMEOUT_MS,
      },
    );
  } catch (error) {
    // ps exits 1 when no process has that pid.
    if ((error as { status?: number | null }).status === 1) {
      return null;
    }
    throw new Error(`Could not read process ${pid} with ps: ${(error as Error).message}`, { cause: error });
  }
  const line = output.split('\n').find((candidate) => candidate.trim() !== '');
  if (line === undefined) {
    return null;
  }
  const found = parsePsLine(line);
  if (found === null) {
    throw new Error(`Expected a line of ps output, got \`${line.slice(0, 120)}\``);
  }
  return found;
}
