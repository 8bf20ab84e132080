import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { cronwatch, workspace } from '../support/cli.js';

describe('cronwatch beat', () => {
  const ws = workspace('cronwatch-beat-');
  afterAll(() => ws.remove());
  // No config anywhere: beat must not look for one.
  const env = { CRONWATCH_CONFIG: ws.path('no-such-config.yaml') };

  it('writes an ok heartbeat as JSON, silently, without a config', async () => {
    const result = await cronwatch(['beat', ws.path('job.json')], { env });
    expect(result).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const beat = JSON.parse(readFileSync(ws.path('job.json'), 'utf8'));
    expect(beat).toMatchObject({ status: 'ok', message: null, pid: expect.any(Number) });
    expect(new Date(beat.ts).toISOString()).toBe(beat.ts);
    expect(Math.abs(Date.now() - Date.parse(beat.ts))).toBeLessThan(10 * 60_000);
  });

  it('--fail --message records an error with its message', async () => {
    const result = await cronwatch(['beat', ws.path('job.json'), '--fail', '--message', 'disk full'], {
      env,
    });
    expect(result.code).toBe(0);
    expect(JSON.parse(readFileSync(ws.path('job.json'), 'utf8'))).toMatchObject({
      status: 'error',
      message: 'disk full',
    });
  });

  it('replaces the file atomically: a reader never sees it half-written, no temp file is left', async () => {
    const file = ws.path('watched.json');
    await cronwatch(['beat', file], { env });
    const seen: string[] = [];
    const reader = setInterval(() => seen.push(readFileSync(file, 'utf8')), 1);
    try {
      for (let round = 0; round < 4; round += 1) {
        const message = `round ${round} ${'x'.repeat(2000)}`;
        await Promise.all([1, 2].map(() => cronwatch(['beat', file, '--message', message], { env })));
      }
    } finally {
      clearInterval(reader);
    }
    expect(seen.length).toBeGreaterThan(0);
    for (const text of seen) expect(JSON.parse(text)).toMatchObject({ status: 'ok' });
    expect(readdirSync(ws.dir).filter((name) => name.includes('watched.json'))).toEqual(['watched.json']);
  });

  it('fails with exit 1 and the reason when the directory does not exist', async () => {
    const result = await cronwatch(['beat', ws.path('missing-dir/job.json')], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('missing-dir/job.json');
    expect(result.stderr).toContain('ENOENT');
  });
});
