import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { sameProcess } from '../../src/core/identity.js';
import {
  parseCpuTime,
  parsePsLine,
  readProcessWithPs,
  scanWithPsList,
  UNKNOWN,
} from '../../src/probes/ps-fallback.js';
import { cleanUp, deadPid, SLEEPER, spawnSleeper, uniqueMarker, waitForProcess } from './probe-helpers.js';

function hasPs(): boolean {
  try {
    execFileSync('ps', ['-o', 'pid=', '-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// The fallback is for macOS, but procps `ps` takes the same options, so it runs here too.
const canRun = hasPs();
const onLinux = process.platform === 'linux';

afterEach(cleanUp);

describe('probes', () => {
  describe('parsePsLine()', () => {
    it('parses a procps line and a BSD line, command lines with spaces included', () => {
      const startMs = new Date('Mon Nov 23 12:15:56 2026').getTime();
      expect(
        parsePsLine(' 2184  2183  2184 Ss    4052 00:00:03 Mon Nov 23 12:15:56 2026 node my app.js --x'),
      ).toEqual({
        pid: 2184,
        ppid: 2183,
        pgid: 2184,
        sid: UNKNOWN,
        startTimeMs: startMs,
        startTicks: null,
        cmdline: 'node my app.js --x',
        state: 'S',
        rssBytes: 4052 * 1024,
        cpuMs: 3000,
      });
      expect(
        parsePsLine('  77     1    77 Z+       0   0:00.25 Tue Jan  6 09:05:01 2026 (sleep)'),
      ).toMatchObject({
        pid: 77,
        state: 'Z',
        cpuMs: 250,
        cmdline: '(sleep)',
        startTimeMs: new Date('Tue Jan  6 09:05:01 2026').getTime(),
      });
    });

    it('returns null for a line that is not one', () => {
      expect(parsePsLine('PID PPID')).toBeNull();
      expect(parsePsLine('')).toBeNull();
    });
  });

  describe('parseCpuTime()', () => {
    it('reads the formats of both ps', () => {
      expect(parseCpuTime('00:01:02')).toBe(62_000);
      expect(parseCpuTime('1-02:03:04')).toBe(((26 * 60 + 3) * 60 + 4) * 1000);
      expect(parseCpuTime('0:00.50')).toBe(500);
      expect(parseCpuTime('12:34.5')).toBe((12 * 60 + 34.5) * 1000);
      expect(parseCpuTime('soon')).toBe(UNKNOWN);
    });
  });

  describe.runIf(canRun)('readProcessWithPs()', () => {
    it.runIf(onLinux)('reads a process so that it is the same process as /proc says', async () => {
      const marker = uniqueMarker('ps-read');
      const child = spawnSleeper(marker, { detached: true });
      const fromProc = await waitForProcess(child.pid!, marker, { settled: true });
      const fromPs = readProcessWithPs(child.pid!);

      expect(fromPs).toMatchObject({
        pid: child.pid,
        ppid: process.pid,
        pgid: child.pid,
        cmdline: `${process.execPath} ${SLEEPER} ${marker}`,
        startTicks: null,
      });
      expect(fromPs!.rssBytes).toBeGreaterThan(0);
      expect(sameProcess({ ...fromProc, startTicks: null }, fromPs!)).toBe(true);
    });

    it('returns null for a pid that names no process', async () => {
      expect(readProcessWithPs(await deadPid())).toBeNull();
    });
  });

  describe.runIf(canRun)('scanWithPsList()', () => {
    it('finds a spawned daemon by its full command line, unknown numbers as -1', async () => {
      const marker = uniqueMarker('ps-list');
      const child = spawnSleeper(marker);
      await waitForProcess(child.pid!, marker);
      const found = (await scanWithPsList()).find((entry) => entry.pid === child.pid);

      expect(found).toMatchObject({
        ppid: process.pid,
        pgid: UNKNOWN,
        sid: UNKNOWN,
        startTicks: null,
        cmdline: `${process.execPath} ${SLEEPER} ${marker}`,
        cpuMs: UNKNOWN,
      });
      expect(Math.abs(found!.startTimeMs - Date.now())).toBeLessThan(60_000);
    });
  });
});
