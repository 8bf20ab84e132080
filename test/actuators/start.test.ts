import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { childEnv } from '../../src/actuators/child-env.js';
import { execSimple, type StartRequest, startTarget, tailLines } from '../../src/actuators/start.js';
import type { ActionOutcome } from '../../src/core/types.js';
import { readStat } from '../../src/probes/process-table.js';
import { pidsOf } from '../support/cli.js';
import { DAEMON, isRunning, Spawned, START_AND_EXIT, waitFor } from './helpers.js';

const spawned = new Spawned();
afterEach(() => spawned.cleanup());

/** Short, since every start in these tests either lives on or fails at once. */
const GRACE_MS = 300;

/** A word unique to one start, in its command line and its match, so parallel tests never meet. */
function uniqueMarker(): string {
  return `cw-start-${randomUUID().slice(0, 8)}`;
}

/** The daemon fixture in `mode`, marked; the request's match finds it by the marker. */
async function request(
  overrides: Partial<StartRequest> = {},
  marker = uniqueMarker(),
): Promise<StartRequest> {
  const dir = await spawned.tempDir();
  return {
    command: `${process.execPath} ${DAEMON} print ${marker}`,
    cwd: dir,
    env: {},
    logPath: join(dir, 'logs', 'target.log'),
    startGraceMs: GRACE_MS,
    match: `${marker}\\b`,
    pidfile: null,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: 2000,
    ...overrides,
  };
}

/** The pid of the process `pid` is a child of. */
function parentOf(pid: number): number {
  return readStat(pid)!.ppid;
}

/** Tracks a started target for cleanup and narrows the outcome. */
function started(outcome: ActionOutcome): Extract<ActionOutcome, { kind: 'started' }> {
  if (outcome.kind !== 'started') throw new Error(`expected started, got ${JSON.stringify(outcome)}`);
  spawned.track(outcome.pid);
  return outcome;
}

const thirtyLinesThenExit3 = 'i=1; while [ $i -le 30 ]; do echo "line $i"; i=$((i + 1)); done; exit 3';

