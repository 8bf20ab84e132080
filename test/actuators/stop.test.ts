import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSignalGuard } from '../../src/actuators/safety.js';
import { type StopRequest, stopTarget } from '../../src/actuators/stop.js';
import type { ProcessIdentity } from '../../src/core/types.js';
import { readProcess, readStat } from '../../src/probes/process-table.js';
import { isRunning, Spawned, waitFor } from './helpers.js';

const spawned = new Spawned();
afterEach(() => spawned.cleanup());

/** Long enough never to be reached by a process that acts on SIGTERM, even on a loaded machine. */
const PATIENT_TIMEOUT_MS = 20_000;

function identityOf(pid: number): ProcessIdentity {
  const info = readProcess(pid);
  if (info === null) throw new Error(`pid ${pid} is not running`);
  return { pid, startTicks: info.startTicks, startTimeMs: info.startTimeMs, cmdline: info.cmdline };
}

function request(pid: number, overrides: Partial<StopRequest> = {}): StopRequest {
  return {
    identity: identityOf(pid),
    pgid: readStat(pid)!.pgid,
    stopCommand: null,
    stopSignal: 'SIGTERM',
    stopTimeoutMs: PATIENT_TIMEOUT_MS,
    cwd: process.cwd(),
    env: {},
    guard: createSignalGuard(),
    ...overrides,
  };
}

