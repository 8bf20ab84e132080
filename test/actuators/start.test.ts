import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  childEnv,
  execSimple,
  type StartRequest,
  startTarget,
  tailLines,
} from '../../src/actuators/start.js';
import type { ActionOutcome } from '../../src/core/types.js';
import { readStat } from '../../src/probes/process-table.js';
import { DAEMON, isRunning, Spawned, START_AND_EXIT, waitFor } from './helpers.js';

const spawned = new Spawned();
afterEach(() => spawned.cleanup());

/** Short, since every start in these tests either lives on or fails at once. */
const GRACE_MS = 300;

async function request(overrides: Partial<StartRequest> = {}): Promise<StartRequest> {
  const dir = await spawned.tempDir();
  return {
    command: `${process.execPath} ${DAEMON} print`,
    cwd: dir,
    env: {},
    logPath: join(dir, 'logs', 'target.log'),
    startGraceMs: GRACE_MS,
    ...overrides,
  };
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
      for (const command of [
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
      const req = await request({
        command: 'echo "$GREETING from $(pwd)"; exec sleep 60',
        env: { GREETING: 'hi' },
      });
      await mkdir(dirname(req.logPath));
      await writeFile(req.logPath, 'earlier run\n');
      started(await startTarget(req));
      await waitFor('the greeting', async () => (await readFile(req.logPath, 'utf8')).includes('hi from'));
      expect(await readFile(req.logPath, 'utf8')).toBe(`earlier run\nhi from ${req.cwd}\n`);
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
      await startTarget({ ...req, command: 'echo earlier; exit 0', startGraceMs: 5_000 });
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
