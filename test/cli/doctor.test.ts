import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCronDaemon } from '../../src/cli/doctor/cron.js';
import { localeIsUtf8 } from '../../src/cli/doctor/index.js';
import { missingBuildFiles } from '../../src/cli/doctor/state.js';
import { firstProgram } from '../../src/cli/doctor/targets.js';
import { type CliResult, cronwatch, waitFor, workspace } from '../support/cli.js';
import {
  type CronDaemon,
  type CrontabLease,
  crontabUnavailable,
  cronUnavailable,
  ensureCronDaemon,
  leaseCrontab,
  setCrontab,
} from '../support/real-crontab.js';
import { CHAT_ID, createScene, ENV, type Scene, TOKEN } from './scene.js';

const UTF8 = { ...ENV, LANG: 'C.UTF-8', LC_ALL: '', LC_CTYPE: '' };

// A fresh Debian image has no cron: what doctor says of a crontab it can read needs the binary.
const noCrontab = crontabUnavailable();
if (noCrontab !== null) console.warn(`skipping doctor's crontab-block checks: ${noCrontab}`);

function lines(result: CliResult): string[] {
  return result.stdout.trimEnd().split('\n');
}

function line(result: CliResult, start: string): string {
  const found = lines(result).find((candidate) => candidate.startsWith(start));
  if (found === undefined)
    throw new Error(`no line starting with ${JSON.stringify(start)} in:\n${result.stdout}`);
  return found;
}

async function doctor(scene: Scene, env: NodeJS.ProcessEnv = UTF8): Promise<CliResult> {
  const result = await cronwatch(['doctor', '--config', scene.configFile], { env });
  expect(result.stdout).not.toContain(TOKEN);
  expect(result.stderr).not.toContain(TOKEN);
  return result;
}