describe('actuators', () => {
  describe('stopTarget()', () => {
    it('stops a daemon that exits on SIGTERM without forcing it', async () => {
      const { child } = await spawned.daemon('trap');
      const result = await stopTarget(request(child.pid!));
      expect(result).toEqual({ kind: 'stopped', forced: false, via: 'signal', note: null });
      expect(isRunning(child.pid!)).toBe(false);
    });

    it('kills a daemon that ignores SIGTERM with SIGKILL once stop_timeout has passed', async () => {
      const { child } = await spawned.daemon('ignore');
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.once('exit', (_, signal) => resolve(signal)),
      );
      const result = await stopTarget(request(child.pid!, { stopTimeoutMs: 300 }));
      expect(result).toEqual({ kind: 'stopped', forced: true, via: 'signal', note: null });
      expect(await exited).toBe('SIGKILL');
    });

    it('stops a daemon that was SIGSTOPped (hung, state T)', async () => {
      const { child } = await spawned.daemon('trap');
      process.kill(child.pid!, 'SIGSTOP');
      await waitFor('state T', () => readStat(child.pid!)?.state === 'T');
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const result = await stopTarget(request(child.pid!));
      expect(result).toMatchObject({ kind: 'stopped', forced: false });
      // Exit code 0: its SIGTERM handler ran, so SIGCONT let it act on the signal.
      expect(await exited).toBe(0);
    });

    it('stops the whole process group: a daemon and the child it forked', async () => {
      const { child, words } = await spawned.daemon('fork');
      const grandchild = Number(words[0]);
      expect(readStat(grandchild)?.pgid).toBe(child.pid);
      const result = await stopTarget(request(child.pid!));
      expect(result).toMatchObject({ kind: 'stopped' });
      expect(isRunning(child.pid!)).toBe(false);
      expect(isRunning(grandchild)).toBe(false);
    });

    it('stops what is left of the group when its leader has already died', async () => {
      const { child, words } = await spawned.daemon('fork');
      const grandchild = Number(words[0]);
      const req = request(child.pid!);
      process.kill(child.pid!, 'SIGKILL');
      await waitFor('the leader to die', () => !isRunning(child.pid!));
      expect(isRunning(grandchild)).toBe(true);
      const result = await stopTarget(req);
      expect(result).toMatchObject({ kind: 'stopped', via: 'signal' });
      expect(isRunning(grandchild)).toBe(false);
    });

    it('signals only the pid of a process that does not lead its group', async () => {
      const { child, words } = await spawned.daemon('fork');
      const grandchild = Number(words[0]);
      const result = await stopTarget(request(grandchild));
      expect(result).toMatchObject({ kind: 'stopped', via: 'signal' });
      expect(isRunning(grandchild)).toBe(false);
      expect(isRunning(child.pid!)).toBe(true);
    });

    it('sends nothing to a reused pid: same pid, another start time', async () => {
      const { child } = await spawned.daemon('trap');
      const real = identityOf(child.pid!);
      const stale: ProcessIdentity = {
        ...real,
        startTicks: real.startTicks! - 1,
        startTimeMs: real.startTimeMs - 10,
      };
      const result = await stopTarget({ ...request(child.pid!), identity: stale });
      expect(result).toEqual({ kind: 'stopped', forced: false, via: 'pid_reused', note: null });
      // The fixture exits on SIGTERM: still running means no signal reached it.
      expect(isRunning(child.pid!)).toBe(true);
    });

    it('sends nothing to a pid now running another command line', async () => {
      const { child } = await spawned.daemon('trap');
      const other: ProcessIdentity = { ...identityOf(child.pid!), cmdline: 'node some-other-program.js' };
      const result = await stopTarget({ ...request(child.pid!), identity: other, stopTimeoutMs: 100 });
      expect(result).toMatchObject({ kind: 'stopped', via: 'pid_reused' });
      expect(isRunning(child.pid!)).toBe(true);
    });

    it('reports a target that has already exited as stopped', async () => {
      const { child } = await spawned.daemon('trap');
      const req = request(child.pid!);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid!, 'SIGKILL');
      await exited;
      expect(await stopTarget(req)).toEqual({
        kind: 'stopped',
        forced: false,
        via: 'already_gone',
        note: null,
      });
    });

    it('runs the stop command, in cwd with env, instead of signalling', async () => {
      const dir = await spawned.tempDir();
      const { child } = await spawned.daemon('trap');
      const result = await stopTarget(
        request(child.pid!, {
          cwd: dir,
          env: { MARK: 'from-env' },
          stopCommand: 'printf %s "$MARK" > stop-ran && kill -TERM "$CRONWATCH_PID"',
        }),
      );
      expect(result).toEqual({ kind: 'stopped', forced: false, via: 'command', note: null });
      expect(await readFile(join(dir, 'stop-ran'), 'utf8')).toBe('from-env');
      expect(isRunning(child.pid!)).toBe(false);
    });

    it('kills the target when its stop command fails to stop it, and says so', async () => {
      const dir = await spawned.tempDir();
      const { child } = await spawned.daemon('trap');
      const result = await stopTarget(
        request(child.pid!, { cwd: dir, stopCommand: 'echo cannot stop >&2; exit 4', stopTimeoutMs: 2_000 }),
      );
      expect(result).toMatchObject({ kind: 'stopped', forced: true, via: 'command' });
      expect(result.kind === 'stopped' && result.note).toMatch(/exited with code 4: cannot stop/);
      expect(isRunning(child.pid!)).toBe(false);
    });

    it('falls back on the stop signal when the stop command cannot run', async () => {
      const dir = await spawned.tempDir();
      const { child } = await spawned.daemon('trap');
      const missing = join(dir, 'missing');
      const result = await stopTarget(request(child.pid!, { cwd: missing, stopCommand: 'true' }));
      expect(result).toMatchObject({ kind: 'stopped', forced: false, via: 'signal' });
      expect(result.kind === 'stopped' && result.note).toContain(missing);
      expect(existsSync(missing)).toBe(false);
    });

    it('refuses to stop cronwatch’s own process or group', async () => {
      const result = await stopTarget(request(process.pid));
      expect(result).toMatchObject({ kind: 'failed', error: expect.stringMatching(/Refusing to signal/) });
    });

    it('refuses a stop_signal that is not a signal name', async () => {
      const { child } = await spawned.daemon('trap');
      const result = await stopTarget(request(child.pid!, { stopSignal: 'TERM' }));
      expect(result).toMatchObject({ kind: 'failed', error: expect.stringContaining('`TERM`') });
      expect(isRunning(child.pid!)).toBe(true);
    });
  });
});
