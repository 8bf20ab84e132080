import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { readStat } from '../../src/probes/process-table.js';

/** The daemon stand-in; see its header for the modes. */
export const DAEMON = fileURLToPath(new URL('../fixtures/act-daemon.mjs', import.meta.url));
export const START_AND_EXIT = fileURLToPath(new URL('../fixtures/act-start-and-exit.ts', import.meta.url));

/** Bound on every wait in these tests: generous, since two cores are shared with other suites. */
export const WAIT_MS = 15_000;

/** Polls `condition` until it holds; throws naming `what` after {@link WAIT_MS}. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Whether `pid` is a running (non-zombie) process. */
export function isRunning(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== null && stat.state !== 'Z';
}

/** Pids (and groups) a test started, killed after it whatever happened. */
export class Spawned {
  /** Group leader pid → its start time, so that a pid reused meanwhile is never killed. */
  readonly #groups = new Map<number, number | null>();
  readonly #dirs: string[] = [];

  /** Remembers `pid` as the leader of a group to kill in {@link cleanup}. */
  track(pid: number): number {
    this.#groups.set(pid, readStat(pid)?.startTicks ?? null);
    return pid;
  }

  async tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'cronwatch-act-'));
    this.#dirs.push(dir);
    return dir;
  }

  /**
   * Starts the daemon fixture (`mode`, then `args`, e.g. a marker for its command line) in a
   * process group of its own and waits for its `ready` line; returns the process and the words
   * after `ready`.
   */
  async daemon(
    mode: string,
    ...args: string[]
  ): Promise<{ child: ChildProcessByStdio<null, Readable, null>; words: string[] }> {
    const child = spawn(process.execPath, [DAEMON, mode, ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (child.pid === undefined) throw new Error('fixture did not start');
    this.track(child.pid);
    const line = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const end = buffered.indexOf('\n');
        if (end >= 0) resolve(buffered.slice(0, end));
      });
      child.once('exit', (code) => reject(new Error(`fixture exited early with ${code}`)));
    });
    return { child, words: line.split(' ').slice(1) };
  }

  /**
   * SIGKILLs every tracked group. Other suites run beside this one and pids wrap quickly, so a
   * leader whose pid now names another process is left alone; a leader gone from the table
   * leaves its group id unusable by anyone else, so what remains of that group is ours.
   */
  async cleanup(): Promise<void> {
    for (const [pgid, startTicks] of this.#groups) {
      if (!Number.isInteger(pgid) || pgid <= 1 || pgid === process.pid) continue;
      const now = readStat(pgid);
      if (now !== null && now.startTicks !== startTicks) continue;
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // Not a group leader, or already gone.
        try {
          if (now !== null) process.kill(pgid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    this.#groups.clear();
    await Promise.all(this.#dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  }
}
