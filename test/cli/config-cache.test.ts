/**
 * The parsed-config cache through the real CLI: a run from the cache says what a run that parses
 * says, an edit that keeps the size and the mtime is seen, and the cache holds no secret.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

  it('prints what it prints without the cache, the unset variable warning included', async () => {
    const parsed = await cronwatch(['status', '--config', file]);
    expect(existsSync(cache)).toBe(true);
    const cached = await cronwatch(['status', '--config', file]);
    expect(cached).toEqual(parsed);
    expect(parsed.stdout).toMatch(/^alpha +down/m);
    expect(parsed.stderr).toContain('TELEGRAM_BOT_TOKEN');
  });

  it('sees an edit that keeps the size and the mtime', async () => {
    writeFileSync(file, CONFIG.replace('name: alpha', 'name: bravo'));
    setMtime(file);
    const result = await cronwatch(['status', '--config', file]);
    expect(result.stdout).toMatch(/^bravo +down/m);
    expect(result.stdout).not.toContain('alpha');
  });

  it('writes no secret, and ignores a corrupt cache', async () => {
    const env = { TELEGRAM_BOT_TOKEN: '4242:AAcachetest-SECRET' };
    const before = await cronwatch(['status', '--config', file], { env });
    expect(readFileSync(cache, 'utf8')).not.toContain('SECRET');
    writeFileSync(cache, '{"format":1,"document":{"targets":[');
    expect(await cronwatch(['status', '--config', file], { env })).toEqual(before);
    expect(readFileSync(cache, 'utf8')).toContain('"name":"bravo"');
  });

  it('caches nothing for an invalid config', async () => {
    const bad = ws.writeConfig(CONFIG.replace('targets:', 'targetz:'), 'bad.yaml');
    const result = await cronwatch(['status', '--config', bad]);
    expect(result.code).toBe(2);
    expect(JSON.parse(readFileSync(cache, 'utf8')).file).toBe(file);
  });
});
