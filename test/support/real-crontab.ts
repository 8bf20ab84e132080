/**
 * Tests that use this user's real crontab and the real cron daemon. The crontab is one per user
 * and the daemon one per machine, shared with every other test file and test run here, so
 * each such test holds a lock across processes for as long as it touches them, saves the
 * crontab first and puts it back after, and stops only a daemon it started itself.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readProcess } from '../../src/probes/process-table.js';
import { acquireLock } from '../../src/store/lock.js';
import { pidsOf, waitFor } from './cli.js';

const LOCK_DIR = join(tmpdir(), 'cronwatch-test-real-crontab');

/**
 * Why this user's crontab cannot be read or written here (a fresh Debian image has no cron);
 * null when the `crontab` command is installed.
 */
export function crontabUnavailable(): string | null {
  return spawnSync('sh', ['-c', 'command -v crontab']).status === 0
    ? null
    : 'no crontab binary installed (apt-get install cron; .ci/run does it as root)';
}

/** Why the real crontab or cron cannot be used here; null when they can. */
export function cronUnavailable(): string | null {
  if (spawnSync('sh', ['-c', 'command -v crontab && command -v cron']).status !== 0) {
    return 'no cron/crontab binary installed (apt-get install cron; .ci/run does it as root)';
  }
  if (process.getuid?.() !== 0) return 'not root: starting the cron daemon needs root';
  return null;
}

/** The crontab as `crontab -l` prints it; null when the user has none. */
export function currentCrontab(): string | null {
  const listed = spawnSync('crontab', ['-l'], { encoding: 'utf8' });
  if (listed.status === 0) return listed.stdout;
  if (/no crontab for/.test(listed.stderr)) return null;
  throw new Error(`crontab -l failed: ${listed.stderr}`);
}

/** Replaces the crontab with `text`, or removes it (null). */
export function setCrontab(text: string | null): void {
  const done =
    text === null
      ? spawnSync('crontab', ['-r'], { encoding: 'utf8' })
      : spawnSync('crontab', ['-'], { input: text, encoding: 'utf8' });
  if (done.status !== 0 && !(text === null && /no crontab for/.test(done.stderr))) {
    throw new Error(`crontab ${text === null ? '-r' : '-'} failed: ${done.stderr}`);
  }
}

export interface CrontabLease {
  /** The crontab as it was before the test; put back by `release`. */
  readonly saved: string | null;
  release(): Promise<void>;
}

/** Waits (bounded) for the lock on the real crontab, then saves the crontab. */
export async function leaseCrontab(timeoutMs: number): Promise<CrontabLease> {
  mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lock = await acquireLock(LOCK_DIR, Date.now());
    if (lock.kind === 'acquired') {
      const saved = currentCrontab();
      return {
        saved,
        release: async () => {
          try {
            setCrontab(saved);
          } finally {
            await lock.release();
          }
        },
      };
    }
    if (Date.now() > deadline) throw new Error(`the real crontab stayed locked by pid ${lock.pid}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function cronDaemonPids(): number[] {
  return pidsOf('cron').filter((pid) => {
    const program = readProcess(pid)?.cmdline.split(' ')[0]?.split('/').pop();
    return program === 'cron' || program === 'crond';
  });
}

export interface CronDaemon {
  /** Stops the daemon if this test started it. */
  stop(): Promise<void>;
}

/** Starts Debian's cron (it forks into the background) unless one is running already. */
export async function ensureCronDaemon(): Promise<CronDaemon> {
  if (cronDaemonPids().length > 0) return { stop: async () => undefined };
  const started = spawnSync('cron', [], { encoding: 'utf8' });
  if (started.status !== 0) throw new Error(`cron did not start: ${started.stderr}`);
  const pid = await waitFor(() => cronDaemonPids()[0], 'the cron daemon');
  const identity = readProcess(pid);
  return {
    stop: async () => {
      const now = readProcess(pid);
      // Only the daemon this test started: a reused pid is another process.
      if (now === null || identity === null || now.startTicks !== identity.startTicks) return;
      process.kill(pid, 'SIGTERM');
      await waitFor(
        () => (readProcess(pid) === null || readProcess(pid)?.state === 'Z' ? true : undefined),
        'cron to stop',
      );
    },
  };
}
