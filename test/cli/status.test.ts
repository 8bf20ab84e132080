import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
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
});
