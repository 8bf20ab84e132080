/**
 * Start commands that daemonize (fork and exit 0) and start commands that keep a shell in front
 * of the target, through the real CLI and the Bot API stand-in: a start is judged by the target,
 * and the pid reported is the target's.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readProcess } from '../../src/probes/process-table.js';
import { FIXTURES, pidsOf, waitFor } from '../support/cli.js';
import { createScene, type Scene } from './scene.js';

const START_STOP_DAEMON = '/usr/sbin/start-stop-daemon';

/** The path of `program` on PATH, or null. */
function installed(program: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

const REDIS_SERVER = installed('redis-server');

const scenes: Scene[] = [];
const cleanups: (() => void)[] = [];

async function scene(label: string): Promise<Scene> {
  const created = await createScene(label);
  scenes.push(created);
  return created;
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await Promise.all(scenes.splice(0).map((s) => s.cleanup()));
});

/** The one pid carrying the scene's marker, once there is exactly one. */
function onlyPid(s: Scene): Promise<number> {
  return waitFor(() => {
    const pids = pidsOf(s.marker);
    return pids.length === 1 ? pids[0] : undefined;
  }, `exactly one process of ${s.marker}`);
}

/** The daemon fixture with the scene's marker, as a daemonizing command would run it. */
function daemonArgs(s: Scene): string {
  return `${join(FIXTURES, 'cli-daemon.mjs')} ${s.marker}`;
}

/** Runs check once to start the target, then once more: the second run must be silent. */
async function startedOnce(s: Scene): Promise<{ text: string; stdout: string }> {
  const first = await s.run('check');
  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
  const messages = s.api.messages();
  expect(messages).toHaveLength(1);
  const again = await s.run('check');
  expect(again).toEqual({ code: 0, stdout: '', stderr: '' });
  expect(s.api.messages()).toHaveLength(1);
  return { text: messages[0]!.text, stdout: first.stdout };
}

/** Runs check once on a target that cannot start, then once more: no second message. */
async function failedOnce(s: Scene): Promise<string> {
  const first = await s.run('check');
  expect(first.stderr).toBe('');
  expect(first.code).toBe(1);
  const messages = s.api.messages();
  expect(messages).toHaveLength(1);
  const again = await s.run('check');
  expect(again.code).toBe(1);
  expect(s.api.messages()).toHaveLength(1);
  expect(s.api.messages().some((message) => message.text.includes('recovered'))).toBe(false);
  return messages[0]!.text;
}

