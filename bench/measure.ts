/**
 * Running one command and measuring it: wall time from a monotonic clock around the run, CPU
 * time (user + system, the command and everything it waited for) from this process's own
 * child accounting, and, in separate runs, peak resident memory.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export interface Run {
  readonly wallMs: number;
  /** When the spawn began and when the child was reaped, epoch ms (for a profiled child's own clock). */
  readonly startedEpochMs: number;
  readonly endedEpochMs: number;
  readonly cpuMs: number;
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Command {
  readonly file: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/** USER_HZ: the unit of the CPU times in `/proc/<pid>/stat`. */
export const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

// Fields of /proc/<pid>/stat after the command name's closing parenthesis: proc(5) number - 3.
const CUTIME = 13;
const CSTIME = 14;

/**
 * CPU time of every child this process has waited for, in ms. Node gives no child rusage, but
 * the kernel adds each reaped child's CPU time (its own and its waited-for children's, so a
 * shell's `pgrep`s count) to the parent's cutime/cstime: read before and after one run, the
 * difference is that run's CPU. The kernel keeps these in nanoseconds and truncates them to
 * clock ticks only when they are read, so one run's figure is within a tick either way and a
 * mean over several runs has no bias.
 */
function childCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[CUTIME]) + Number(fields[CSTIME])) * 1000) / TICKS_PER_SECOND;
}

const running = new Set<ChildProcess>();

/** Kills the commands being measured: a `check` left running could start targets after the clean-up. */
export function killRunning(): void {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * Runs `command` to its end; stdin closed, output captured. Not with `spawnSync`: the event loop
 * must stay free, or tsx, which gives its child 60 ms to show it handles a Ctrl-C, kills the bench
 * before it can kill what it started.
 */
export function run(command: Command): Promise<Run> {
  const cpuBefore = childCpuMs();
  const startedEpochMs = performance.timeOrigin + performance.now();
  const started = process.hrtime.bigint();
  const child = spawn(command.file, command.args, {
    cwd: command.cwd,
    env: command.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    // 'close': the child has been reaped, so its CPU time is in this process's accounting.
    child.once('close', (status) => {
      running.delete(child);
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      const endedEpochMs = performance.timeOrigin + performance.now();
      resolve({
        wallMs,
        startedEpochMs,
        endedEpochMs,
        cpuMs: childCpuMs() - cpuBefore,
        status,
        stdout,
        stderr,
      });
    });
  });
}

/** Peak resident memory of one run of a node `command`, in bytes, from `fixtures/peak-rss.mjs`. */
export async function peakRssBytes(
  command: Command,
  scratchDir: string,
): Promise<{ readonly run: Run; readonly bytes: number }> {
  const file = join(scratchDir, 'peak-rss');
  rmSync(file, { force: true });
  const hook = join(import.meta.dirname, 'fixtures/peak-rss.mjs');
  const measured = await run({
    ...command,
    args: ['--import', hook, ...command.args],
    env: { ...command.env, CRONWATCH_BENCH_RSS_FILE: file },
  });
  return { run: measured, bytes: Number(readFileSync(file, 'utf8')) * 1024 };
}

/** What a series of runs of one command cost. */
export interface Series {
  readonly runs: number;
  /** Median wall time. */
  readonly wallMs: number;
  /** Mean CPU time per run: one run's figure is only good to a clock tick (10 ms), a mean is finer. */
  readonly cpuMs: number;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarize(runs: readonly Run[]): Series {
  return {
    runs: runs.length,
    wallMs: median(runs.map((one) => one.wallMs)),
    cpuMs: runs.reduce((sum, one) => sum + one.cpuMs, 0) / runs.length,
  };
}
