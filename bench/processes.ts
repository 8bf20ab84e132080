/**
 * The bench's own processes: cheap sleepers to watch, found and killed by a marker unique to one
 * bench run that is in each one's command line.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Sleepers end by themselves after this long, so that a bench killed before its clean-up leaves nothing. */
const SLEEPER_LIFETIME_S = 30 * 60;
const POLL_MS = 50;

/**
 * Starts sleepers `from` to `to - 1`, whose command lines are `<prefix><i> <seconds>`: `sleep`
 * with its argv[0] set to the marked name, about 1 MB each, so a thousand fit on a small VPS.
 */
export function spawnSleepers(prefix: string, from: number, to: number): void {
  for (let index = from; index < to; index += 1) {
    spawn('sleep', [String(SLEEPER_LIFETIME_S)], { argv0: `${prefix}${index}`, stdio: 'ignore' }).unref();
  }
}

/** Live pids (zombies left out) whose command line contains `marker`. */
export function pidsWith(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isSafeInteger(pid) || pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(marker)) pids.push(pid);
    } catch {
      // It ended while we looked.
    }
  }
  return pids;
}

/** Polls until `count` processes carry `marker`, or fails after `timeoutMs`. */
export async function waitForCount(marker: string, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let found = pidsWith(marker).length; found !== count; found = pidsWith(marker).length) {
    if (Date.now() > deadline) {
      throw new Error(`Expected ${count} processes marked ${marker} within ${timeoutMs} ms, found ${found}`);
    }
    await sleep(POLL_MS);
  }
}

/** SIGKILLs every process whose command line carries `marker`; the marker is this run's alone. */
export function killMarked(marker: string): void {
  for (const pid of pidsWith(marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
