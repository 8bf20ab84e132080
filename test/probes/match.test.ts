import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { identityOf } from '../../src/core/decide.js';
import type { ProcessIdentity, ProcessInfo } from '../../src/core/types.js';
import {
  describeShared,
  excludedPids,
  findTargetProcess,
  findTargetProcesses,
  indexSpecs,
  processFilter,
} from '../../src/probes/match.js';
import { scanProcessesFor, scanProcessTable } from '../../src/probes/process-table.js';
import {
  cleanUp,
  deadPid,
  makeTempDir,
  SLEEPER,
  spawnOrphanSleeper,
  spawnSleeper,
  spawnTracked,
  spawnZombie,
  uniqueMarker,
  waitFor,
  waitForProcess,
} from './probe-helpers.js';

const onLinux = process.platform === 'linux';
const NONE: ReadonlySet<number> = new Set();
const UNRECORDED: ReadonlyMap<string, ProcessIdentity> = new Map();

function literally(text: string): RegExp {
  return new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}

function entry(fields: Partial<ProcessInfo> & Pick<ProcessInfo, 'pid'>): ProcessInfo {
  return {
    ppid: 1,
    pgid: fields.pid,
    sid: fields.pid,
    startTimeMs: 1_700_000_000_000,
    startTicks: 1000,
    cmdline: 'node monitor.js',
    state: 'S',
    rssBytes: 4096,
    cpuMs: 0,
    ...fields,
  };
}

function writePidfile(content: string): string {
  const path = join(makeTempDir(), 'target.pid');
  writeFileSync(path, content);
  return path;
}

afterEach(cleanUp);

