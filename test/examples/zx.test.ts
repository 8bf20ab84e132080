import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type ExampleWorkspace, exampleWorkspace, heartbeatOf } from './example-workspace.js';

let ex: ExampleWorkspace | null = null;

afterEach(async () => {
  await ex?.cleanup();
  ex = null;
});

describe('examples/zx', () => {
  it('beats ok after a good backup of a path with spaces, which its stanza accepts in silence', async () => {
    ex = await exampleWorkspace('zx');
    ex.configure();
    // zx quotes what it interpolates: a path the shell would split still reaches tar whole.
    mkdirSync(ex.path('app data'));
    writeFileSync(ex.path('app data/app.db'), 'rows');
    mkdirSync(ex.path('back ups'));

    const run = await ex.runProgram(process.execPath, ['backup.mjs'], {
      DATA_DIR: ex.path('app data'),
      BACKUP_DIR: ex.path('back ups'),
    });

    expect(run).toMatchObject({ code: 0, stderr: '' });
    const [archive] = readdirSync(ex.path('back ups'));
    expect(archive).toMatch(/^data-\d{8}-\d{6}\.tar\.gz$/);
    const beat = await heartbeatOf(ex.path('backup.heartbeat'), () => true, 'the heartbeat');
    expect(beat).toMatchObject({ status: 'ok', message: `wrote ${ex.path(`back ups/${archive}`)}` });
    expect(await ex.cronwatch('check')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(ex.api.messages()).toEqual([]);
  });

  it("reports tar's words after a failed backup, which cronwatch sends as one alert", async () => {
    ex = await exampleWorkspace('zx');
    ex.configure();
    mkdirSync(ex.path('backups'));

    const run = await ex.runProgram(process.execPath, ['backup.mjs'], {
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
