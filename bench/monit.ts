/**
 * Monit, where installed, watching the same targets: the resident alternative's CPU per cycle
 * and memory, for reference.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseStatLine } from '../src/probes/process-table.js';
import { TICKS_PER_SECOND } from './measure.js';

export interface MonitTarget {
  readonly name: string;
  /** An extended regular expression on the command line, as in cronwatch's `match`. */
  readonly match: string;
}

/** Monit's cost per cycle, or that its cycles were too slow to measure in the bench's time. */
export type MonitCost =
  | {
      readonly kind: 'measured';
      readonly cycles: number;
      readonly cpuMsPerCycle: number;
      readonly rssBytes: number;
    }
  | { readonly kind: 'too_slow'; readonly waitedMs: number };

/** Monit's cycle: as short as it goes, so a measurement takes seconds. */
const CYCLE_S = 1;
/** Cycles measured: at least this many, over at least `windowMs`. */
const MIN_CYCLES = 2;
/**
 * How long to wait for the cycles measured. Until it knows a `matching` target's pid, monit scans
 * /proc for it alone, so its first cycle over 1,000 such targets takes over a minute.
 */
const CYCLES_TIMEOUT_MS = 20_000;
const POLL_MS = 100;
/** Matches nothing: monit logs it as not running once per cycle, last, which marks each cycle's end. */
const SENTINEL = 'cronwatch-bench-sentinel';

/** The `monit` on PATH, or null. */
export function findMonit(): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'monit');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

export function monitVersion(monit: string): string {
  const said = execFileSync(monit, ['-V'], { encoding: 'utf8' });
  return /version (\S+)/.exec(said)?.[1] ?? 'unknown';
}

function cpuTicks(pid: number): number {
  const stat = parseStatLine(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  return stat.utimeTicks + stat.stimeTicks;
}

function rssBytes(pid: number): number {
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1];
  return Number(kib) * 1024;
}

function cyclesLogged(log: string): number {
  if (!existsSync(log)) return 0;
  return readFileSync(log, 'utf8').split(`'${SENTINEL}' process is not running`).length - 1;
}

/**
 * Runs monit in the foreground over `targets` (no start programs: it only looks). After its
 * first cycle, measures its CPU over whole cycles, at least `windowMs` and two of them; returns
 * that per cycle, and its resident memory. Its control file is named after `marker`, so that a
 * clean-up by marker finds monit too.
 */
export async function measureMonit(
  monit: string,
  dir: string,
  marker: string,
  targets: readonly MonitTarget[],
  windowMs: number,
): Promise<MonitCost> {
  const rc = join(dir, `${marker}.monitrc`);
  const log = join(dir, 'monit.log');
  const lines = [
    `set daemon ${CYCLE_S}`,
    `set logfile ${log}`,
    `set pidfile ${join(dir, 'monit.pid')}`,
    `set idfile ${join(dir, 'monit.id')}`,
    `set statefile ${join(dir, 'monit.state')}`,
    ...[...targets, { name: SENTINEL, match: `${SENTINEL}-matches-nothing` }].map(
      (target) => `check process ${target.name} matching "${target.match}"`,
    ),
  ];
  // Monit refuses a control file others can read.
  writeFileSync(rc, `${lines.join('\n')}\n`, { mode: 0o600 });
  const child = spawn(monit, ['-I', '-c', rc], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const pid = child.pid!;
  /** Polls until `count` cycles are logged and `minMs` has passed: the number logged, or null at the timeout. */
  const cyclesAfter = async (count: number, minMs: number): Promise<number | null> => {
    const started = Date.now();
    for (;;) {
      const logged = cyclesLogged(log);
      if (logged >= count && Date.now() - started >= minMs) return logged;
      if (Date.now() - started > CYCLES_TIMEOUT_MS) return null;
      await sleep(POLL_MS);
    }
  };
  try {
    // From the end of its first cycle (start-up done) to the end of a later one: whole cycles.
    const first = await cyclesAfter(1, 0);
    if (first === null) return { kind: 'too_slow', waitedMs: CYCLES_TIMEOUT_MS };
    const ticksBefore = cpuTicks(pid);
    const last = await cyclesAfter(first + MIN_CYCLES, windowMs);
    if (last === null) return { kind: 'too_slow', waitedMs: CYCLES_TIMEOUT_MS };
    const ticks = cpuTicks(pid) - ticksBefore;
    const cycles = last - first;
    return {
      kind: 'measured',
      cycles,
      cpuMsPerCycle: (ticks * 1000) / TICKS_PER_SECOND / cycles,
      rssBytes: rssBytes(pid),
    };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}
