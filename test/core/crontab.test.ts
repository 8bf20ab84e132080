import { describe, expect, it } from 'vitest';
import {
  beginMarker,
  type CrontabInput,
  cronScheduleFor,
  crontabEnvNames,
  endMarker,
  renderCrontabBlock,
  shellQuote,
  spliceBlock,
} from '../../src/core/crontab.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const INPUT: CrontabInput = {
  configFile: '/srv/app/cronwatch.yaml',
  workDir: '/srv/app',
  stateDir: '/srv/app/.cronwatch',
  intervalMs: 5 * MINUTE,
  nodePath: '/usr/bin/node',
  entryPath: '/opt/cronwatch/dist/scripts/cronwatch.js',
  targets: [
    { name: 'bot', start: 'node bot.js', restartSchedule: '0 3 * * *' },
    { name: 'backup', start: null, restartSchedule: null },
  ],
  secretEnv: [],
};

describe('core/crontab', () => {
  describe('cronScheduleFor()', () => {
    it.each([
      [MINUTE, '* * * * *'],
      [5 * MINUTE, '*/5 * * * *'],
      [30 * MINUTE, '*/30 * * * *'],
      [HOUR, '0 * * * *'],
      [6 * HOUR, '0 */6 * * *'],
      [24 * HOUR, '0 0 * * *'],
    ])('writes %i ms as %s', (intervalMs, schedule) => {
      expect(cronScheduleFor(intervalMs)).toEqual({ kind: 'ok', schedule });
    });

    it.each([
      [30_000, /30s is under a minute/],
      [90_000, /90s is not a whole number of minutes/],
      [7 * MINUTE, /cannot run every 7m evenly.*use 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30m/],
      [90 * MINUTE, /cannot run every 1h 30m evenly.*1, 2, 3, 4, 6, 8 or 12h, or 1d/],
      [5 * HOUR, /cannot run every 5h evenly/],
      [48 * HOUR, /cannot run every 2d evenly/],
    ])('refuses %i ms, saying why', (intervalMs, reason) => {
      const result = cronScheduleFor(intervalMs);
      expect(result.kind).toBe('invalid');
      if (result.kind === 'invalid') expect(result.reason).toMatch(reason);
    });
  });

  describe('shellQuote()', () => {
    it('leaves plain paths bare and quotes the rest for /bin/sh', () => {
      expect(shellQuote('/srv/app/cronwatch.yaml')).toBe('/srv/app/cronwatch.yaml');
      expect(shellQuote("/home/o'neil/my app")).toBe("'/home/o'\\''neil/my app'");
    });
  });

  describe('renderCrontabBlock()', () => {
    it('writes the check, each planned restart and the summary between markers', () => {
      const result = renderCrontabBlock(INPUT);
      const run = 'cd /srv/app && /usr/bin/node /opt/cronwatch/dist/scripts/cronwatch.js';
      const tail = '--config /srv/app/cronwatch.yaml >> /srv/app/.cronwatch/cron.log 2>&1';
      expect(result).toEqual({
        kind: 'ok',
        lines: [
          '# >>> cronwatch /srv/app/cronwatch.yaml >>>',
          '# Written by `cronwatch crontab --install`: change the config and install again rather than edit here.',
          `*/5 * * * * ${run} check ${tail}`,
          `0 3 * * * ${run} restart bot --planned ${tail}`,
          `55 23 * * * ${run} summary --send ${tail}`,
          '# <<< cronwatch /srv/app/cronwatch.yaml <<<',
        ],
      });
    });

    it('names the variables cron must be given, quotes odd paths and escapes % for cron', () => {
      const result = renderCrontabBlock({
        ...INPUT,
        workDir: '/srv/my app',
        configFile: '/srv/my app/50%.yaml',
        targets: [],
        secretEnv: ['TELEGRAM_BOT_TOKEN'],
      });
      if (result.kind !== 'ok') throw new Error(result.reason);
      expect(result.lines[2]).toBe(
        '# Cron passes on no shell environment: set TELEGRAM_BOT_TOKEN above this block (crontab -e).',
      );
      expect(result.lines[3]).toContain("cd '/srv/my app' && ");
      expect(result.lines[3]).toContain("--config '/srv/my app/50\\%.yaml'");
    });

    it('refuses an interval cron cannot keep and a planned restart of nothing', () => {
      expect(renderCrontabBlock({ ...INPUT, intervalMs: 7 * MINUTE })).toMatchObject({
        kind: 'invalid',
        reason: expect.stringMatching(/^interval: cron cannot run every 7m evenly/),
      });
      const noStart = { name: 'backup', start: null, restartSchedule: '0 3 * * *' };
      expect(renderCrontabBlock({ ...INPUT, targets: [noStart] })).toMatchObject({
        kind: 'invalid',
        reason: expect.stringContaining('target backup has a restart_schedule but no start command'),
      });
    });
  });

  describe('spliceBlock()', () => {
    const file = '/srv/app/cronwatch.yaml';
    const block = [beginMarker(file), '*/5 * * * * run', endMarker(file)];
    const others = 'MAILTO=me@example.com\n# mine\n0 1 * * * backup.sh\n';

    it('appends the block, then replaces it in place, leaving every other line as it was', () => {
      const installed = spliceBlock(others, file, block);
      expect(installed).toEqual({ kind: 'ok', text: `${others}${block.join('\n')}\n`, changed: true });
      const surrounded = `${others}${block.join('\n')}\n30 2 * * * after.sh\n`;
      const newer = [beginMarker(file), '*/10 * * * * run', endMarker(file)];
      expect(spliceBlock(surrounded, file, newer)).toEqual({
        kind: 'ok',
        text: `${others}${newer.join('\n')}\n30 2 * * * after.sh\n`,
        changed: true,
      });
      expect(spliceBlock(surrounded, file, block)).toEqual({ kind: 'ok', text: surrounded, changed: false });
    });

    it('takes the block out and only the block; removing twice changes nothing', () => {
      const surrounded = `${others}${block.join('\n')}\n30 2 * * * after.sh\n`;
      const removed = spliceBlock(surrounded, file, null);
      expect(removed).toEqual({ kind: 'ok', text: `${others}30 2 * * * after.sh\n`, changed: true });
      expect(spliceBlock(`${others}30 2 * * * after.sh\n`, file, null)).toMatchObject({ changed: false });
      expect(spliceBlock(`${block.join('\n')}\n`, file, null)).toEqual({
        kind: 'ok',
        text: '',
        changed: true,
      });
    });

    it("leaves another config's block alone", () => {
      const other = [beginMarker('/etc/other.yaml'), '* * * * * other', endMarker('/etc/other.yaml')];
      const text = `${other.join('\n')}\n`;
      expect(spliceBlock(text, file, block)).toEqual({
        kind: 'ok',
        text: `${text}${block.join('\n')}\n`,
        changed: true,
      });
    });

    it('refuses to guess when the markers do not pair up', () => {
      const result = spliceBlock(`${beginMarker(file)}\n* * * * * half\n`, file, block);
      expect(result).toMatchObject({ kind: 'broken', reason: expect.stringContaining('1 begin and 0 end') });
    });
  });

  describe('crontabEnvNames()', () => {
    it('lists the variables set above the block, which its jobs get', () => {
      const file = '/srv/app/cronwatch.yaml';
      const lines = ['TELEGRAM_BOT_TOKEN=1:x', ' CHAT = 42', beginMarker(file), endMarker(file), 'LATER=1'];
      expect(crontabEnvNames(lines, file)).toEqual(['TELEGRAM_BOT_TOKEN', 'CHAT']);
    });
  });
});
