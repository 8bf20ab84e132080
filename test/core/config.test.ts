import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/core/config.js';

const FILE = '/srv/app/cronwatch.yaml';

function check(document: unknown, env: Record<string, string> = {}) {
  return validateConfig({ document, file: FILE, env, hostname: 'box' });
}

function errorsOf(document: unknown, env: Record<string, string> = {}): readonly string[] {
  const result = check(document, env);
  if (result.kind === 'valid') throw new Error('expected the config to be invalid');
  return result.errors;
}

describe('core', () => {
  describe('validateConfig()', () => {
    it('applies defaults and resolves paths beside the config and in the target cwd', () => {
      const result = check({
        defaults: { stop_timeout: '20s' },
        targets: [
          {
            name: 'bot',
            match: 'node bot\\.js',
            start: 'node bot.js',
            cwd: 'bot',
            state_file: 'st.json',
            max_age: '20m',
          },
        ],
      });
      expect(result.kind).toBe('valid');
      if (result.kind !== 'valid') return;
      const { config } = result;
      expect(config.stateDir).toBe('/srv/app/.cronwatch');
      expect(config.intervalMs).toBe(300_000);
      expect(config.host).toBe('box');
      expect(config.channels.telegram).toBeNull();
      expect(config.targets[0]).toMatchObject({
        cwd: '/srv/app/bot',
        stateFile: '/srv/app/bot/st.json',
        maxAgeMs: 1_200_000,
        stopTimeoutMs: 20_000,
        stopSignal: 'SIGTERM',
        log: '/srv/app/.cronwatch/logs/bot.log',
      });
    });

    it('names the key path and quotes the bad value of a wrong duration', () => {
      expect(
        errorsOf({
          targets: [
            { name: 'a', match: 'a' },
            { name: 'b', match: 'b', state_file: 'x', max_age: 'soon' },
          ],
        }),
      ).toContain('targets[1].max_age: expected a duration like 30s, 5m, got "soon"');
    });

    it('rejects unknown keys, so that a typo cannot silently disable a check', () => {
      const errors = errorsOf({
        targets: [{ name: 'a', match: 'a', state_file: 'x', max_age: '1m', max_agee: '2m' }],
      });
      expect(errors.some((line) => line.startsWith('targets[0].max_agee: unknown key'))).toBe(true);
      expect(errorsOf({ intervall: '5m', targets: [] })[0]).toMatch(/^intervall: unknown key/);
    });

    it('expands ${VAR} and names the key of an unset variable', () => {
      const channels = { telegram: { token: '${TOKEN}', chat_id: '${CHAT}' } };
      const ok = check({ channels, targets: [] }, { TOKEN: '123:abc', CHAT: '-100200' });
      expect(ok.kind === 'valid' && ok.config.channels.telegram).toMatchObject({
        token: '123:abc',
        chatId: '-100200',
        apiRoot: 'https://api.telegram.org',
      });
      const target = { name: 'a', match: 'a', env: { KEY: '${API_KEY}' } };
      expect(errorsOf({ channels, targets: [target] }, { CHAT: '1' })).toEqual([
        'targets[0].env.KEY: environment variable API_KEY is not set',
      ]);
    });

    it('expands ${VAR} deep in the targets list and leaves the given document as it was', () => {
      const document = {
        targets: [
          { name: 'a', match: 'a' },
          { name: 'b', match: 'b', start: 'run ${WHAT}', env: { LIST: '${WHAT}' } },
        ],
      };
      const before = structuredClone(document);
      const result = check(document, { WHAT: 'x' });
      if (result.kind !== 'valid') throw new Error(result.errors.join('\n'));
      expect(result.config.targets[1]).toMatchObject({ start: 'run x', env: { LIST: 'x' } });
      // The config cache keeps the document with its variables unexpanded.
      expect(document).toEqual(before);
    });

    it('resolves `.`, `..`, doubled and trailing slashes in paths', () => {
      const result = check({
        state_dir: './state//dir/',
        targets: [{ name: 'a', match: 'a', cwd: '../x/./y', pidfile: '/run//a/../a.pid' }],
      });
      if (result.kind !== 'valid') throw new Error(result.errors.join('\n'));
      expect(result.config.stateDir).toBe('/srv/app/state/dir');
      expect(result.config.targets[0]).toMatchObject({ cwd: '/srv/x/y', pidfile: '/run/a.pid' });
    });

    it('makes only the channel or ping whose variable is unset unusable, and names it', () => {
      const document = {
        channels: {
          telegram: { token: '${TOKEN}', chat_id: '${CHAT}', thread_id: 7 },
          webhook: { url: '${HOOK}', format: 'slack' },
        },
        heartbeat: { url: 'https://hc-ping.com/${HC_UUID}' },
        targets: [{ name: 'a', match: 'a' }],
      };
      const result = check(document, { CHAT: '1', HOOK: 'https://hooks.example/x' });
      if (result.kind !== 'valid') throw new Error(result.errors.join('\n'));
      expect(result.config.channels.telegram).toBeNull();
      expect(result.config.channels.webhook).toEqual({ url: 'https://hooks.example/x', format: 'slack' });
      expect(result.config.heartbeatUrl).toBeNull();
      expect(result.config.unsetEnv).toEqual([
        { path: 'channels.telegram.token', variable: 'TOKEN' },
        { path: 'heartbeat.url', variable: 'HC_UUID' },
      ]);
      // Kept from the targets' environment, set or not.
      expect([...result.config.secretEnv].sort()).toEqual(['CHAT', 'HC_UUID', 'HOOK', 'TOKEN']);
      // Whatever else is wrong in those sections is still an error.
      expect(errorsOf({ ...document, channels: { telegram: { token: '${TOKEN}', chat: 1 } } }, {})).toEqual([
        'channels.telegram.chat: unknown key (expected one of: token, chat_id, api_root, thread_id)',
        'channels.telegram.chat_id: expected a chat id like -1001234 or @channel, got nothing',
      ]);
    });

    it('turns off the healthchecks pings without a ping key, and only sync without an API key', () => {
      const document = {
        host: 'web-1',
        healthchecks: { url: 'https://hc.example', ping_key: '${HC_PING_KEY}', api_key: '${HC_API_KEY}' },
        targets: [{ name: 'bot', match: 'bot' }],
      };
      const noPingKey = check(document, { HC_API_KEY: 'k' });
      if (noPingKey.kind !== 'valid') throw new Error(noPingKey.errors.join('\n'));
      expect(noPingKey.config.heartbeatUrl).toBeNull();
      expect(noPingKey.config.targets[0]!.pingUrl).toBeNull();
      expect(noPingKey.config.healthchecks?.apiKey).toBe('k');
      expect(noPingKey.config.unsetEnv).toEqual([{ path: 'healthchecks.ping_key', variable: 'HC_PING_KEY' }]);

      const noApiKey = check(document, { HC_PING_KEY: 'pk' });
      if (noApiKey.kind !== 'valid') throw new Error(noApiKey.errors.join('\n'));
      expect(noApiKey.config.heartbeatUrl).toBe('https://hc.example/ping/pk/web-1-cronwatch');
      expect(noApiKey.config.targets[0]!.pingUrl).toBe('https://hc.example/ping/pk/web-1-bot');
      expect(noApiKey.config.healthchecks?.apiKey).toBeNull();
      expect([...noApiKey.config.secretEnv].sort()).toEqual(['HC_API_KEY', 'HC_PING_KEY']);
    });

    it('reports a bad default under defaults, where the user has to fix it', () => {
      expect(errorsOf({ defaults: { stop_timeout: 10 }, targets: [{ name: 'a', match: 'a' }] })).toEqual([
        'defaults.stop_timeout: expected a duration like 30s, 5m, got 10',
      ]);
    });

    it('rejects the names a JavaScript object already has, which the state could not key', () => {
      expect(
        errorsOf({
          targets: [
            { name: '__proto__', match: 'x' },
            { name: 'constructor', match: 'y' },
          ],
        }),
      ).toEqual([
        `targets[0].name: expected a name other than "__proto__", which cronwatch's state cannot key`,
        `targets[1].name: expected a name other than "constructor", which cronwatch's state cannot key`,
      ]);
    });

    it('rejects duplicate and malformed names, bad regexes, signals and incomplete targets', () => {
      const errors = errorsOf({
        targets: [
          { name: 'Bot!', match: 'x' },
          { name: 'a', match: '(' },
          { name: 'a', match: 'y', stop_signal: 'SIGFOO' },
          { name: 'c', start: 'node c.js' },
          { name: 'd', state_file: 'd.json' },
        ],
      });
      expect(errors).toEqual(
        expect.arrayContaining([
          'targets[0].name: expected lowercase letters, digits, _ and - only, got "Bot!"',
          expect.stringMatching(/^targets\[1\]\.match: expected a regular expression, got "\("/),
          'targets[2].name: expected a unique name, got "a" again',
          'targets[2].stop_signal: expected a signal name like SIGTERM or SIGINT, got "SIGFOO"',
          'targets[3]: expected at least one of match, pidfile (a process) or state_file (a heartbeat)',
          'targets[4].max_age: expected a duration like 20m with state_file, got nothing',
        ]),
      );
    });

    it('rejects two targets that would claim one process: the same match or the same pid file', () => {
      expect(
        errorsOf({
          targets: [
            { name: 'a', match: 'node worker.js', start: 'node worker.js' },
            { name: 'b', match: 'node other.js' },
            { name: 'c', state_file: 'c.json', max_age: '1m' },
            { name: 'd', match: 'node worker.js', start: 'node worker.js --copy' },
          ],
        }),
      ).toEqual([
        'targets[3].match: the same as targets[0].match ("node worker.js"): two targets would claim one process',
      ]);
      // Paths are compared once resolved: `run/x.pid` in cwd /srv/app is /srv/app/run/x.pid.
      expect(
        errorsOf({
          targets: [
            { name: 'a', pidfile: '/srv/app/run/x.pid' },
            { name: 'b', pidfile: 'run/x.pid', match: 'x' },
          ],
        }),
      ).toEqual([
        'targets[1].pidfile: the same as targets[0].pidfile ("/srv/app/run/x.pid"): two targets would claim one process',
      ]);
      expect(
        errorsOf({ defaults: { match: 'redis-server' }, targets: [{ name: 'a' }, { name: 'b' }] }),
      ).toEqual([
        'targets[1].match: the same as targets[0].match ("redis-server", from defaults.match): two targets would claim one process',
      ]);
    });

    it('accepts one match in two targets whose own pid files tell their processes apart', () => {
      const result = check({
        defaults: { match: 'redis-server' },
        targets: [
          { name: 'cache', pidfile: '/run/redis/cache.pid' },
          { name: 'queue', pidfile: '/run/redis/queue.pid' },
        ],
      });
      expect(result.kind).toBe('valid');
    });

    it('accepts a numeric chat id and a forum thread', () => {
      const result = check({
        channels: {
          telegram: { token: 't', chat_id: -1001, thread_id: 12, api_root: 'http://127.0.0.1:9/' },
        },
        targets: [],
      });
      expect(result.kind === 'valid' && result.config.channels.telegram).toEqual({
        token: 't',
        chatId: '-1001',
        apiRoot: 'http://127.0.0.1:9',
        threadId: 12,
      });
    });

    it('reads limits, schedules and the other channels, and names what is wrong with them', () => {
      const result = check({
        alerts: { reminder: '2h' },
        heartbeat: { url: 'https://hc.example/ping/abc' },
        metrics: { textfile: 'metrics/cronwatch.prom' },
        channels: { webhook: { url: 'http://127.0.0.1:9/hook', format: 'discord' } },
        targets: [
          {
            name: 'a',
            match: 'a',
            max_memory: '500MB',
            max_cpu: '90%',
            for: 2,
            restart_limit: '3 in 10m',
            restart_schedule: '0 3 * * *',
            instances: 2,
          },
          { name: 'b', match: 'b', restart_limit: 'off' },
        ],
      });
      expect(result.kind).toBe('valid');
      if (result.kind !== 'valid') return;
      expect(result.config).toMatchObject({
        reminderMs: 7_200_000,
        heartbeatUrl: 'https://hc.example/ping/abc',
        metricsTextfile: '/srv/app/metrics/cronwatch.prom',
        channels: { webhook: { url: 'http://127.0.0.1:9/hook', format: 'discord' } },
      });
      expect(result.config.targets[0]).toMatchObject({
        maxMemoryBytes: 500 * 1024 ** 2,
        maxCpuPercent: 90,
        forRuns: 2,
        restartLimit: { count: 3, windowMs: 600_000 },
        restartSchedule: '0 3 * * *',
        instances: 2,
      });
      expect(result.config.targets[1]?.restartLimit).toBeNull();
      expect(
        errorsOf({
          channels: { webhook: { url: 'ftp://x', format: 'teams' } },
          targets: [
            {
              name: 'a',
              match: 'a',
              max_memory: 'lots',
              restart_limit: '5 per hour',
              restart_schedule: '3am',
            },
          ],
        }),
      ).toEqual([
        'channels.webhook.url: expected an http(s) URL, got "ftp://x..."',
        'channels.webhook.format: expected one of slack, discord, json, got "teams"',
        'targets[0].max_memory: expected a size like 512KB, 500MB, 2GB, got "lots"',
        'targets[0].restart_limit: expected a limit like "5 in 1h" (or off), got "5 per hour"',
        'targets[0].restart_schedule: expected five cron fields like \'0 3 * * *\', got "3am"',
      ]);
    });
  });
});
