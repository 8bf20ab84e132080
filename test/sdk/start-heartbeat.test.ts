import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type StopHeartbeat, startHeartbeat } from '../../src/index.js';
import { ROOT, waitFor } from '../support/cli.js';

let dir: string;
const stops: StopHeartbeat[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cronwatch-sdk-'));
});

afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
  rmSync(dir, { recursive: true, force: true });
});

function start(...args: Parameters<typeof startHeartbeat>): StopHeartbeat {
  const stop = startHeartbeat(...args);
  stops.push(stop);
  return stop;
}

function record(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

describe('sdk', () => {
  describe('startHeartbeat()', () => {
    it('beats at once and then every `every`, saying what report() says each time', async () => {
      const file = join(dir, 'daemon.heartbeat');
      let beats = 0;

      start(file, { every: 20, report: () => ({ data: { beat: ++beats } }) });

      expect(beats).toBe(1);
      const later = await waitFor(() => {
        const found = record(file);
        return ((found?.data as { beat: number } | undefined)?.beat ?? 0) >= 3 ? found : undefined;
      }, 'a third beat');
      expect(later).toMatchObject({ status: 'ok', pid: process.pid });
    });

    it('takes durations as text', async () => {
      const file = join(dir, 'daemon.heartbeat');
      start(file, { every: '1h' });
      await waitFor(() => record(file), 'the first beat');
    });

    it('beats no more once stopped', async () => {
      const file = join(dir, 'daemon.heartbeat');
      let beats = 0;
      const stop = start(file, { every: 10, report: () => ({ data: { beat: ++beats } }) });
      await waitFor(() => (beats >= 3 ? true : undefined), 'three beats');

      await stop();
      rmSync(file, { force: true });
      const stoppedAt = beats;
      await new Promise((resolve) => setTimeout(resolve, 100));

      expect(beats).toBe(stoppedAt);
      expect(existsSync(file)).toBe(false);
    });

    it('does not keep a process alive by itself', async () => {
      const file = join(dir, 'daemon.heartbeat');
      const script = `import { startHeartbeat } from ${JSON.stringify(join(ROOT, 'src/index.ts'))};
startHeartbeat(${JSON.stringify(file)}, { every: 50 });`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: ROOT,
        stdio: 'inherit',
      });

      const code = await new Promise((resolve) => child.on('close', resolve));

      expect(code).toBe(0);
      expect(record(file)).toMatchObject({ status: 'ok', pid: child.pid });
    });

    it('tells onError once per distinct error, and beats again once it can', async () => {
      const missingDir = join(dir, 'not-yet');
      const file = join(missingDir, 'daemon.heartbeat');
      const errors: string[] = [];
      let beats = 0;

      start(file, {
        every: 10,
        report: () => ({ data: { beat: ++beats } }),
        onError: (error) => errors.push(error.message),
      });
      await waitFor(() => (beats >= 5 ? true : undefined), 'five attempts');

      expect(errors).toEqual([`Could not write heartbeat ${file}: ENOENT: no such file or directory`]);
      mkdirSync(missingDir);
      await waitFor(() => record(file), 'a beat once the directory exists');
    });

    it('reports a report() that throws, and keeps beating', async () => {
      const file = join(dir, 'daemon.heartbeat');
      const errors: string[] = [];
      let calls = 0;
      start(file, {
        every: 10,
        report: () => {
          calls += 1;
          if (calls === 1) throw new Error('not ready');
          return { status: 'ok' };
        },
        onError: (error) => errors.push(error.message),
      });

      await waitFor(() => record(file), 'a beat after the failed one');
      expect(errors).toEqual(["The heartbeat's report() threw: not ready"]);
    });

    it.each([0, -5, 'soon', 2 ** 31])('refuses every: %s', (every) => {
      expect(() => startHeartbeat(join(dir, 'x'), { every: every as number })).toThrow(TypeError);
      expect(() => startHeartbeat(join(dir, 'x'), { every: every as number })).toThrow(`\`${every}\``);
    });
  });
});
