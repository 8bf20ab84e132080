/**
 * The parsed-config cache through the real CLI: only a command that writes to the state dir
 * anyway writes it, a run from the cache says what a run that parses says, an edit that keeps
 * the size and the mtime is seen, and the cache holds no secret.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { cronwatch, workspace } from '../support/cli.js';

const ws = workspace('cronwatch-config-cache-cli-');
afterAll(() => ws.remove());

const MARKER = `cw-cache-${process.pid}-never-running`;
const CONFIG = [
  'channels:',
  '  telegram:',
  '    token: ${TELEGRAM_BOT_TOKEN}',
  '    chat_id: "-100123"',
  'targets:',
  '  - name: alpha',
  `    match: ${MARKER}`,
  '',
].join('\n');

const cache = ws.path('.cronwatch/config-cache.json');

function setMtime(file: string): void {
  execFileSync('touch', ['-d', '2026-01-02 03:04:05', file]);
}

describe('cronwatch with a cached config', () => {
  const file = ws.writeConfig(CONFIG);
  setMtime(file);
  mkdirSync(ws.path('.cronwatch'), { mode: 0o700 });

  it('is written by check, not by status, check --dry-run or doctor, which change nothing', async () => {
    for (const args of [['status'], ['check', '--dry-run'], ['doctor', '--no-cron']]) {
      await cronwatch([...args, '--config', file]);
      expect(existsSync(cache), args.join(' ')).toBe(false);
    }
    expect((await cronwatch(['check', '--config', file])).code).toBe(1);
    expect(existsSync(cache)).toBe(true);
  });

  it('prints what it prints without the cache, the unset variable warning included', async () => {
    const cached = await cronwatch(['check', '--dry-run', '--config', file]);
    rmSync(cache);
    const parsed = await cronwatch(['check', '--dry-run', '--config', file]);
    expect(existsSync(cache)).toBe(false);
    expect(cached).toEqual(parsed);
    expect(parsed.stdout).toMatch(/^alpha: down/m);
    expect(parsed.stderr).toContain('TELEGRAM_BOT_TOKEN');
  });

  it('sees an edit that keeps the size and the mtime', async () => {
    writeFileSync(file, CONFIG.replace('name: alpha', 'name: bravo'));
    setMtime(file);
    const result = await cronwatch(['check', '--dry-run', '--config', file]);
    expect(result.stdout).toMatch(/^bravo: /m);
    expect(result.stdout).not.toContain('alpha');
  });

  it('writes no secret, and ignores a corrupt cache', async () => {
    const env = { TELEGRAM_BOT_TOKEN: '4242:AAcachetest-SECRET' };
    await cronwatch(['check', '--config', file], { env });
    expect(readFileSync(cache, 'utf8')).toContain('"name":"bravo"');
    expect(readFileSync(cache, 'utf8')).not.toContain('SECRET');
    const before = await cronwatch(['check', '--dry-run', '--config', file], { env });
    writeFileSync(cache, '{"format":1,"document":{"targets":[');
    expect(await cronwatch(['check', '--dry-run', '--config', file], { env })).toEqual(before);
    await cronwatch(['check', '--config', file], { env });
    expect(JSON.parse(readFileSync(cache, 'utf8')).text).toContain('name: bravo');
  });

  it('caches nothing for an invalid config', async () => {
    const bad = ws.writeConfig(CONFIG.replace('targets:', 'targetz:'), 'bad.yaml');
    const result = await cronwatch(['check', '--config', bad]);
    expect(result.code).toBe(2);
    expect(JSON.parse(readFileSync(cache, 'utf8')).file).toBe(file);
  });
});