describe('the build check', () => {
  it('names each file a crontab line needs that the build did not leave', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cronwatch-build-'));
    try {
      writeFileSync(join(dir, 'cronwatch.cjs'), '');
      writeFileSync(join(dir, 'cronwatch-cli.cjs'), '');
      expect(missingBuildFiles(dir)).toEqual([
        join(dir, 'cronwatch-check.cjs'),
        join(dir, 'cronwatch-yaml.cjs'),
      ]);
      writeFileSync(join(dir, 'cronwatch-check.cjs'), '');
      writeFileSync(join(dir, 'cronwatch-yaml.cjs'), '');
      expect(missingBuildFiles(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cronwatch doctor', () => {
  describe('helpers', () => {
    it('finds the program a start command runs first', () => {
      expect(firstProgram('node app.js')).toBe('node');
      expect(firstProgram('NODE_ENV=production exec /usr/bin/node app.js')).toBe('/usr/bin/node');
      expect(firstProgram("'./my bot' --fast")).toBe('./my bot');
      expect(firstProgram('"/opt/my app/run" --x; echo done')).toBe('/opt/my app/run');
      expect(firstProgram('my\\ bot')).toBe('my bot');
      expect(firstProgram('cd /srv && node app.js')).toBeNull();
      expect(firstProgram('$HOME/bin/bot')).toBeNull();
    });

    it('knows the cron daemons by their program, not by a word in the command line', () => {
      expect(isCronDaemon('cron')).toBe(true);
      expect(isCronDaemon('/usr/sbin/cron -f')).toBe(true);
      expect(isCronDaemon('/usr/sbin/crond -n')).toBe(true);
      expect(isCronDaemon('busybox crond -f')).toBe(true);
      expect(isCronDaemon('node cronwatch.js check --config cron')).toBe(false);
    });

    it('reads the locale as POSIX does', () => {
      expect(localeIsUtf8({ LANG: 'en_US.UTF-8' })).toBe(true);
      expect(localeIsUtf8({ LC_ALL: 'C', LANG: 'en_US.UTF-8' })).toBe(false);
      expect(localeIsUtf8({})).toBe(false);
    });
  });

  describe('a broken setup', () => {
    let scene: Scene;
    let result: CliResult;

    beforeAll(async () => {
      scene = await createScene('doctor-broken');
      scene.configure([{ name: 'web', extra: ['cwd: ./nope'] }]);
      scene.api.setFault('unauthorized');
      // A run that meets the revoked token leaves its alert in the outbox, refused for good.
      const check = await scene.run('check');
      expect(check.code).toBe(1);
      chmodSync(scene.stateDir, 0o777);
      result = await doctor(scene);
    });
    afterAll(async () => {
      chmodSync(scene.stateDir, 0o700);
      await scene.cleanup();
    });

    it('exits 1 and says so in its last line', () => {
      expect(result.code).toBe(1);
      expect(lines(result).at(-1)).toMatch(/^doctor: \d+ of \d+ checks failed$/);
    });

    it('passes what is fine', () => {
      expect(line(result, '✓ config')).toContain('valid: 1 target(s), interval 5m');
      expect(line(result, '✓ build')).toContain('dist/scripts/cronwatch.cjs present');
      expect(line(result, '✓ last run')).toMatch(/ago .*within 3 × interval 5m/);
    });

    it('fails a state dir others can write', () => {
      expect(line(result, `✗ state dir ${scene.stateDir}`)).toContain(
        `mode 777: other users can write it, so cronwatch refuses to run. Fix: chmod 700 ${scene.stateDir}`,
      );
    });

    it.skipIf(noCrontab !== null)('fails a crontab without the block', () => {
      expect(line(result, '✗ crontab')).toMatch(
        new RegExp(
          `(this user has no crontab|no cronwatch block for ${scene.configFile}).*crontab --install`,
        ),
      );
    });

    it('fails a token Telegram refuses (401) and does not ask about the chat', () => {
      expect(line(result, '✗ telegram bot')).toBe(
        '✗ telegram bot: Telegram answered 401: Unauthorized (check the bot token)',
      );
      expect(line(result, `- telegram chat ${CHAT_ID}`)).toContain('not checked');
    });

    it('fails a target whose cwd is missing', () => {
      expect(line(result, '✗ target web')).toBe(`✗ target web: cwd ${scene.dir}/nope does not exist`);
    });

    it("shows the outbox's undelivered alert and the channel's permanent error", () => {
      expect(line(result, '✗ outbox:')).toMatch(/1 alert\(s\) not delivered, the oldest from \S+Z/);
      expect(line(result, '✗ outbox telegram')).toMatch(
        /1 alert\(s\) held after a refusal at \S+Z: Telegram 401: Unauthorized \(check the bot token\); next try \S+Z, or at once when test-alert or doctor sees the channel work/,
      );
    });

    it('says so when the crontab command is not installed (a fresh Debian image)', async () => {
      const emptyPath = mkdtempSync(join(tmpdir(), 'cronwatch-no-cron-path-'));
      try {
        const result = await doctor(scene, { ...UTF8, PATH: emptyPath });
        expect(result.code).toBe(1);
        expect(line(result, '✗ crontab')).toBe(
          '✗ crontab: the crontab command is not installed (Debian/Ubuntu: apt-get install cron)',
        );
      } finally {
        rmSync(emptyPath, { recursive: true, force: true });
      }
    });

    it('leaves out the crontab and cron daemon with --no-cron (a systemd timer or launchd runs check)', async () => {
      const result = await cronwatch(['doctor', '--no-cron', '--config', scene.configFile], { env: UTF8 });
      expect(result.code).toBe(1);
      expect(line(result, '- crontab')).toContain('not checked (--no-cron');
      expect(line(result, '- cron daemon')).toContain('not checked (--no-cron');
      expect(result.stdout).not.toContain('cron environment');
    });

    it('marks lines ok / FAIL outside a UTF-8 locale', async () => {
      const ascii = await doctor(scene, { ...ENV, LANG: 'C', LC_ALL: '', LC_CTYPE: '' });
      expect(ascii.code).toBe(1);
      expect(line(ascii, 'ok   config')).toContain('valid');
      expect(line(ascii, 'FAIL telegram bot')).toContain('401');
      expect(line(ascii, '--   telegram chat')).toContain('not checked');
    });
  });

  describe('an invalid config', () => {
    let scene: Scene;
    let result: CliResult;

    beforeAll(async () => {
      scene = await createScene('doctor-invalid');
      scene.configure([{ name: 'web', extra: ['max_age: soon'] }]);
      result = await doctor(scene);
    });
    afterAll(async () => {
      await scene?.cleanup();
    });

    it('reports it as a failed check, exit 1, and still runs the checks that need none', () => {
      expect(result.code).toBe(1);
      expect(line(result, `✗ config ${scene.configFile}`)).toContain('is invalid:');
      expect(result.stdout).toContain('targets[0].max_age: expected a duration');
      expect(line(result, '✓ build')).toContain('present');
      expect(line(result, '✗ crontab')).toMatch(/^✗ crontab: /);
      expect(result.stdout).toMatch(/^[✓✗] cron daemon: /m);
    });

    it.skipIf(noCrontab !== null)('tells how to install the crontab block, config or not', () => {
      expect(line(result, '✗ crontab')).toContain('crontab --install');
    });
  });

  it('says the alerts were printed to stderr, not delivered, when no channel is configured', async () => {
    const ws = workspace('cronwatch-doctor-no-channel-');
    try {
      const file = ws.writeConfig(
        [
          'host: quiet',
          'targets:',
          '  - name: nightly',
          '    state_file: nightly.stamp',
          '    max_age: 1d',
          '',
        ].join('\n'),
      );
      const check = await cronwatch(['check', '--config', file]);
      expect(check.code).toBe(1);
      expect(check.stderr).toContain('nightly is down');
      const result = await cronwatch(['doctor', '--no-cron', '--config', file], { env: UTF8 });
      expect(line(result, '✓ outbox')).toBe(
        `✓ outbox: empty: no channel is configured, so every alert was printed to stderr (by cron, into ${ws.dir}/.cronwatch/cron.log), not sent`,
      );
    } finally {
      ws.remove();
    }
  });

  const noCron = cronUnavailable();
  if (noCron !== null) console.warn(`skipping doctor on a good setup: ${noCron}`);

  describe.skipIf(noCron !== null)('a good setup (real crontab and cron daemon)', () => {
    let scene: Scene;
    let lease: CrontabLease;
    let cron: CronDaemon;
    let result: CliResult;

    beforeAll(async () => {
      scene = await createScene('doctor-good');
      scene.configure([{ name: 'web' }]);
      lease = await leaseCrontab(300_000);
      cron = await ensureCronDaemon();
      // Cron gets the channel's secrets from the crontab, above the block.
      setCrontab(`${lease.saved ?? ''}TELEGRAM_BOT_TOKEN=${TOKEN}\nTELEGRAM_CHAT_ID=${CHAT_ID}\n`);
      expect((await scene.run('crontab', '--install')).code).toBe(0);
      expect((await scene.run('check')).code).toBe(0);
      await waitFor(() => (scene.api.messages().length > 0 ? true : undefined), 'the start alert');
      result = await doctor(scene);
    }, 360_000);
    afterAll(async () => {
      await lease?.release();
      await cron?.stop();
      await scene?.cleanup();
    });

    it('passes every check and exits 0', () => {
      expect(result.stderr).toBe('');
      expect(lines(result).filter((text) => text.startsWith('✗'))).toEqual([]);
      expect(result.code).toBe(0);
      expect(lines(result).at(-1)).toMatch(/^doctor: all \d+ checks passed$/);
    });

    it('says what it found', () => {
      expect(line(result, `✓ state dir ${scene.stateDir}`)).toContain('exists, writable, private (mode 700)');
      expect(line(result, '✓ crontab')).toContain(`block for ${scene.configFile} installed`);
      expect(line(result, '✓ cron environment')).toContain(
        'TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID set for cron jobs',
      );
      expect(line(result, '✓ cron daemon')).toMatch(/running \(pid \d+: /);
      expect(line(result, '✓ telegram bot')).toBe(
        `✓ telegram bot: @cronwatch_test_bot (id 100000001) answers at ${scene.api.apiRoot}`,
      );
      expect(line(result, `✓ telegram chat ${CHAT_ID}`)).toContain('reachable (private');
      expect(line(result, '✓ target web')).toMatch(/program node is \/usr\/(local\/)?bin\/node/);
      expect(line(result, '✓ last run')).toContain('within 3 × interval 5m');
      expect(line(result, '✓ outbox')).toContain('empty');
      expect(line(result, '- webhook')).toContain('not configured');
    });

    it('fails the crontab check once the block is gone, and the cron environment without the secrets', async () => {
      setCrontab(lease.saved);
      const without = await doctor(scene);
      expect(without.code).toBe(1);
      expect(line(without, '✗ crontab')).toContain('crontab --install');
      expect((await scene.run('crontab', '--install')).code).toBe(0);
      const noSecrets = await doctor(scene);
      expect(noSecrets.code).toBe(1);
      expect(line(noSecrets, '✗ cron environment')).toContain(
        'TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID not set for cron jobs',
      );
    });
  });
});