describe('actuators', () => {
  describe('execSimple()', () => {
    it('execs a simple command and leaves shell syntax to the shell', () => {
      expect(execSimple('node bot.js --port 80')).toBe('exec node bot.js --port 80');
      expect(execSimple('"$HOME/bin/bot" -v')).toBe('exec "$HOME/bin/bot" -v');
      expect(execSimple('exitwatch --once')).toBe('exec exitwatch --once');
      for (const command of [
        'exit 3',
        'cd app',
        'set -e',
        ': nothing',
        '. ./env.sh',
        'command -v node',
        '! false',
        'cd app && node a.js',
        'a; b',
        'a | b',
        'PORT=1 node a.js',
        'node a.js > out',
        'if x; then y; fi',
      ]) {
        expect(execSimple(command)).toBe(command);
      }
    });
  });

  describe('childEnv()', () => {
    it("keeps cronwatch's secrets from the target and adds the target's env", () => {
      process.env.CRONWATCH_TEST_SECRET = 'shh';
      try {
        const env = childEnv({ MODE: 'prod' }, ['CRONWATCH_TEST_SECRET']);
        expect(env.CRONWATCH_TEST_SECRET).toBeUndefined();
        expect(env.MODE).toBe('prod');
        expect(env.PATH).toBe(process.env.PATH);
      } finally {
        delete process.env.CRONWATCH_TEST_SECRET;
      }
    });
  });

  describe('startTarget()', () => {
    it('starts a daemon in a session of its own, with its output appended to the log', async () => {
      const req = await request({ env: { GREETING: 'hello' } });
      const outcome = started(await startTarget(req));
      expect(isRunning(outcome.pid)).toBe(true);
      const stat = readStat(outcome.pid)!;
      expect(stat.sid).toBe(outcome.pid);
      expect(stat.pgid).toBe(outcome.pid);
      // A simple command is exec'd by the shell: the pid is the program's own.
      expect(outcome.identity).toMatchObject({ pid: outcome.pid, cmdline: req.command });
      expect(outcome.identity.startTicks).toBe(stat.startTicks);
      await waitFor('two ticks in the log', async () => /tick 2\n/.test(await readFile(req.logPath, 'utf8')));
      const log = await readFile(req.logPath, 'utf8');
      expect(log.startsWith('ready\ntick 1\n')).toBe(true);
    });

    it('appends to an existing log and passes env to the command', async () => {
      const marker = uniqueMarker();
      const req = await request(
        {
          command: `echo "$GREETING from $(pwd)"; exec ${process.execPath} ${DAEMON} trap ${marker}`,
          env: { GREETING: 'hi' },
        },
        marker,
      );
      await mkdir(dirname(req.logPath));
      await writeFile(req.logPath, 'earlier run\n');
      started(await startTarget(req));
      await waitFor('the daemon to be ready', async () =>
        (await readFile(req.logPath, 'utf8')).endsWith('ready\n'),
      );
      expect(await readFile(req.logPath, 'utf8')).toBe(`earlier run\nhi from ${req.cwd}\nready\n`);
    });

    it('keeps running after the process that started it has exited', async () => {
      const req = await request();
      const parent = spawn(process.execPath, ['--import', 'tsx', START_AND_EXIT, JSON.stringify(req)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      parent.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
      });
      const code = await new Promise<number | null>((resolve) => parent.once('exit', resolve));
      expect(code).toBe(0);
      const outcome = started(JSON.parse(output) as ActionOutcome);
      expect(isRunning(parent.pid!)).toBe(false);
      expect(isRunning(outcome.pid)).toBe(true);
      expect(readStat(outcome.pid)!.ppid).not.toBe(parent.pid);
      // Still writing: alive and working, not merely present.
      const before = (await readFile(req.logPath, 'utf8')).length;
      await waitFor('more log output', async () => (await readFile(req.logPath, 'utf8')).length > before);
    });

    it('reports a start that exits within the grace, with its exit code and the last 20 lines', async () => {
      const req = await request({ command: thirtyLinesThenExit3, startGraceMs: 10_000 });
      const outcome = await startTarget(req);
      expect(outcome).toEqual({
        kind: 'start_failed',
        exitCode: 3,
        signal: null,
        error: null,
        logTail: Array.from({ length: 20 }, (_, index) => `line ${index + 11}`),
      });
    });

    it('reports only what this start wrote, not an earlier run’s output', async () => {
      const req = await request({ command: 'echo only this; exit 1' });
      await startTarget({ ...req, command: 'echo earlier; exit 0' });
      const outcome = await startTarget({ ...req, startGraceMs: 5_000 });
      expect(outcome).toMatchObject({ kind: 'start_failed', exitCode: 1, logTail: ['only this'] });
    });

    it('reports a start killed by a signal', async () => {
      const req = await request({ command: 'kill -KILL $$', startGraceMs: 5_000 });
      expect(await startTarget(req)).toMatchObject({
        kind: 'start_failed',
        exitCode: null,
        signal: 'SIGKILL',
      });
    });

    it("reports the target's pid, not the shell's, when a shell stays in front of it", async () => {
      const marker = uniqueMarker();
      const req = await request(
        { command: `cd .. && ${process.execPath} ${DAEMON} trap ${marker}; echo exited` },
        marker,
      );
      const outcome = started(await startTarget(req));
      expect(outcome.identity.cmdline).toBe(`${process.execPath} ${DAEMON} trap ${marker}`);
      const shell = readStat(parentOf(outcome.pid))!;
      expect(shell.comm).toBe('sh');
      expect(shell.pgid).toBe(readStat(outcome.pid)!.pgid);
    });

    it('finds the target of a command that daemonizes and exits 0, by its match', async () => {
      const marker = uniqueMarker();
      const req = await request({ command: `(${process.execPath} ${DAEMON} trap ${marker} &)` }, marker);
      const outcome = started(await startTarget(req));
      expect(isRunning(outcome.pid)).toBe(true);
      expect(outcome.identity.cmdline).toBe(`${process.execPath} ${DAEMON} trap ${marker}`);
      // The daemon's parent, the subshell, is gone: nothing of the start command is left.
      expect(parentOf(outcome.pid)).not.toBe(outcome.pid);
      expect(readStat(parentOf(outcome.pid))?.comm).not.toBe('sh');
    });

    it('finds the target of a command that daemonizes by the pid file it writes', async () => {
      const marker = uniqueMarker();
      const dir = await spawned.tempDir();
      const pidfile = join(dir, 'daemon.pid');
      const req = await request(
        {
          command: `${process.execPath} ${DAEMON} trap ${marker} & echo $! > ${pidfile}`,
          match: null,
          pidfile,
        },
        marker,
      );
      const outcome = started(await startTarget(req));
      expect(outcome.pid).toBe(Number((await readFile(pidfile, 'utf8')).trim()));
      expect(outcome.identity.cmdline).toContain(marker);
    });

    it('fails a command that exits 0 when no target appears, saying so, with its log tail', async () => {
      const req = await request({ command: 'echo "configured nothing"; exit 0' });
      const outcome = await startTarget(req);
      expect(outcome).toEqual({
        kind: 'start_failed',
        exitCode: null,
        signal: null,
        error: `the start command exited 0 but no new process was found within its start grace of 300ms: no process matches /${req.match}/`,
        logTail: ['configured nothing'],
      });
    });

    it('fails a daemonized target that dies within the grace, with its log tail', async () => {
      const marker = uniqueMarker();
      // A shell, not node: it must die well within the grace even on a loaded machine.
      const dies = `sh -c 'echo "cannot bind"; exit 1' ${marker}`;
      const req = await request({ command: `(${dies} &)`, startGraceMs: 1500 }, marker);
      const outcome = await startTarget(req);
      expect(outcome).toMatchObject({
        kind: 'start_failed',
        exitCode: null,
        error: expect.stringContaining('the start command exited 0 but no new process was found'),
        logTail: ['cannot bind'],
      });
    });

    it('fails a foreground command that its target never shows up in, and stops it', async () => {
      const req = await request({ match: uniqueMarker() });
      const outcome = await startTarget(req);
      expect(outcome).toMatchObject({
        kind: 'start_failed',
        error: expect.stringMatching(
          /^the start command is still running \(pid (\d+)\) but no new process was found within its start grace of 300ms: no process matches \/[^/]+\/; stopped what it left running \(SIGTERM to process group \1\), so that the next run does not start another copy$/,
        ),
      });
      const pid = Number(/pid (\d+)/.exec((outcome as { error: string }).error)![1]);
      spawned.track(pid);
      expect(isRunning(pid)).toBe(false);
    });

    it('stops what a daemonizing start left in its process group when its target is not found', async () => {
      const marker = uniqueMarker();
      const req = await request(
        {
          command: `(${process.execPath} ${DAEMON} print ${marker} &)`,
          match: uniqueMarker(),
          startGraceMs: 1000,
        },
        marker,
      );
      const outcome = await startTarget(req);
      expect(outcome).toMatchObject({
        kind: 'start_failed',
        error: expect.stringMatching(
          /^the start command exited 0 but no new process was found .*; stopped what it left running \(SIGTERM to process group \d+\)/,
        ),
      });
      const left = pidsOf(marker);
      for (const pid of left) spawned.track(pid);
      expect(left).toEqual([]);
    });

    it('never takes a process that ran before the start for the started target', async () => {
      const marker = uniqueMarker();
      // Ready, node has started up: its start time is some clock ticks (10 ms each) behind. A
      // process begun in the very tick of the start's shell could not be told from the start's.
      await spawned.daemon('trap', marker);
      const req = await request({ command: 'exit 0' }, marker);
      expect(await startTarget(req)).toMatchObject({
        kind: 'start_failed',
        error: expect.stringContaining('no new process was found'),
      });
    });

    it('reports the exit code of a shell builtin, not 127', async () => {
      const req = await request({ command: 'exit 3' });
      expect(await startTarget(req)).toMatchObject({ kind: 'start_failed', exitCode: 3 });
    });

    it('gives each of two targets started side by side its own process, though one pattern finds both', async () => {
      const marker = uniqueMarker();
      const [broad, narrow] = await Promise.all([
        request({ command: `${process.execPath} ${DAEMON} trap ${marker}; echo exited`, match: marker }),
        request({
          command: `${process.execPath} ${DAEMON} trap ${marker} --queue; echo exited`,
          match: `${marker} --queue`,
        }),
      ]);
      const [first, second] = await Promise.all([startTarget(broad!), startTarget(narrow!)]);
      expect(started(first!).identity.cmdline).not.toContain('--queue');
      expect(started(second!).identity.cmdline).toContain('--queue');
    });

    it('reports a missing cwd, naming the path', async () => {
      const req = await request();
      const missing = join(req.cwd, 'no', 'such', 'dir');
      const outcome = await startTarget({ ...req, cwd: missing });
      expect(outcome).toMatchObject({ kind: 'start_failed', error: expect.stringContaining(missing) });
    });

    it('reports a log that cannot be opened, naming the path', async () => {
      const req = await request();
      await writeFile(join(req.cwd, 'file'), '');
      const logPath = join(req.cwd, 'file', 'target.log');
      const outcome = await startTarget({ ...req, logPath });
      expect(outcome).toMatchObject({ kind: 'start_failed', error: expect.stringContaining(logPath) });
    });

    it('runs starts in parallel, one failing without holding back the others', async () => {
      const requests = await Promise.all([
        request(),
        request({ command: thirtyLinesThenExit3, startGraceMs: 10_000 }),
        request(),
      ]);
      const outcomes = await Promise.all(requests.map((req) => startTarget(req)));
      const [first, failed, third] = outcomes;
      const pids = [started(first!).pid, started(third!).pid];
      expect(failed).toMatchObject({ kind: 'start_failed', exitCode: 3 });
      expect(new Set(pids).size).toBe(2);
      for (const pid of pids) expect(isRunning(pid)).toBe(true);
    });
  });

  describe('tailLines()', () => {
    it('returns the last n lines without their line ends', async () => {
      const dir = await spawned.tempDir();
      const path = join(dir, 'log');
      await writeFile(path, Array.from({ length: 30 }, (_, index) => `line ${index + 1}\r\n`).join(''));
      expect(await tailLines(path, 3)).toEqual(['line 28', 'line 29', 'line 30']);
    });

    it('keeps a last line that has no line end', async () => {
      const dir = await spawned.tempDir();
      const path = join(dir, 'log');
      await writeFile(path, 'a\nb\nc');
      expect(await tailLines(path, 2)).toEqual(['b', 'c']);
      expect(await tailLines(path, 10)).toEqual(['a', 'b', 'c']);
    });

    it('reads lines across chunk boundaries of a large file', async () => {
      const dir = await spawned.tempDir();
      const path = join(dir, 'log');
      const lines = Array.from({ length: 20_000 }, (_, index) => `${index} ${'é'.repeat(index % 50)}`);
      await writeFile(path, `${lines.join('\n')}\n`);
      expect(await tailLines(path, 500)).toEqual(lines.slice(-500));
    });

    it('returns nothing for a missing or empty file', async () => {
      const dir = await spawned.tempDir();
      expect(await tailLines(join(dir, 'missing'), 20)).toEqual([]);
      await writeFile(join(dir, 'empty'), '');
      expect(await tailLines(join(dir, 'empty'), 20)).toEqual([]);
    });

    it('considers only the bytes from fromByte on', async () => {
      const dir = await spawned.tempDir();
      const path = join(dir, 'log');
      await writeFile(path, 'old 1\nold 2\nnew 1\n');
      expect(await tailLines(path, 20, 'old 1\nold 2\n'.length)).toEqual(['new 1']);
    });
  });
});
