/**
 * The demo `npm start` runs (examples/demo), on a copy: on a shared host another user's demo
 * daemon has the same command line, and the command the README and the demo give to kill the
 * daemon must kill this demo's only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProcess } from '../../src/probes/process-table.js';
import { cronwatch, ROOT, runProcess, waitFor, workspace } from '../support/cli.js';

const DEMO = join(ROOT, 'examples/demo');
/** Long enough for the test, short enough that a daemon a failed test leaves goes by itself. */
const ENV = { DEMO_LIVE_FOR_MS: '120000' };

function alive(pid: number): boolean {
  const entry = readProcess(pid);
  return entry !== null && entry.state !== 'Z';
}

function stop(pid: number | null): void {
  if (pid === null || !alive(pid)) return;
  process.kill(pid, 'SIGKILL');
}

describe('the demo (examples/demo)', () => {
  const ws = workspace('cronwatch-demo-');
  const otherUser = mkdtempSync(join(tmpdir(), 'cronwatch-demo-other-'));
  const pidfile = ws.path('demo-daemon.pid');
  let config: string;
  let other: ChildProcess;
  const started: number[] = [];

  beforeAll(async () => {
    config = ws.writeConfig(readFileSync(join(DEMO, 'cronwatch.yaml'), 'utf8'));
    copyFileSync(join(DEMO, 'demo-daemon.mjs'), ws.path('demo-daemon.mjs'));
    copyFileSync(join(DEMO, 'demo-daemon.mjs'), join(otherUser, 'demo-daemon.mjs'));
    // Another checkout's daemon: `node demo-daemon.mjs`, the command line the pattern finds.
    other = spawn('node', ['demo-daemon.mjs'], {
      cwd: otherUser,
      env: { ...process.env, ...ENV },
      stdio: 'ignore',
    });
    await waitFor(
      () => (existsSync(join(otherUser, 'demo-daemon.pid')) ? true : undefined),
      "the other daemon's pid file",
    );
  });
  afterAll(() => {
    for (const pid of started) stop(pid);
    stop(other.pid ?? null);
    ws.remove();
    rmSync(otherUser, { recursive: true, force: true });
  });

  it("starts its own daemon though another checkout's runs, and the kill it advises stops only its own", async () => {
    const first = await cronwatch(['check', '--config', config], { env: ENV });
    expect(first.code).toBe(0);
    const pid = Number(readFileSync(pidfile, 'utf8'));
    started.push(pid);
    expect(pid).not.toBe(other.pid);
    expect(first.stderr).toContain(`restarted, new pid ${pid}`);

    const kill = await runProcess('sh', ['-c', 'kill $(cat demo-daemon.pid)'], { cwd: ws.dir });
    expect(kill.code).toBe(0);
    await waitFor(() => (alive(pid) ? undefined : true), 'the demo daemon to stop');
    expect(alive(other.pid!)).toBe(true);

    const again = await cronwatch(['check', '--config', config], { env: ENV });
    expect(again.code).toBe(0);
    const restarted = Number(readFileSync(pidfile, 'utf8'));
    started.push(restarted);
    expect(again.stderr).toContain(`pid ${pid} from ${pidfile} is not running`);
    expect(again.stderr).toContain(`restarted, new pid ${restarted}`);
    expect(alive(other.pid!)).toBe(true);
  });
});
