import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const FIXTURES = join(ROOT, 'test/fixtures');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Added to this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Default: the repository root. */
  readonly cwd?: string;
}

/** Runs `command` to its end, stdin closed, and collects its exit code and output. */
export function runProcess(command: string, args: readonly string[], options: RunOptions = {}) {
  return new Promise<CliResult>((resolvePromise, reject) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/**
 * Runs the real CLI in its own process (`node --import tsx scripts/cronwatch.ts`), as cron
 * would: a separate process tree, so that what it starts is not its test runner's child.
 */
export function cronwatch(args: readonly string[], options: RunOptions = {}) {
  return runProcess(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'scripts/cronwatch.ts'), ...args],
    options,
  );
}

/** A private temp dir (0700, as cronwatch requires) with a helper to write its config. */
export function workspace(prefix = 'cronwatch-e2e-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  return {
    dir,
    path: (name: string) => join(dir, name),
    writeConfig(text: string, name = 'cronwatch.yaml'): string {
      const file = join(dir, name);
      writeFileSync(file, text, { mode: 0o600 });
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolveSleep) => setTimeout(resolveSleep, 50));
  }
}

/** Live pids whose command line contains `marker`, leaving out the shells that only mention it. */
export function pidsOf(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ').pop()?.[0];
      if (cmdline.includes(marker) && !/^(\/bin\/)?(ba|da)?sh -c/.test(cmdline) && state !== 'Z')
        pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** SIGKILLs every process whose command line contains `marker`. */
export function killAll(marker: string): void {
  for (const pid of pidsOf(marker)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
