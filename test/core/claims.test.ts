import { describe, expect, it } from 'vitest';
import { type Candidates, settleClaims } from '../../src/core/claims.js';
import { identityOf } from '../../src/core/decide.js';
import type { ProcessIdentity, ProcessInfo } from '../../src/core/types.js';

function entry(pid: number, cmdline: string, startTicks: number): ProcessInfo {
  return {
    pid,
    ppid: 1,
    pgid: pid,
    sid: pid,
    startTimeMs: 1_700_000_000_000 + startTicks * 10,
    startTicks,
    cmdline,
    state: 'S',
    rssBytes: 1024,
    cpuMs: 0,
  };
}

const found = (...processes: ProcessInfo[]): Candidates => ({ kind: 'found', processes });
const queueProcess = entry(11, 'node worker.js --queue', 100);
const workerProcess = entry(12, 'node worker.js', 200);

function settle(
  worker: Candidates,
  queue: Candidates,
  recorded: Record<string, ProcessIdentity> = {},
): ReturnType<typeof settleClaims> {
  return settleClaims(
    [
      { name: 'worker', found: worker },
      { name: 'queue', found: queue },
    ],
    new Map(Object.entries(recorded)),
  );
}

describe('settleClaims()', () => {
  it("gives a shared process recorded as one finder's to it alone; the other, with none left, is absent", () => {
    const { findings, shared } = settle(found(queueProcess), found(queueProcess), {
      worker: identityOf(workerProcess),
      queue: identityOf(queueProcess),
    });
    expect(findings.get('worker')).toEqual({
      kind: 'absent',
      reason: "no process of its own: pid 11 is queue's",
    });
    expect(findings.get('queue')).toEqual({ kind: 'running', process: queueProcess, count: 1 });
    expect(shared).toEqual([
      {
        pid: 11,
        cmdline: 'node worker.js --queue',
        foundBy: ['worker', 'queue'],
        heldBy: ['queue'],
        recordedAs: 'queue',
      },
    ]);
  });

  it('does not count a recorded shared process toward the other finder, which keeps its own', () => {
    const { findings } = settle(found(queueProcess, workerProcess), found(queueProcess), {
      queue: identityOf(queueProcess),
    });
    expect(findings.get('worker')).toEqual({ kind: 'running', process: workerProcess, count: 1 });
    expect(findings.get('queue')).toEqual({ kind: 'running', process: queueProcess, count: 1 });
  });

  it('settles nothing when no finder recorded the process: it is up for both, and each names the other', () => {
    const { findings, shared } = settle(found(queueProcess), found(queueProcess));
    expect(findings.get('worker')).toEqual({
      kind: 'running',
      process: queueProcess,
      count: 1,
      sharedWith: ['queue'],
    });
    expect(findings.get('queue')).toEqual({
      kind: 'running',
      process: queueProcess,
      count: 1,
      sharedWith: ['worker'],
    });
    expect(shared[0]).toMatchObject({ heldBy: ['worker', 'queue'], recordedAs: null });
  });

  it('settles nothing when both finders recorded it (it was shared last run too)', () => {
    const both = identityOf(queueProcess);
    const { findings, shared } = settle(found(queueProcess), found(queueProcess), {
      worker: both,
      queue: both,
    });
    expect(findings.get('worker')).toMatchObject({ sharedWith: ['queue'] });
    expect(findings.get('queue')).toMatchObject({ sharedWith: ['worker'] });
    expect(shared[0]?.recordedAs).toBeNull();
  });

  it('does not take a reused pid for the recorded process: another start time settles nothing', () => {
    const { findings, shared } = settle(found(queueProcess), found(queueProcess), {
      queue: { ...identityOf(queueProcess), startTicks: 99 },
    });
    expect(findings.get('worker')).toMatchObject({ kind: 'running', sharedWith: ['queue'] });
    expect(shared[0]?.recordedAs).toBeNull();
  });

  it('keeps an absent finding as it was', () => {
    const absent: Candidates = { kind: 'absent', reason: 'no process matches /worker\\.js --queue/' };
    const { findings, shared } = settle(found(workerProcess), absent, { queue: identityOf(queueProcess) });
    expect(findings.get('queue')).toEqual(absent);
    expect(findings.get('worker')).toEqual({ kind: 'running', process: workerProcess, count: 1 });
    expect(shared).toEqual([]);
  });
});
