import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CommandError, loadConfig } from '../../src/cli/context.js';
import { compiledEntry, crontabBlock } from '../../src/cli/crontab.js';
import { beginMarker, endMarker } from '../../src/core/crontab.js';
import { cronwatch, ROOT, workspace } from '../support/cli.js';
import {
  type CrontabLease,
  crontabUnavailable,
  currentCrontab,
  leaseCrontab,
  setCrontab,
} from '../support/real-crontab.js';

const ENTRY = join(ROOT, 'dist/scripts/cronwatch.cjs');
const NODE = process.execPath;

function configText(interval: string): string {
  return [
    `interval: ${interval}`,
    'state_dir: ./state',
    'targets:',
    '  - name: web',
    "    match: 'node web\\.js'",
    '    start: /usr/bin/node web.js',
    "    restart_schedule: '0 3 * * *'",
    '  - name: worker',
    "    match: 'node worker\\.js'",
    '    start: /usr/bin/node worker.js',
    "    restart_schedule: '30 4 * * 1-5'",
    '  - name: backup',
    '    state_file: backup.stamp',
    '    max_age: 26h',
    '',
  ].join('\n');
}

describe('cronwatch crontab', () => {
  const ws = workspace('cronwatch-crontab-');
  afterAll(() => ws.remove());

  it('prints the check, each restart_schedule and the summary, with absolute paths', async () => {
    const file = ws.writeConfig(configText('10m'));
    const result = await cronwatch(['crontab', '--config', file]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const run = `cd ${ws.dir} && ${NODE} ${ENTRY}`;
    const tail = `--config ${file} >> ${ws.dir}/state/cron.log 2>&1`;
    expect(result.stdout.split('\n')).toEqual([
      `# >>> cronwatch ${file} >>>`,
      '# Written by `cronwatch crontab --install`: change the config and install again rather than edit here.',
      `*/10 * * * * ${run} check ${tail}`,
      `0 3 * * * ${run} restart web --planned ${tail}`,
      `30 4 * * 1-5 ${run} restart worker --planned ${tail}`,
      `55 23 * * * ${run} summary --send ${tail}`,
      `# <<< cronwatch ${file} <<<`,
      '',
    ]);
  });

  it.each([
    ['7m', 'cron cannot run every 7m evenly'],
    ['30s', '30s is under a minute'],
  ])('refuses interval %s with exit 2 and the reason', async (interval, reason) => {
    const file = ws.writeConfig(configText(interval), `bad-${interval}.yaml`);
    const result = await cronwatch(['crontab', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${file}: interval: ${reason}`);
  });

  it('says how to build dist/ when the compiled entry is missing, exit 1', () => {
    const bare = mkdtempSync(join(tmpdir(), 'cronwatch-nodist-'));
    try {
      expect(() => compiledEntry(bare)).toThrow(CommandError);
      expect(() => compiledEntry(bare)).toThrow(`Build it: cd ${bare} && npm run build`);
      try {
        compiledEntry(bare);
      } catch (error) {
        expect((error as CommandError).exitCode).toBe(1);
      }
      expect(compiledEntry(ROOT)).toBe(ENTRY);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });

  it('says how to get crontab when the shell finds none, exit 1', async () => {
    const file = ws.writeConfig(configText('10m'), 'no-crontab.yaml');
    const result = await cronwatch(['crontab', '--install', '--config', file], {
      env: { PATH: join(ws.dir, 'empty-path') },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'cronwatch: the crontab command is not installed (Debian/Ubuntu: apt-get install cron)\n',
    );
    expect(result.stdout).toBe('');
  });

  it('matches crontab.example, the block for examples/cronwatch.yaml', async () => {
    const config = await loadConfig(
      join(ROOT, 'examples/cronwatch.yaml'),
      {
        TELEGRAM_BOT_TOKEN: '123456:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr',
        TELEGRAM_CHAT_ID: '42',
      },
      { writeCache: false },
    );
    const block = crontabBlock(config, ROOT);
    if (block.kind !== 'ok') throw new Error(block.reason);
    const expected = block.lines.map((line) =>
      line.split(ROOT).join('/opt/cronwatch').split(NODE).join('/usr/bin/node'),
    );
    const example = readFileSync(join(ROOT, 'crontab.example'), 'utf8').split('\n');
    const begin = example.indexOf(expected[0]!);
    expect(begin).toBeGreaterThan(-1);
    expect(example.slice(begin, begin + expected.length)).toEqual(expected);
  });
});

const noCrontab = crontabUnavailable();
if (noCrontab !== null) console.warn(`skipping the real-crontab tests: ${noCrontab}`);

describe.skipIf(noCrontab !== null)('cronwatch crontab --install / --remove (the real crontab)', () => {
  const ws = workspace('cronwatch-crontab-real-');
  let lease: CrontabLease;
  const before = '# a line of my own\nMAILTO=""\n17 4 * * * /bin/true my-backup\n';
  const after = '42 5 * * 0 /bin/true my-weekly\n';

  beforeAll(async () => {
    lease = await leaseCrontab(300_000);
  }, 360_000);
  afterEach(() => setCrontab(lease.saved));
  afterAll(async () => {
    await lease?.release();
    ws.remove();
  });

  it('installs idempotently and removes only its block, keeping the lines before and after', async () => {
    const file = ws.writeConfig(configText('5m'));
    setCrontab(before);

    const first = await cronwatch(['crontab', '--install', '--config', file]);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('installed in the crontab of');
    const installed = currentCrontab()!;
    expect(installed.startsWith(before)).toBe(true);
    const block = installed.slice(before.length);
    expect(block.split('\n')[0]).toBe(beginMarker(file));
    expect(block).toContain(`*/5 * * * * cd ${ws.dir} && ${NODE} ${ENTRY} check --config ${file}`);
    // The log the lines append to must be there before cron first runs them.
    expect(statSync(ws.path('state')).mode & 0o777).toBe(0o700);

    const again = await cronwatch(['crontab', '--install', '--config', file]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already holds this block; nothing changed');
    expect(currentCrontab()).toBe(installed);

    // The user adds a line after the block; a changed config replaces the block in place.
    setCrontab(`${installed}${after}`);
    ws.writeConfig(configText('15m'));
    const changed = await cronwatch(['crontab', '--install', '--config', file]);
    expect(changed.code).toBe(0);
    const replaced = currentCrontab()!;
    expect(replaced.startsWith(`${before}${beginMarker(file)}\n`)).toBe(true);
    expect(replaced.endsWith(`${endMarker(file)}\n${after}`)).toBe(true);
    expect(replaced).toContain(`*/15 * * * * cd ${ws.dir}`);
    expect(replaced).not.toContain('*/5 * * * *');

    const removed = await cronwatch(['crontab', '--remove', '--config', file]);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toContain(`removed the block for ${file}`);
    expect(currentCrontab()).toBe(`${before}${after}`);

    const removedAgain = await cronwatch(['crontab', '--remove', '--config', file]);
    expect(removedAgain.code).toBe(0);
    expect(removedAgain.stdout).toContain('nothing changed');
    expect(currentCrontab()).toBe(`${before}${after}`);
  });

  it('keeps the block of another config', async () => {
    const file = ws.writeConfig(configText('5m'));
    const other = ws.writeConfig(configText('10m'), 'other.yaml');
    setCrontab(before);
    expect((await cronwatch(['crontab', '--install', '--config', other])).code).toBe(0);
    const withOther = currentCrontab()!;
    expect((await cronwatch(['crontab', '--install', '--config', file])).code).toBe(0);
    expect(currentCrontab()!.startsWith(withOther)).toBe(true);
    expect((await cronwatch(['crontab', '--remove', '--config', file])).code).toBe(0);
    expect(currentCrontab()).toBe(withOther);
  });

  it('handles a user with no crontab: installs one, and removing the block removes it', async () => {
    const file = ws.writeConfig(configText('5m'));
    setCrontab(null);
    const none = await cronwatch(['crontab', '--remove', '--config', file]);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain(`has no block for ${file}; nothing changed`);
    expect(currentCrontab()).toBeNull();

    expect((await cronwatch(['crontab', '--install', '--config', file])).code).toBe(0);
    expect(currentCrontab()!.split('\n')[0]).toBe(beginMarker(file));
    expect((await cronwatch(['crontab', '--remove', '--config', file])).code).toBe(0);
    expect(currentCrontab()).toBeNull();
  });

  it('removes the block of a config that no longer loads', async () => {
    const file = ws.writeConfig(configText('5m'));
    setCrontab(before);
    expect((await cronwatch(['crontab', '--install', '--config', file])).code).toBe(0);
    ws.writeConfig('targets: nonsense\n');
    expect((await cronwatch(['crontab', '--install', '--config', file])).code).toBe(2);
    const removed = await cronwatch(['crontab', '--remove', '--config', file]);
    expect(removed.code).toBe(0);
    expect(currentCrontab()).toBe(before);
  });
});
