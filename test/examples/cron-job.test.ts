import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type ExampleWorkspace, exampleWorkspace, heartbeatOf } from './example-workspace.js';

let ex: ExampleWorkspace | null = null;

afterEach(async () => {
  await ex?.cleanup();
  ex = null;
});

const DAY_S = 86_400;

describe('examples/cron-job', () => {
  it('records a good run as ok, which its stanza accepts in silence', async () => {
    ex = await exampleWorkspace('cron-job');
    ex.configure();
    const backups = ex.path('backups');
    mkdirSync(backups);
    for (const [name, ageDays] of [
      ['old.tar.gz', 30],
      ['recent.tar.gz', 1],
    ] as const) {
      writeFileSync(`${backups}/${name}`, 'x');
      const atS = Date.now() / 1000 - ageDays * DAY_S;
      utimesSync(`${backups}/${name}`, atS, atS);
    }

    const run = await ex.runProgram(process.execPath, ['prune-backups.mjs'], { BACKUP_DIR: backups });

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/removed 1 backup\(s\) older than 14 days\n$/);
    expect(readdirSync(backups)).toEqual(['recent.tar.gz']);
    const beat = await heartbeatOf(ex.path('prune-backups.heartbeat'), () => true, 'the heartbeat');
    expect(beat).toMatchObject({ status: 'ok', message: null, data: { durationMs: expect.any(Number) } });
    expect(await ex.cronwatch('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(ex.api.messages()).toEqual([]);
  });

  it('records a failed run with its error, which cronwatch sends as one alert', async () => {
    ex = await exampleWorkspace('cron-job');
    ex.configure();
    const missing = ex.path('no-such-dir');

    const run = await ex.runProgram(process.execPath, ['prune-backups.mjs'], { BACKUP_DIR: missing });

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('ENOENT');
    const beat = await heartbeatOf(ex.path('prune-backups.heartbeat'), () => true, 'the heartbeat');
    expect(beat.status).toBe('error');
    expect(beat.message).toBe(`ENOENT: no such file or directory, scandir '${missing}'`);

    const check = await ex.cronwatch('check', '--json');

    expect(check.code).toBe(1);
    const report = JSON.parse(check.stdout) as { targets: { name: string; status: string }[] };
    expect(report.targets).toEqual([expect.objectContaining({ name: 'prune-backups', status: 'error' })]);
    const messages = ex.api.messages();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.text).toContain('<b>prune-backups</b>');
    expect(messages[0]!.text).toContain(`ENOENT: no such file or directory, scandir '${missing}'`);
    expect((await ex.cronwatch('check')).code).toBe(1);
    expect(ex.api.messages()).toHaveLength(1);

    // Fixed: the next good run is what clears it.
    mkdirSync(missing);
    expect((await ex.runProgram(process.execPath, ['prune-backups.mjs'], { BACKUP_DIR: missing })).code).toBe(
      0,
    );
    await heartbeatOf(
      ex.path('prune-backups.heartbeat'),
      (record) => record.status === 'ok',
      'an ok heartbeat',
    );
    expect((await ex.cronwatch('check')).code).toBe(0);
  });
});
