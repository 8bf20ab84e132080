import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/core/config.js';
import {
  checkChanges,
  checkSlug,
  desiredChecks,
  type ExistingCheck,
  hostSlug,
  syncDue,
} from '../../src/core/healthchecks.js';
import type { Config } from '../../src/core/types.js';

const FILE = '/srv/app/cronwatch.yaml';
const HC = { url: 'https://hc.example/', ping_key: 'pk-123_abc', api_key: 'k'.repeat(32) };

function validate(document: Record<string, unknown>) {
  return validateConfig({ document, file: FILE, env: {}, hostname: 'box' });
}

function configOf(document: Record<string, unknown>): Config {
  const result = validate(document);
  if (result.kind !== 'valid') throw new Error(result.errors.join('\n'));
  return result.config;
}

function errorsOf(document: Record<string, unknown>): readonly string[] {
  const result = validate(document);
  if (result.kind === 'valid') throw new Error('expected the config to be invalid');
  return result.errors;
}

describe('core', () => {
  describe('hostSlug()', () => {
    it('makes a host name into a healthchecks slug: [a-z0-9-_], lowercase', () => {
      expect(hostSlug('web-1')).toBe('web-1');
      expect(hostSlug('Web.1.Example.com')).toBe('web-1-example-com');
      expect(hostSlug('  db_2 (old)  ')).toBe('db_2-old');
      expect(hostSlug('...')).toBe('');
      expect(checkSlug('Web.1', 'site-monitor')).toBe('web-1-site-monitor');
    });
  });

  describe('validateConfig() with healthchecks', () => {
    it("pings cronwatch's and every target's check by slug under the ping endpoint", () => {
      const config = configOf({
        host: 'Web.1',
        healthchecks: HC,
        targets: [{ name: 'bot', match: 'bot' }],
      });
      expect(config.healthchecks).toEqual({
        url: 'https://hc.example',
        pingUrl: 'https://hc.example/ping',
        pingKey: 'pk-123_abc',
        apiKey: 'k'.repeat(32),
      });
      expect(config.heartbeatUrl).toBe('https://hc.example/ping/pk-123_abc/web-1-cronwatch');
      expect(config.targets[0]?.pingUrl).toBe('https://hc.example/ping/pk-123_abc/web-1-bot');
      const hosted = configOf({
        healthchecks: { ...HC, url: 'https://healthchecks.io', ping_url: 'https://hc-ping.com/' },
        targets: [{ name: 'bot', match: 'bot' }],
      });
      expect(hosted.heartbeatUrl).toBe('https://hc-ping.com/pk-123_abc/box-cronwatch');
    });

    it('refuses a check given both by URL and by slug, naming both keys', () => {
      expect(
        errorsOf({
          heartbeat: { url: 'https://hc-ping.com/uuid' },
          healthchecks: HC,
          defaults: { ping_url: 'https://hc-ping.com/shared' },
          targets: [
            { name: 'bot', match: 'bot', ping_url: 'https://hc-ping.com/uuid-2' },
            { name: 'web', match: 'web' },
          ],
        }),
      ).toEqual([
        "heartbeat.url: cronwatch's own check is given twice: by heartbeat.url and by healthchecks.ping_key (slug box-cronwatch); keep one",
        'targets[0].ping_url: the check of bot is given twice: by targets[0].ping_url and by healthchecks.ping_key (slug box-bot); keep one',
        'defaults.ping_url: the check of web is given twice: by defaults.ping_url and by healthchecks.ping_key (slug box-web); keep one',
      ]);
    });

    it('names what is missing or wrong in the section, and a target that takes cronwatch’s own slug', () => {
      expect(errorsOf({ healthchecks: { url: 'hc.example', extra: 1 }, targets: [] })).toEqual([
        'healthchecks.extra: unknown key (expected one of: url, ping_url, ping_key, api_key)',
        'healthchecks.url: expected an http(s) URL, got "hc.examp..."',
        "healthchecks.ping_key: expected the project's ping key (Project Settings), got nothing",
      ]);
      expect(errorsOf({ host: '...', healthchecks: HC, targets: [] })).toEqual([
        'host: expected a host name with a letter or digit (healthchecks slugs), got "..."',
      ]);
      expect(errorsOf({ healthchecks: HC, targets: [{ name: 'cronwatch', match: 'x' }] })).toEqual([
        "targets[0].name: the name cronwatch is cronwatch's own healthchecks check (slug box-cronwatch); choose another",
      ]);
    });
  });

  describe('desiredChecks()', () => {
    const config = configOf({
      host: 'web-1',
      interval: '5m',
      healthchecks: HC,
      targets: [
        { name: 'bot', match: 'bot', start: 'node bot.js', stop_timeout: '5m', start_grace: '10s' },
        { name: 'backup', state_file: 'b', max_age: '1d' },
      ],
    });

    it('gives each check the interval as period and a grace covering the slowest run', () => {
      const checks = desiredChecks({ config, runOverheadMs: 45_000 });
      expect(checks.map((check) => [check.slug, check.name, check.tags, check.timeout, check.grace])).toEqual(
        [
          // 5m stop + 10s start grace + 5m stop of a failed start + 45s: 655s, more than the 300s interval.
          ['web-1-cronwatch', 'web-1 cronwatch', 'cronwatch web-1', 300, 655],
          ['web-1-bot', 'web-1 bot', 'cronwatch web-1', 300, 655],
          ['web-1-backup', 'web-1 backup', 'cronwatch web-1', 300, 655],
        ],
      );
      expect(checks.every((check) => check.methods === 'POST')).toBe(true);
    });

    it('keeps the period and grace within the API bounds', () => {
      const fast = configOf({ interval: '10s', healthchecks: HC, targets: [] });
      expect(desiredChecks({ config: fast, runOverheadMs: 0 })[0]).toMatchObject({ timeout: 60, grace: 60 });
      const slow = configOf({ interval: '400d', healthchecks: HC, targets: [] });
      expect(desiredChecks({ config: slow, runOverheadMs: 0 })[0]).toMatchObject({
        timeout: 31_536_000,
        grace: 31_536_000,
      });
    });
  });

  describe('checkChanges()', () => {
    const [desired] = desiredChecks({
      config: configOf({ healthchecks: HC, targets: [] }),
      runOverheadMs: 0,
    });
    const existing: ExistingCheck = { ...desired!, tags: 'box cronwatch', status: 'up' };

    it('finds nothing to change in a check equal but for the order of its tags', () => {
      expect(checkChanges(desired!, existing)).toEqual([]);
    });

    it('names each difference, a schedule instead of a period included', () => {
      const { timeout: _timeout, ...scheduled } = existing;
      expect(checkChanges(desired!, { ...scheduled, grace: 60, methods: '', name: 'old' })).toEqual([
        'name "old" -> "box cronwatch"',
        'timeout a schedule -> 300s',
        'grace 60s -> 300s',
        'only POST pings',
      ]);
    });
  });

  describe('syncDue()', () => {
    it('names the checks the last sync did not make', () => {
      const checks = desiredChecks({
        config: configOf({ healthchecks: HC, targets: [{ name: 'bot', match: 'bot' }] }),
        runOverheadMs: 0,
      });
      expect(syncDue(checks, null)).toEqual(['box-cronwatch', 'box-bot']);
      expect(syncDue(checks, ['box-cronwatch'])).toEqual(['box-bot']);
      expect(syncDue(checks, ['box-cronwatch', 'box-bot'])).toEqual([]);
    });
  });
});
