import { appendFileSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/store/lock.js';
import { pidsOf, waitFor } from '../support/cli.js';
import { createScene, HOST, isGone, type Scene } from './scene.js';

let s: Scene | null = null;

afterEach(async () => {
  await s?.cleanup();
  s = null;
});

describe('cronwatch status', () => {
  it('shows a restarted target up with its new pid and one restart in 24h, as a table and as JSON', async () => {
    s = await createScene('status');
    s.configure([{}]);
    const oldPid = await s.spawnDaemon();
    expect((await s.run('check')).code).toBe(0);
    process.kill(oldPid, 'SIGKILL');
    await waitFor(() => (isGone(oldPid) ? true : undefined), 'the killed daemon to be gone');
    expect((await s.run('check')).code).toBe(0);
    const [newPid] = pidsOf(s.marker);
    const stateBefore = readFileSync(`${s.stateDir}/state.json`, 'utf8');

    const table = await s.run('status');

    expect(table.code).toBe(0);
    expect(table.stderr).toBe('');
    const lines = table.stdout.split('\n');
    expect(lines[0]!.split(/\s{2,}/)).toEqual([
      'TARGET',
      'STATE',
      'PID',
      'UPTIME',
      'MEMORY',
      'CPU',
      'FILE AGE',
      'RESTARTS 24H',
      'LAST ALERT',
    ]);
    const row = lines[1]!.split(/\s{2,}/);
    expect(row.slice(0, 3)).toEqual(['daemon', 'up', String(newPid)]);
    expect(row[6]).toBe('-');
    expect(row[7]).toBe('1');
    expect(row[8]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    expect(table.stdout).toMatch(/\nlast run: \S+ \(\d+s ago\)\n/);
    expect(table.stdout).not.toContain('OVERDUE');

    const json = await s.run('status', '--json');

    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ host: HOST, overdue: false });
    expect(report.targets).toEqual([
      expect.objectContaining({ name: 'daemon', state: 'up', pid: newPid, restarts24h: 1, reason: null }),
    ]);
    expect(report.targets[0].lastAlertAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    // Looking changes nothing and sends nothing.
    expect(readFileSync(`${s.stateDir}/state.json`, 'utf8')).toBe(stateBefore);
    expect(s.api.messages()).toHaveLength(1);
  });

  it('exits 1 and gives the reason when a target is down', async () => {
    s = await createScene('statusdown');
    s.configure([{}]);

    const result = await s.run('status');

    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`  daemon: no process matches /cli-daemon\\.mjs ${s.marker}\\b/\n`);
    expect(result.stdout).toContain('last run: never (is the crontab line installed?)');
    expect(pidsOf(s.marker)).toEqual([]);
    expect(s.api.requests).toEqual([]);
  });

  it('shows the pid of a paused target whose process runs, and none for a dead target in backoff', async () => {
    s = await createScene('statuspids');
    const flaky = `${s.marker}-flaky`;
    s.configure([
      {},
      {
        name: 'flaky',
        match: flaky,
        // Holds past start_grace, then dies.
        start: `node -e "setTimeout(() => {}, 1500)" ${flaky}`,
        extra: ['restart_limit: 1 in 1h'],
      },
    ]);
    const daemonPid = await s.spawnDaemon();
    const first = await s.run('check');
    const flakyPid = Number(/flaky: down \(.*\) -> started, pid (\d+)/.exec(first.stdout)?.[1]);
    expect(flakyPid).toBeGreaterThan(0);
    expect((await s.run('pause', 'daemon')).code).toBe(0);
    await waitFor(() => (pidsOf(flaky).length === 0 ? true : undefined), 'the flaky target to die');

    const backoff = await s.run('check');
    const verbose = await s.run('check', '--verbose');
    const status = await s.run('status');

    // The flip, the verbose line and the table name no pid for a process that is gone.
    expect(backoff.stdout).toMatch(
      /^flaky: up -> backoff \(no process matches .*; restarted 1 times in 1h, backing off\)$/m,
    );
    expect(verbose.stdout).toMatch(/^flaky: backoff \(no process matches .*; backing off until \S+\)$/m);
    expect(verbose.stdout).toContain(`daemon: paused, pid ${daemonPid}`);
    for (const output of [backoff.stdout, verbose.stdout, status.stdout]) {
      expect(output).not.toContain(String(flakyPid));
    }
    const rows = status.stdout.split('\n').map((line) => line.split(/\s{2,}/));
    expect(rows.find((row) => row[0] === 'daemon')?.slice(0, 3)).toEqual([
      'daemon',
      'paused',
      String(daemonPid),
    ]);
    expect(rows.find((row) => row[0] === 'flaky')?.slice(0, 3)).toEqual(['flaky', 'backoff', '-']);
    const json = JSON.parse((await s.run('status', '--json')).stdout);
    expect(json.targets.map((row: { pid: number | null }) => row.pid)).toEqual([daemonPid, null]);
  });

  it('says how many processes match when more than one, and gives ages in whole milliseconds', async () => {
    s = await createScene('statuscount');
    const stamp = s.path('nightly.stamp');
    s.configure([{}]);
    // A heartbeat-only target: a job that touches its file, nothing to find or start.
    appendFileSync(s.configFile, `  - name: nightly\n    state_file: ${stamp}\n    max_age: 2m\n`);
    const oldest = await s.spawnDaemon();
    await s.spawnDaemon();
    writeFileSync(stamp, '');
    // Written 2m44s ago: over max_age 2m, which the reason must not round it down to.
    const writtenMs = Date.now() - 164_000;
    utimesSync(stamp, writtenMs / 1000, writtenMs / 1000);

    const table = await s.run('status');
    const json = JSON.parse((await s.run('status', '--json')).stdout);

    expect(table.stdout).toContain('  daemon: 2 processes match, 1 expected; PID is the oldest\n');
    expect(
      table.stdout
        .split('\n')[1]!
        .split(/\s{2,}/)
        .slice(0, 3),
    ).toEqual(['daemon', 'up', String(oldest)]);
    expect(table.stdout).toMatch(
      new RegExp(`nightly: state file ${stamp} last written 2m 4\\ds ago \\(max_age 2m\\)`),
    );
    expect(json.targets[0]).toMatchObject({ name: 'daemon', pid: oldest, processes: 2 });
    for (const row of json.targets) {
      for (const key of ['uptimeMs', 'stateFileAgeMs']) {
        if (row[key] !== null)
          expect(Number.isInteger(row[key]), `${row.name}.${key} ${row[key]}`).toBe(true);
      }
    }
    expect(json.targets[0].uptimeMs).toBeGreaterThan(0);
    expect(json.targets[1].stateFileAgeMs).toBeGreaterThanOrEqual(164_000);
  });

  it('says a run is in progress while one holds the lock, instead of "never"', async () => {
    s = await createScene('statusrunning');
    s.configure([{}]);
    mkdirSync(s.stateDir, { mode: 0o700 });
    // This test process holds the lock as a first run would, until it releases it.
    const lock = await acquireLock(s.stateDir, Date.now());
    if (lock.kind !== 'acquired') throw new Error('the lock of a fresh state dir is free');

    const during = await s.run('status');
    const duringJson = JSON.parse((await s.run('status', '--json')).stdout);
    await lock.release();
    const after = await s.run('status');

    expect(during.stdout).toMatch(
      new RegExp(
        `\\nlast run: none finished yet; a run is in progress \\(pid ${process.pid}, started \\S+Z, \\d+s ago\\)\\n`,
      ),
    );
    expect(duringJson).toMatchObject({ overdue: false, runInProgress: { pid: process.pid } });
    expect(after.stdout).toContain('\nlast run: never (is the crontab line installed?)\n');
    expect(JSON.parse((await s.run('status', '--json')).stdout)).toMatchObject({
      overdue: true,
      runInProgress: null,
    });
  });
});
