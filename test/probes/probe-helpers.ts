/** Real processes and temp dirs for the probe tests, and the cleanup of both. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessInfo } from '../../src/core/types.js';
import { readProcess, scanProcessTable } from '../../src/probes/process-table.js';

export const SLEEPER = fileURLToPath(new URL('../fixtures/probe-sleeper.mjs', import.meta.url));

const POLL_INTERVAL_MS = 20;
const DEFAULT_DEADLINE_MS = 10_000;

const children: { readonly child: ChildProcess; readonly detached: boolean }[] = [];
const orphanPids: number[] = [];
const tempDirs: string[] = [];

let markers = 0;

/** A string no other process on the host has in its command line. */
export function uniqueMarker(label: string): string {
  markers += 1;
  return `cronwatch-probe-${label}-${process.pid}-${markers}-${Math.random().toString(36).slice(2, 8)}`;
}

export function makeTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cronwatch-probes-'));
  tempDirs.push(dir);
  return dir;
}

/** Starts a child that is killed by `cleanUp`; detached, with its whole process group. */
export function spawnTracked(
  command: string,
  args: readonly string[],
  options: { readonly detached?: boolean } = {},
): ChildProcess {
  const detached = options.detached ?? false;
  const child = spawn(command, args, { stdio: 'ignore', detached });
  children.push({ child, detached });
  return child;
}

/** Starts the idle fixture with `marker` in its argv. */
export function spawnSleeper(marker: string, options: { readonly detached?: boolean } = {}): ChildProcess {
  return spawnTracked(process.execPath, [SLEEPER, marker], options);
}

/**
 * Starts the idle fixture as a grandchild whose parent exits at once, so it is no descendant of
 * this process: an unrelated process, as far as `excludedPids` can tell.
 */
export async function spawnOrphanSleeper(marker: string): Promise<number> {
  const shell = spawn(
    '/bin/sh',
    ['-c', '"$0" "$1" "$2" </dev/null >/dev/null 2>&1 & echo $!', process.execPath, SLEEPER, marker],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let output = '';
  shell.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    shell.on('error', reject);
    shell.on('close', () => resolve());
  });
  const pid = Number(output.trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    throw new Error(`Expected the orphan's pid from sh, got \`${output}\``);
  }
  orphanPids.push(pid);
  return pid;
}

/** Kills every process started through these helpers and removes the temp dirs. */
export function cleanUp(): void {
  for (const { child, detached } of children.splice(0)) {
    if (child.pid === undefined) {
      continue;
    }
    try {
      // The group outlives its leader: a detached child's own children are killed even after it exited.
      if (detached) {
        process.kill(-child.pid, 'SIGKILL');
      } else if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
      }
    } catch {
      // Already gone.
    }
  }
  for (const pid of orphanPids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const dir of tempDirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Polls `probe` until it returns a value other than null or undefined, or the deadline passes. */
export async function waitFor<T>(
  what: string,
  probe: () => T | null | undefined | Promise<T | null | undefined>,
  deadlineMs = DEFAULT_DEADLINE_MS,
): Promise<T> {
  const giveUpAt = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined) {
      return value;
    }
    if (Date.now() > giveUpAt) {
      throw new Error(`Gave up after ${deadlineMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

/**
 * Waits until the process table shows `pid` with `marker` in its command line. With `settled`,
 * also until its memory is counted: the kernel's RSS counters of a process that exec'd a moment
 * ago can still read 0.
 */
export function waitForProcess(
  pid: number,
  marker: string,
  options: { readonly settled?: boolean } = {},
): Promise<ProcessInfo> {
  return waitFor(`process ${pid} with ${marker}${options.settled ? ' and some memory' : ''}`, async () =>
    (await scanProcessTable()).find(
      (entry) =>
        entry.pid === pid && entry.cmdline.includes(marker) && (!options.settled || entry.rssBytes > 0),
    ),
  );
}

/** Waits until `child` has exited and been reaped. */
export async function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  await new Promise((resolve) => child.once('exit', resolve));
}

/** A pid that was just used and now names no process. */
export async function deadPid(): Promise<number> {
  const child = spawnTracked('/bin/sh', ['-c', 'exit 0']);
  await waitForExit(child);
  const pid = child.pid!;
  await waitFor(`pid ${pid} to vanish`, () => (readProcess(pid) === null ? true : null));
  return pid;
}

/**
 * A zombie: `sh` forks `sleep 0`, then execs `sleep 60`, which never reaps the child it did not
 * know it had. Returns the zombie's pid and the parent's, to be killed by `cleanUp`.
 */
export async function spawnZombie(): Promise<{ readonly zombiePid: number; readonly parentPid: number }> {
  const parent = spawnTracked('/bin/sh', ['-c', 'sleep 0 & exec sleep 60']);
  const parentPid = parent.pid!;
  const zombie = await waitFor(`a zombie child of ${parentPid}`, async () =>
    (await scanProcessTable()).find((entry) => entry.ppid === parentPid && entry.state === 'Z'),
  );
  return { zombiePid: zombie.pid, parentPid };
}