describe('cronwatch check, starts that daemonize', () => {
  it('takes `(cmd &)` as started once its target runs, and names the target’s pid', async () => {
    const s = await scene('subshell');
    s.configure([{ start: `(${s.daemonCommand()} &)` }]);
    const { text, stdout } = await startedOnce(s);
    const pid = await onlyPid(s);
    expect(text).toContain(`<b>daemon</b> was down, restarted, new pid ${pid}`);
    expect(stdout).toContain(`-> started, pid ${pid}`);
  });

  it.skipIf(!existsSync(START_STOP_DAEMON))(
    `takes Debian's start-stop-daemon --background --make-pidfile as started, by the pid file${existsSync(START_STOP_DAEMON) ? '' : ` (skipped: ${START_STOP_DAEMON} is not installed)`}`,
    async () => {
      const s = await scene('ssd');
      const pidfile = s.path('daemon.pid');
      s.configure([
        {
          match: null,
          start: `${START_STOP_DAEMON} --start --background --make-pidfile --pidfile ${pidfile} --startas ${process.execPath} -- ${daemonArgs(s)}`,
          extra: [`pidfile: ${pidfile}`],
        },
      ]);
      const { text } = await startedOnce(s);
      const pid = await onlyPid(s);
      expect(Number(readFileSync(pidfile, 'utf8').trim())).toBe(pid);
      expect(text).toContain(`<b>daemon</b> was down, restarted, new pid ${pid}`);
    },
  );

  it.skipIf(REDIS_SERVER === null)(
    `takes redis-server --daemonize yes as started, by its pid file${REDIS_SERVER === null ? ' (skipped: redis-server is not installed)' : ''}`,
    async () => {
      const s = await scene('redis');
      const pidfile = s.path('redis.pid');
      cleanups.push(() => {
        // Stop only this test's redis: the pid its pid file names, if it is still that redis.
        const pid = existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8').trim()) : Number.NaN;
        if (readProcess(pid)?.cmdline.includes(s.dir)) process.kill(pid, 'SIGKILL');
      });
      s.configure([
        {
          match: null,
          start: `${REDIS_SERVER} --daemonize yes --port 0 --unixsocket ${s.path('redis.sock')} --pidfile ${pidfile} --dir ${s.dir}`,
          startGrace: '3s',
          extra: [`pidfile: ${pidfile}`],
        },
      ]);
      const { text } = await startedOnce(s);
      const pid = Number(readFileSync(pidfile, 'utf8').trim());
      expect(readProcess(pid)?.cmdline).toContain('redis-server');
      expect(text).toContain(`<b>daemon</b> was down, restarted, new pid ${pid}`);
    },
  );

  it('names the target’s pid, not the shell’s, in the alert and in status', async () => {
    const s = await scene('shell-front');
    mkdirSync(s.path('sub'));
    s.configure([{ start: `cd sub && ${s.daemonCommand()}; echo exited` }]);
    const { text } = await startedOnce(s);
    const pid = await onlyPid(s);
    expect(readProcess(pid)?.cmdline).toBe(s.daemonCommand());
    expect(text).toContain(`new pid ${pid}`);
    const status = await s.run('status', '--json');
    expect(JSON.parse(status.stdout).targets[0]).toMatchObject({ name: 'daemon', state: 'up', pid });
  });

  it('reports the exit code of `exit 3` as 3', async () => {
    const s = await scene('exit3');
    s.configure([{ start: 'exit 3' }]);
    const text = await failedOnce(s);
    expect(text).toContain('<b>daemon</b> is down, restart failed');
    expect(text).toContain('Start failed: exit code 3');
  });

  it('stops a foreground start its match never finds, so that runs do not pile up copies', async () => {
    const s = await scene('wrong-match');
    // The pattern is wrong: the command runs in the foreground and is never found.
    s.configure([{ match: `never-${s.marker}` }]);
    const first = await s.run('check');
    expect(first.code).toBe(1);
    expect(pidsOf(s.marker)).toEqual([]);
    expect(first.stdout).toMatch(
      new RegExp(
        `daemon: down \\(.*\\) -> start failed \\(the start command is still running \\(pid (\\d+)\\) but no new process was found within its start grace of 700ms: no process matches /never-${s.marker}/; stopped what it left running \\(SIGTERM to process group \\1\\), so that the next run does not start another copy\\)`,
      ),
    );
    const [message] = s.api.messages();
    expect(message?.text).toContain('stopped what it left running (SIGTERM to process group');
    const second = await s.run('check');
    expect(second.code).toBe(1);
    expect(pidsOf(s.marker)).toEqual([]);
  });

  it('fails a start whose daemon dies at once, with the log tail', async () => {
    const s = await scene('dies');
    // A shell, not node: it must die well within the grace even on a loaded machine.
    const dies = `sh -c 'echo "cannot bind 127.0.0.1:6380"; exit 1' ${s.marker}`;
    s.configure([{ match: s.marker, start: `(${dies} &)`, startGrace: '2s' }]);
    const text = await failedOnce(s);
    expect(text).toContain('<b>daemon</b> is down, restart failed');
    expect(text).toContain(
      `Start failed: error: the start command exited 0 but no new process was found within its start grace of 2s: no process matches /${s.marker}/`,
    );
    expect(text).toContain('<pre>cannot bind 127.0.0.1:6380</pre>');
  });
});
