/**
 * Two targets that would claim one process, through the real CLI and the Bot API stand-in: the
 * same match is a config error; overlapping patterns are reported, the record tells whose a process
 * they both find is, and where it cannot, the process is never stopped nor copied.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { pidsOf, waitFor } from '../support/cli.js';
import { createScene, isGone, type Scene } from './scene.js';

const scenes: Scene[] = [];

async function scene(label: string): Promise<Scene> {
  const created = await createScene(label);
  scenes.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(scenes.splice(0).map((s) => s.cleanup()));
});

/** The pids carrying `marker`, once there are exactly `count` of them. */
function pidsWhen(marker: string, count: number): Promise<number[]> {
  return waitFor(() => {
    const pids = pidsOf(marker);
    return pids.length === count ? pids : undefined;
  }, `${count} processes of ${marker}`);
}

describe('cronwatch, two targets and one process', () => {
  it('refuses a config whose two targets have the same match, naming both, and does nothing', async () => {
    const s = await scene('same-match');
    s.configure([{ name: 'worker' }, { name: 'worker-copy' }]);
    const result = await s.run('check');
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      `targets[1].match: the same as targets[0].match ("cli-daemon\\\\.mjs ${s.marker}\\\\b"): two targets would claim one process`,
    );
    expect(pidsOf(s.marker)).toEqual([]);
    expect(s.api.requests).toEqual([]);
  });

  it("restarts a target whose own process died, not taking its neighbour's recorded process for it", async () => {
    const s = await scene('overlap');
    const queue = `${s.marker}-queue`;
    s.configure([
      // `worker`'s pattern also finds the queue's process: the user meant only the plain one.
      { name: 'worker', match: `cli-daemon\\.mjs ${s.marker}`, start: `${s.daemonCommand()}; echo exited` },
      {
        name: 'queue',
        match: `cli-daemon\\.mjs ${queue}`,
        start: s.daemonCommand().replace(s.marker, queue),
      },
    ]);

    const first = await s.run('check');
    expect(first.code).toBe(0);
    const [plainPid, queuePid] = await waitFor(() => {
      const all = pidsOf(s.marker);
      const queued = pidsOf(queue);
      const plain = all.filter((pid) => !queued.includes(pid));
      return plain.length === 1 && queued.length === 1 ? [plain[0]!, queued[0]!] : undefined;
    }, 'one worker and one queue process');
    expect(first.stdout).toContain(
      `worker: down (no process matches /cli-daemon\\.mjs ${s.marker}/) -> started, pid ${plainPid}`,
    );
    expect(first.stdout).toContain(`-> started, pid ${queuePid}`);
    const messages = s.api.messages().length;

    // Each target counts its own process: no "2 processes running", nothing to say.
    expect(await s.run('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(s.api.messages()).toHaveLength(messages);
    const status = await s.run('status', '--json');
    const report = JSON.parse(status.stdout);
    expect(report.targets.map((row: { name: string; pid: number }) => [row.name, row.pid])).toEqual([
      ['worker', plainPid],
      ['queue', queuePid],
    ]);
    expect(report.shared).toMatchObject([
      { pid: queuePid, foundBy: ['worker', 'queue'], heldBy: ['queue'], recordedAs: 'queue' },
    ]);
    const queueLine = `pid ${queuePid} ("node ${s.daemonCommand().split(' ')[1]} ${queue}") is found by targets worker and queue`;
    expect((await s.run('status')).stdout).toContain(
      `note: ${queueLine}; it counts as queue's, whose recorded process it is (not worker's); make their match patterns exclusive`,
    );
    // doctor agrees: the record decides whose it is, so the overlap is a note, not a failure.
    const doctor = await s.run('doctor', '--no-cron');
    expect(doctor.stdout).toContain(
      `✓ process ${queuePid}: ${queueLine}; it counts as queue's, whose recorded process it is (not worker's); make their match patterns exclusive`,
    );
    expect(doctor.stdout).not.toContain('✗');
    expect(doctor.code).toBe(0);

    // The worker dies. Its pattern still finds the queue's process, but that is recorded as the
    // queue's: the worker is down, and is restarted as any dead target would be.
    process.kill(plainPid, 'SIGKILL');
    await waitFor(() => (isGone(plainPid) ? true : undefined), 'the worker to be gone');
    const afterDeath = await s.run('check');
    expect(afterDeath.code).toBe(0);
    const [restartedPid] = await waitFor(() => {
      const plain = pidsOf(s.marker).filter((pid) => !pidsOf(queue).includes(pid));
      return plain.length === 1 ? plain : undefined;
    }, 'a new worker process');
    expect(restartedPid).not.toBe(plainPid);
    expect(afterDeath.stdout).toContain(
      `worker: down (no process of its own: pid ${queuePid} is queue's) -> started, pid ${restartedPid}`,
    );
    expect(afterDeath.stdout).not.toContain('queue:');
    expect(pidsOf(queue)).toEqual([queuePid]);
    const sent = s.api.messages().slice(messages);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.text).toContain(`<b>worker</b> was down, restarted, new pid ${restartedPid}`);
    expect(sent[0]!.text).toContain(`Reason: no process of its own: pid ${queuePid} is queue's`);
    expect(sent[0]!.text).not.toContain('<b>queue</b>');

    // Both settled again: the next run has nothing to do or say.
    expect(await s.run('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(s.api.messages()).toHaveLength(messages + 1);
    expect(pidsOf(queue)).toEqual([queuePid]);
  });

  it('counts a process no record settles for both targets, reports it, and never starts a second copy', async () => {
    const s = await scene('undecided');
    const queue = `${s.marker}-queue`;
    s.configure([
      { name: 'worker', match: `cli-daemon\\.mjs ${s.marker}`, start: `${s.daemonCommand()}; echo exited` },
      {
        name: 'queue',
        match: `cli-daemon\\.mjs ${queue}`,
        start: s.daemonCommand().replace(s.marker, queue),
      },
    ]);
    // The queue runs before cronwatch's first run, the worker does not: both patterns find the
    // queue's process, and no record says whose it is.
    const daemon = s.daemonCommand().split(' ')[1]!;
    spawn(process.execPath, [daemon, queue], { cwd: s.dir, detached: true, stdio: 'ignore' }).unref();
    const [queuePid] = await pidsWhen(queue, 1);

    const first = await s.run('check');
    expect(first.code).toBe(0);
    expect(first.stdout).not.toContain('started');
    expect(await pidsWhen(s.marker, 1)).toEqual([queuePid]);
    // Both record it now, which settles nothing either: the next run stays as it was.
    expect(await s.run('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(pidsOf(s.marker)).toEqual([queuePid]);
    expect(s.api.messages()).toEqual([]);

    const text = (await s.run('status')).stdout;
    expect(text).toContain(
      `note: pid ${queuePid} ("${process.execPath} ${daemon} ${queue}") is found by targets worker and queue, which both take it for theirs: neither starts another copy or restarts it; make their match patterns exclusive`,
    );
    const doctor = await s.run('doctor', '--no-cron');
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(
      new RegExp(
        `✗ process ${queuePid}: pid ${queuePid} \\(.*\\) is found by targets worker and queue, which both take it`,
      ),
    );
    // By hand neither: restarting worker would take the queue down with it.
    const restart = await s.run('restart', 'worker');
    expect(restart.code).toBe(2);
    expect(restart.stderr).toContain(
      `cronwatch: not restarting worker: its process, pid ${queuePid}, is also queue's (their match patterns overlap; make them exclusive)`,
    );
    expect(pidsOf(s.marker)).toEqual([queuePid]);
  });
});
