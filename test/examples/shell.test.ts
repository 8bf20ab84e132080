import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type ExampleWorkspace, exampleWorkspace, heartbeatOf } from './example-workspace.js';

let ex: ExampleWorkspace | null = null;

afterEach(async () => {
  await ex?.cleanup();
  ex = null;
});

describe('examples/shell', () => {
  it('beats ok after a good backup, which its stanza accepts in silence', async () => {
    ex = await exampleWorkspace('shell');
    ex.configure();
    mkdirSync(ex.path('data'));
    writeFileSync(ex.path('data/app.db'), 'rows');
    mkdirSync(ex.path('backups'));

    const run = await ex.runProgram('/bin/sh', ['backup.sh'], {
      DATA_DIR: ex.path('data'),
      BACKUP_DIR: ex.path('backups'),
    });

    expect(run).toMatchObject({ code: 0, stderr: '' });
    const [archive] = readdirSync(ex.path('backups'));
    expect(archive).toMatch(/^data-\d{8}-\d{6}\.tar\.gz$/);
    const beat = await heartbeatOf(ex.path('backup.heartbeat'), () => true, 'the heartbeat');
    expect(beat).toMatchObject({ status: 'ok', message: `wrote ${ex.path(`backups/${archive}`)}` });
    expect(await ex.cronwatch('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(ex.api.messages()).toEqual([]);
  });

  it("beats --fail with tar's words after a failed backup, which cronwatch sends as one alert", async () => {
    ex = await exampleWorkspace('shell');
    ex.configure();
    mkdirSync(ex.path('backups'));

    const run = await ex.runProgram('/bin/sh', ['backup.sh'], {
      DATA_DIR: ex.path('no-data'),
      BACKUP_DIR: ex.path('backups'),
    });

    expect(run.code).toBe(1);
    expect(run.stderr).toContain('no-data');
    expect(readdirSync(ex.path('backups'))).toEqual([]);
    const beat = await heartbeatOf(ex.path('backup.heartbeat'), () => true, 'the heartbeat');
    expect(beat.status).toBe('error');
    expect(beat.message).toMatch(/^tar failed: .*no-data/);

    const check = await ex.cronwatch('check');

    expect(check.code).toBe(1);
    const messages = ex.api.messages();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.text).toContain('<b>backup</b>');
    expect(messages[0]!.text).toContain('tar failed: ');
    expect(messages[0]!.text).toContain('no-data');
  });
});