describe('probes', () => {
  describe.runIf(onLinux)('excludedPids()', () => {
    it('holds this process, its parent, and a child and grandchild whose argv holds the pattern', async () => {
      const marker = uniqueMarker('excluded');
      // `; :` keeps sh from exec'ing node, so sh stays as the child and node is the grandchild.
      const shell = spawnTracked('/bin/sh', ['-c', '"$0" "$1" "$2"; :', process.execPath, SLEEPER, marker]);
      const grandchild = await waitFor('the grandchild', async () =>
        (await scanProcessTable()).find(
          (found) => found.ppid === shell.pid && found.cmdline.includes(marker),
        ),
      );
      const table = await scanProcessTable();
      const excluded = excludedPids(table, process.pid);

      expect(excluded).toContain(process.pid);
      expect(excluded).toContain(process.ppid);
      expect(excluded).toContain(shell.pid);
      expect(excluded).toContain(grandchild.pid);
      expect(findTargetProcess({ match: literally(marker), pidfile: null }, table, excluded)).toEqual({
        kind: 'absent',
        reason: `no process matches ${String(literally(marker))}`,
      });
    });

    it('finds the same family in a scan of only the processes a pattern could be', async () => {
      const marker = uniqueMarker('lazy-family');
      const shell = spawnTracked('/bin/sh', ['-c', '"$0" "$1" "$2"; :', process.execPath, SLEEPER, marker]);
      const orphanPid = await spawnOrphanSleeper(marker);
      const grandchild = await waitFor('the grandchild', async () =>
        (await scanProcessTable()).find(
          (found) => found.ppid === shell.pid && found.cmdline.includes(marker),
        ),
      );
      const specs = [{ name: 'a', spec: { match: literally(marker), pidfile: null } }];
      const wanted = processFilter(specs, indexSpecs(specs))!;
      const table = await scanProcessesFor(wanted, process.pid);
      const excluded = excludedPids(table, process.pid);

      expect(excluded).toContain(process.pid);
      expect(excluded).toContain(process.ppid);
      expect(excluded).toContain(shell.pid);
      expect(excluded).toContain(grandchild.pid);
      expect(findTargetProcess(specs[0]!.spec, table, excluded)).toMatchObject({
        kind: 'running',
        process: { pid: orphanPid },
        count: 1,
      });
    });

    it('leaves visible a descendant in a session of its own: a target cronwatch started', () => {
      const table = [
        entry({ pid: 10, ppid: 1, sid: 10 }),
        entry({ pid: 20, ppid: 10, sid: 10 }),
        entry({ pid: 30, ppid: 20, sid: 30 }),
        entry({ pid: 31, ppid: 30, sid: 30 }),
      ];
      expect([...excludedPids(table, 20)].sort((a, b) => a - b)).toEqual([1, 10, 20]);
    });

    it('leaves out a process with the same pattern that is not of its family', async () => {
      const marker = uniqueMarker('family');
      const child = spawnSleeper(marker);
      const orphanPid = await spawnOrphanSleeper(marker);
      await waitForProcess(child.pid!, marker);
      const table = await scanProcessTable();
      const excluded = excludedPids(table, process.pid);

      expect(excluded).not.toContain(orphanPid);
      expect(findTargetProcess({ match: literally(marker), pidfile: null }, table, excluded)).toMatchObject({
        kind: 'running',
        process: { pid: orphanPid },
        count: 1,
      });
    });

    it('follows a chain of parents and children in a given table, and stops on a loop', () => {
      const table = [
        entry({ pid: 1, ppid: 0 }),
        entry({ pid: 10, ppid: 1 }),
        entry({ pid: 20, ppid: 10, sid: 10 }),
        entry({ pid: 30, ppid: 20, sid: 10 }),
        entry({ pid: 31, ppid: 30, sid: 10 }),
        entry({ pid: 40, ppid: 1 }),
        entry({ pid: 50, ppid: 51 }),
        entry({ pid: 51, ppid: 50 }),
      ];
      expect([...excludedPids(table, 20)].sort((a, b) => a - b)).toEqual([1, 10, 20, 30, 31]);
      expect([...excludedPids(table, 50)].sort((a, b) => a - b)).toEqual([50, 51]);
      expect([...excludedPids(table, 99)]).toEqual([99]);
    });
  });

  describe('findTargetProcess()', () => {
    it('takes the program, not the sh -c wrapper whose command line mentions it', () => {
      const table = [
        entry({ pid: 10, ppid: 1, cmdline: '/bin/sh -c node monitor.js; echo done', startTimeMs: 1 }),
        entry({ pid: 11, ppid: 10, cmdline: 'node monitor.js', startTimeMs: 2 }),
      ];
      expect(findTargetProcess({ match: /node monitor/, pidfile: null }, table, new Set())).toMatchObject({
        kind: 'running',
        process: { pid: 11 },
        count: 1,
      });
    });

    it.runIf(onLinux)(
      'tells apart two processes with the same comm by their full command lines',
      async () => {
        const first = uniqueMarker('first');
        const second = uniqueMarker('second');
        const a = spawnSleeper(first);
        const b = spawnSleeper(second);
        await waitForProcess(a.pid!, first);
        await waitForProcess(b.pid!, second);
        const comm = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8');
        expect(comm(a.pid!)).toBe(comm(b.pid!));

        const table = await scanProcessTable();
        expect(findTargetProcess({ match: literally(second), pidfile: null }, table, NONE)).toMatchObject({
          kind: 'running',
          process: { pid: b.pid },
          count: 1,
        });
      },
    );

    it.runIf(onLinux)('reports the oldest of several matches and how many there are', async () => {
      const marker = uniqueMarker('several');
      const older = spawnSleeper(marker);
      const olderFound = await waitForProcess(older.pid!, marker);
      const newer = await waitFor('a second process that started later', async () => {
        const candidate = spawnSleeper(marker);
        const found = await waitForProcess(candidate.pid!, marker);
        return found.startTimeMs > olderFound.startTimeMs ? candidate : null;
      });

      const table = await scanProcessTable();
      const found = findTargetProcess({ match: literally(marker), pidfile: null }, table, NONE);
      expect(newer.pid).not.toBe(older.pid);
      expect(found).toMatchObject({ kind: 'running', process: { pid: older.pid } });
      expect(found.kind === 'running' && found.count).toBeGreaterThanOrEqual(2);
    });

    it('breaks a tie in start time by the lowest pid', () => {
      const table = [
        entry({ pid: 30 }),
        entry({ pid: 20 }),
        entry({ pid: 25, startTimeMs: 1_800_000_000_000 }),
      ];
      expect(findTargetProcess({ match: /monitor/, pidfile: null }, table, NONE)).toMatchObject({
        kind: 'running',
        process: { pid: 20 },
        count: 3,
      });
    });

    it('counts zombies and kernel threads as dead, whatever the pattern', () => {
      const table = [entry({ pid: 7, state: 'Z' }), entry({ pid: 2, cmdline: '' })];
      expect(findTargetProcess({ match: /.*/, pidfile: null }, table, NONE)).toEqual({
        kind: 'absent',
        reason: 'no process matches /.*/',
      });
    });

    it('matches the same way twice with a global regular expression', () => {
      const table = [entry({ pid: 9 })];
      const pattern = /monitor/g;
      expect(findTargetProcess({ match: pattern, pidfile: null }, table, NONE).kind).toBe('running');
      expect(findTargetProcess({ match: pattern, pidfile: null }, table, NONE).kind).toBe('running');
    });

    it('throws when given neither a pattern nor a pid file', () => {
      expect(() => findTargetProcess({ match: null, pidfile: null }, [], NONE)).toThrow(/match.*pidfile/);
    });

    describe('with a pid file', () => {
      it.runIf(onLinux)('finds the live process it names, with or without a matching pattern', async () => {
        const marker = uniqueMarker('pidfile-live');
        const child = spawnSleeper(marker);
        await waitForProcess(child.pid!, marker);
        const pidfile = writePidfile(`${child.pid}\n`);
        const table = await scanProcessTable();

        for (const match of [null, literally(marker)]) {
          expect(findTargetProcess({ match, pidfile }, table, NONE)).toMatchObject({
            kind: 'running',
            process: { pid: child.pid },
            count: 1,
          });
        }
      });

      it.runIf(onLinux)('is absent when the pid names a process that has exited', async () => {
        const pid = await deadPid();
        const pidfile = writePidfile(String(pid));
        expect(findTargetProcess({ match: null, pidfile }, await scanProcessTable(), NONE)).toEqual({
          kind: 'absent',
          reason: `pid ${pid} from ${pidfile} is not running`,
        });
      });

      it.runIf(onLinux)('is absent when the pid names a zombie', async () => {
        const { zombiePid } = await spawnZombie();
        const pidfile = writePidfile(String(zombiePid));
        const found = findTargetProcess({ match: null, pidfile }, await scanProcessTable(), NONE);
        expect(found).toEqual({
          kind: 'absent',
          reason: `pid ${zombiePid} from ${pidfile} is not running (zombie)`,
        });
      });

      it.runIf(onLinux)(
        'is absent, naming the pid, when it names an unrelated live process that does not match',
        async () => {
          const marker = uniqueMarker('unrelated');
          const orphanPid = await spawnOrphanSleeper(marker);
          const pidfile = writePidfile(`${orphanPid}\n`);
          const table = await waitFor('the unrelated process', async () => {
            const scanned = await scanProcessTable();
            return scanned.some((found) => found.pid === orphanPid && found.cmdline.includes(marker))
              ? scanned
              : null;
          });

          const found = findTargetProcess(
            { match: /node .*site-monitor\.js/, pidfile },
            table,
            excludedPids(table, process.pid),
          );
          expect(found).toEqual({
            kind: 'absent',
            reason: `pid ${orphanPid} from ${pidfile} is ${JSON.stringify(`${process.execPath} ${SLEEPER} ${marker}`)}, which does not match /node .*site-monitor\\.js/`,
          });
        },
      );

      it.runIf(onLinux)('is absent when the pid is cronwatch itself or its family', async () => {
        const pidfile = writePidfile(String(process.pid));
        const table = await scanProcessTable();
        const found = findTargetProcess({ match: null, pidfile }, table, excludedPids(table, process.pid));
        expect(found).toMatchObject({
          kind: 'absent',
          reason: expect.stringContaining(`pid ${process.pid}`),
        });
      });

      it('is absent with a reason when the file is missing, empty or holds no pid', () => {
        const dir = makeTempDir();
        const missing = join(dir, 'nope.pid');
        expect(findTargetProcess({ match: null, pidfile: missing }, [], NONE)).toEqual({
          kind: 'absent',
          reason: `pid file ${missing} missing`,
        });
        const empty = writePidfile(' \n');
        expect(findTargetProcess({ match: null, pidfile: empty }, [], NONE)).toEqual({
          kind: 'absent',
          reason: `pid file ${empty} is empty`,
        });
        for (const garbage of ['abc', '-5', '0', '12.5', '99999999999999999999']) {
          const pidfile = writePidfile(`${garbage}\n`);
          expect(findTargetProcess({ match: null, pidfile }, [], NONE)).toEqual({
            kind: 'absent',
            reason: `pid file ${pidfile} holds "${garbage}", not a pid`,
          });
        }
      });

      it('is absent with a reason when the pid file cannot be read', () => {
        const dir = makeTempDir();
        expect(findTargetProcess({ match: null, pidfile: dir }, [], NONE)).toEqual({
          kind: 'absent',
          reason: `pid file ${dir} unreadable (EISDIR)`,
        });
      });

      it('reads only the first line, as postgres-style pid files hold more', () => {
        const pidfile = writePidfile('42\n/var/lib/data\n5432\n');
        expect(findTargetProcess({ match: null, pidfile }, [entry({ pid: 42 })], NONE)).toMatchObject({
          kind: 'running',
          process: { pid: 42 },
        });
      });

      it('cuts a very long command line short in the reason', () => {
        const pidfile = writePidfile('42');
        const found = findTargetProcess(
          { match: /nothing/, pidfile },
          [entry({ pid: 42, cmdline: `node ${'x'.repeat(1000)}` })],
          NONE,
        );
        expect(found.kind === 'absent' && found.reason.length).toBeLessThan(400);
      });
    });
  });

  describe('processFilter()', () => {
    const spec = (match: string | null, pidfile: string | null = null) => ({
      name: `t-${match}-${pidfile}`,
      spec: { match: match === null ? null : new RegExp(match), pidfile },
    });

    it("accepts the command lines that hold some target's required text", () => {
      const specs = [spec('node .*monitor\\.js'), spec('worker-\\d+ --queue')];
      const wanted = processFilter(specs, indexSpecs(specs));
      expect(wanted?.('node /srv/monitor.js')).toBe(true);
      expect(wanted?.('worker-3 --queue=mail')).toBe(true);
      expect(wanted?.('node /srv/bot.js')).toBe(false);
    });

    it('needs every process for a target with a pid file or a pattern without a required text', () => {
      for (const other of [spec(null, '/run/a.pid'), spec('monitor', '/run/a.pid'), spec('a|b')]) {
        const specs = [spec('node .*monitor\\.js'), other];
        expect(processFilter(specs, indexSpecs(specs))).toBeNull();
      }
    });
  });

  describe('findTargetProcesses()', () => {
    const broad = { name: 'worker', spec: { match: /worker\.js/, pidfile: null } };
    const narrow = { name: 'queue', spec: { match: /worker\.js --queue/, pidfile: null } };
    const plain = entry({ pid: 10, cmdline: 'node worker.js', startTimeMs: 2000 });
    const queue = entry({ pid: 11, cmdline: 'node worker.js --queue', startTimeMs: 1000 });

    it('counts a process two patterns find for the target that has no other, not the older for both', () => {
      const { findings, shared } = findTargetProcesses([broad, narrow], [plain, queue], NONE, UNRECORDED);
      expect(findings.get('worker')).toEqual({ kind: 'running', process: plain, count: 1 });
      expect(findings.get('queue')).toEqual({ kind: 'running', process: queue, count: 1 });
      expect(shared).toEqual([
        {
          pid: 11,
          cmdline: 'node worker.js --queue',
          foundBy: ['worker', 'queue'],
          heldBy: ['queue'],
          recordedAs: null,
        },
      ]);
      expect(describeShared(shared[0]!)).toBe(
        'pid 11 ("node worker.js --queue") is found by targets worker and queue; it counts as queue\'s (worker found a process of its own); make their match patterns exclusive',
      );
    });

    it('lets every target that has no process of its own see the shared one, naming the others', () => {
      const { findings, shared } = findTargetProcesses([broad, narrow], [queue], NONE, UNRECORDED);
      expect(findings.get('worker')).toEqual({
        kind: 'running',
        process: queue,
        count: 1,
        sharedWith: ['queue'],
      });
      expect(findings.get('queue')).toEqual({
        kind: 'running',
        process: queue,
        count: 1,
        sharedWith: ['worker'],
      });
      expect(shared[0]?.heldBy).toEqual(['worker', 'queue']);
      expect(describeShared(shared[0]!)).toMatch(
        /which both take it for theirs: neither starts another copy or restarts it/,
      );
    });

    it('leaves a process a pid file names to that target, when the pattern finds one of its own', () => {
      const pidfile = writePidfile('11');
      const byPidfile = { name: 'queue', spec: { match: null, pidfile } };
      const { findings } = findTargetProcesses([broad, byPidfile], [plain, queue], NONE, UNRECORDED);
      expect(findings.get('worker')).toMatchObject({ process: { pid: 10 }, count: 1 });
      expect(findings.get('queue')).toMatchObject({ process: { pid: 11 }, count: 1 });
      expect(findings.get('queue')).not.toHaveProperty('sharedWith');
    });

    it("leaves a shared process recorded as one target's to it alone: the other, its own gone, is absent", () => {
      const recorded = new Map([
        ['worker', identityOf({ ...plain, pid: 9 })],
        ['queue', identityOf(queue)],
      ]);
      const { findings, shared } = findTargetProcesses([broad, narrow], [queue], NONE, recorded);
      expect(findings.get('worker')).toEqual({
        kind: 'absent',
        reason: "no process of its own: pid 11 is queue's",
      });
      expect(findings.get('queue')).toEqual({ kind: 'running', process: queue, count: 1 });
      expect(shared).toEqual([
        {
          pid: 11,
          cmdline: 'node worker.js --queue',
          foundBy: ['worker', 'queue'],
          heldBy: ['queue'],
          recordedAs: 'queue',
        },
      ]);
      expect(describeShared(shared[0]!)).toBe(
        'pid 11 ("node worker.js --queue") is found by targets worker and queue; it counts as queue\'s, whose recorded process it is (not worker\'s); make their match patterns exclusive',
      );
    });

    it('reports an absent target as findTargetProcess does, and shares nothing', () => {
      const { findings, shared } = findTargetProcesses([narrow], [plain], NONE, UNRECORDED);
      expect(findings.get('queue')).toEqual({
        kind: 'absent',
        reason: 'no process matches /worker\\.js --queue/',
      });
      expect(shared).toEqual([]);
    });
  });
});
