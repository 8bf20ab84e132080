import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sameProcess } from '../../src/core/identity.js';
import type { ProcessIdentity, ProcessInfo } from '../../src/core/types.js';
import {
  liveGroupMembers,
  parseStatLine,
  readProcess,
  readStat,
  scanProcessesFor,
  scanProcessTable,
} from '../../src/probes/process-table.js';
import {
  cleanUp,
  deadPid,
  makeTempDir,
  SLEEPER,
  spawnSleeper,
  spawnTracked,
  spawnZombie,
  uniqueMarker,
  waitFor,
  waitForProcess,
} from './probe-helpers.js';

const onLinux = process.platform === 'linux';

// Field 3 onwards of a real line, after a comm that tries every trick: spaces, `)`, `(`.
const TRICKY_STAT =
  '4242 (a) (b c) d) S 17 4242 4200 34816 4242 4194560 1094 0 0 0 250 130 0 0 20 0 1 0 ' +
  '987654 12345678 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n';

function identityOf(entry: ProcessInfo): ProcessIdentity {
  return {
    pid: entry.pid,
    startTicks: entry.startTicks,
    startTimeMs: entry.startTimeMs,
    cmdline: entry.cmdline,
  };
}

afterEach(cleanUp);

describe('probes', () => {
  describe('parseStatLine()', () => {
    it('takes the fields after the last ")" when the comm holds ") (" and spaces', () => {
      expect(parseStatLine(TRICKY_STAT)).toEqual({
        pid: 4242,
        comm: 'a) (b c) d',
        state: 'S',
        ppid: 17,
        pgid: 4242,
        sid: 4200,
        utimeTicks: 250,
        stimeTicks: 130,
        startTicks: 987654,
        rssPages: 321,
      });
    });

    it('parses a comm that is empty or all parentheses', () => {
      expect(parseStatLine(TRICKY_STAT.replace('(a) (b c) d)', '()')).comm).toBe('');
      expect(parseStatLine(TRICKY_STAT.replace('(a) (b c) d)', '()))')).comm).toBe('))');
    });

    it('throws, quoting the text, on something that is not a stat line', () => {
      expect(() => parseStatLine('hello world')).toThrow(/got `hello world`/);
      expect(() => parseStatLine('12 (x) S 1 2')).toThrow(/bad/);
      expect(() => parseStatLine(TRICKY_STAT.replace(' S 17 ', ' S x7 '))).toThrow(/bad ppid/);
    });
  });

  describe.runIf(onLinux)('scanProcessTable()', () => {
    it('finds a spawned daemon by its full command line, with its pid, parents, group and start time', async () => {
      const marker = uniqueMarker('daemon');
      const spawnedAtMs = Date.now();
      const child = spawnSleeper(marker, { detached: true });
      const found = await waitForProcess(child.pid!, marker, { settled: true });

      expect(found.cmdline).toBe(`${process.execPath} ${SLEEPER} ${marker}`);
      expect(found.ppid).toBe(process.pid);
      // detached: its own session and process group.
      expect(found.pgid).toBe(child.pid);
      expect(found.sid).toBe(child.pid);
      // Boot time is given in whole seconds, so the start time may read up to a second early.
      expect(found.startTimeMs).toBeGreaterThanOrEqual(spawnedAtMs - 3000);
      expect(found.startTimeMs).toBeLessThanOrEqual(Date.now() + 3000);
      expect(Number.isSafeInteger(found.startTicks)).toBe(true);
      expect(found.rssBytes).toBeGreaterThan(0);
      expect(found.cpuMs).toBeGreaterThanOrEqual(0);
      expect(['R', 'S', 'D']).toContain(found.state);
    });

    it('includes this process with the same group and session as its parent reports', async () => {
      const table = await scanProcessTable();
      const self = table.find((entry) => entry.pid === process.pid);
      expect(self?.ppid).toBe(process.ppid);
      expect(self?.cmdline).toContain('node');
      expect(new Set(table.map((entry) => entry.pid)).size).toBe(table.length);
    });

    it('reads the right fields of a real process whose comm holds ") (" and spaces', async () => {
      const dir = makeTempDir();
      const oddName = join(dir, 'probe) (x y');
      symlinkSync(process.execPath, oddName);
      const marker = uniqueMarker('odd-comm');
      const child = spawnTracked(oddName, [SLEEPER, marker], { detached: true });
      const found = await waitForProcess(child.pid!, marker, { settled: true });

      expect(parseStatLine(readFileSync(`/proc/${child.pid}/stat`, 'latin1')).comm).toBe('probe) (x y');
      expect(found.cmdline).toBe(`${oddName} ${SLEEPER} ${marker}`);
      expect(found.ppid).toBe(process.pid);
      expect(found.pgid).toBe(child.pid);
      expect(['R', 'S', 'D']).toContain(found.state);
      expect(found.rssBytes).toBeGreaterThan(0);
    });

    it('reads a command line longer than one read of its buffer whole', async () => {
      const marker = uniqueMarker('long-argv');
      // Over 64 KiB (the first read) and over 128 KiB (the second, after the buffer doubles);
      // one argument may hold at most 128 KiB.
      const long = ['x', 'y', 'z'].map((letter) => letter.repeat(100 * 1024));
      const child = spawnTracked(process.execPath, [SLEEPER, marker, ...long]);
      const found = await waitForProcess(child.pid!, marker);
      expect(found.cmdline).toBe([process.execPath, SLEEPER, marker, ...long].join(' '));
      expect(readProcess(child.pid!)?.cmdline).toBe(found.cmdline);
    });

    it('lists a zombie with state Z and an empty command line', async () => {
      const { zombiePid, parentPid } = await spawnZombie();
      const zombie = (await scanProcessTable()).find((entry) => entry.pid === zombiePid);
      expect(zombie).toMatchObject({ state: 'Z', cmdline: '', ppid: parentPid });
    });
  });

  describe.runIf(onLinux)('scanProcessesFor()', () => {
    it('reads the accepted processes as the full scan does, with their ancestors and no other', async () => {
      const wanted = uniqueMarker('wanted');
      const other = uniqueMarker('other');
      const child = spawnSleeper(wanted, { detached: true });
      const unwanted = spawnSleeper(other, { detached: true });
      const full = await waitForProcess(child.pid!, wanted, { settled: true });
      await waitForProcess(unwanted.pid!, other);
      const table = await scanProcessesFor((cmdline) => cmdline.includes(wanted), process.pid);
      const pids = table.map((entry) => entry.pid);

      expect(table.find((entry) => entry.pid === child.pid)).toMatchObject({
        ...identityOf(full),
        ppid: full.ppid,
        pgid: full.pgid,
        sid: full.sid,
      });
      // The child's parent is this process; this process's ancestors up to the first.
      expect(pids).toContain(process.pid);
      expect(pids).toContain(process.ppid);
      expect(pids).not.toContain(unwanted.pid);
      // In the full scan's order: /proc's.
      const order = (await scanProcessTable()).map((entry) => entry.pid).filter((pid) => pids.includes(pid));
      expect(pids.filter((pid) => order.includes(pid))).toEqual(order);
    });
  });

  describe.runIf(onLinux)('readProcess()', () => {
    it('reads one process as the scan does', async () => {
      const marker = uniqueMarker('read-one');
      const child = spawnSleeper(marker);
      const scanned = await waitForProcess(child.pid!, marker);
      const read = readProcess(child.pid!);
      expect(read).toMatchObject(identityOf(scanned));
      expect(read).toMatchObject({ ppid: scanned.ppid, pgid: scanned.pgid, sid: scanned.sid });
    });

    it('returns null for a pid that names no process, and for no pid at all', async () => {
      expect(readProcess(await deadPid())).toBeNull();
      expect(readProcess(0)).toBeNull();
      expect(readProcess(-1)).toBeNull();
      expect(readProcess(Number.NaN)).toBeNull();
    });

    it('reads a zombie as a zombie', async () => {
      const { zombiePid } = await spawnZombie();
      expect(readProcess(zombiePid)).toMatchObject({ pid: zombiePid, state: 'Z' });
    });
  });

  describe.runIf(onLinux)('readStat()', () => {
    it('reads the stat fields of one process as readProcess does, and null for none', async () => {
      const marker = uniqueMarker('stat-one');
      const child = spawnSleeper(marker);
      const read = await waitForProcess(child.pid!, marker);
      expect(readStat(child.pid!)).toMatchObject({
        pid: read.pid,
        ppid: read.ppid,
        pgid: read.pgid,
        sid: read.sid,
        startTicks: read.startTicks,
      });
      expect(readStat(await deadPid())).toBeNull();
      expect(readStat(0)).toBeNull();
    });
  });

  describe.runIf(onLinux)('liveGroupMembers()', () => {
    it('lists the live members of a process group, not its zombies', async () => {
      const leader = spawnTracked('/bin/sh', ['-c', 'sleep 0 & exec sleep 60'], { detached: true });
      const pgid = leader.pid!;
      await waitFor(`a zombie in group ${pgid}`, async () =>
        (await scanProcessTable()).find((entry) => entry.pgid === pgid && entry.state === 'Z'),
      );
      expect(liveGroupMembers(pgid)).toEqual([pgid]);
      expect(liveGroupMembers(await deadPid())).toEqual([]);
    });
  });

  describe('sameProcess()', () => {
    const base: ProcessInfo = {
      pid: 500,
      ppid: 1,
      pgid: 500,
      sid: 500,
      startTimeMs: 1_700_000_000_000,
      startTicks: 123_456,
      cmdline: 'node monitor.js',
      state: 'S',
      rssBytes: 1024,
      cpuMs: 10,
    };

    it('is false for the same pid with a different start time', () => {
      expect(
        sameProcess(identityOf(base), { ...base, startTicks: 123_457, startTimeMs: base.startTimeMs + 10 }),
      ).toBe(false);
    });

    it('is false for the same pid and start with another command line', () => {
      expect(sameProcess(identityOf(base), { ...base, cmdline: 'node other.js' })).toBe(false);
    });

    it('compares exact ticks when both sides have them, whatever the milliseconds say', () => {
      expect(sameProcess(identityOf(base), { ...base, startTimeMs: base.startTimeMs + 900 })).toBe(true);
      expect(sameProcess(identityOf(base), { ...base, startTicks: 123_455 })).toBe(false);
    });

    it('allows a second of difference when a side has no ticks, and never matches an unknown time', () => {
      const noTicks = { ...identityOf(base), startTicks: null };
      expect(sameProcess(noTicks, { ...base, startTimeMs: base.startTimeMs + 1000 })).toBe(true);
      expect(sameProcess(noTicks, { ...base, startTimeMs: base.startTimeMs - 1500 })).toBe(false);
      expect(
        sameProcess({ ...noTicks, startTimeMs: -1 }, { ...base, startTicks: null, startTimeMs: -1 }),
      ).toBe(false);
    });

    it.runIf(onLinux)('is true for a live process scanned then read again', async () => {
      const marker = uniqueMarker('same');
      const child = spawnSleeper(marker);
      const scanned = await waitForProcess(child.pid!, marker);
      expect(sameProcess(identityOf(scanned), readProcess(child.pid!)!)).toBe(true);
    });
  });
});
