/**
 * The whole chain under the real cron daemon: `crontab --install` writes the block, cron alone
 * runs the compiled `check` every minute with its bare environment, the killed target comes back
 * and the alert reaches the Bot API stand-in; `crontab --remove` leaves the user's lines intact.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidsOf, ROOT } from '../support/cli.js';
import {
  type CronDaemon,
  type CrontabLease,
  cronUnavailable,
  currentCrontab,
  ensureCronDaemon,
  leaseCrontab,
  setCrontab,
} from '../support/real-crontab.js';
import { CHAT_ID, createScene, type Scene, TOKEN } from './scene.js';

/** Cron runs `* * * * *` at the next minute; then the run, the start grace and the send. */
const RESTART_DEADLINE_MS = 150_000;
const POLL_MS = 1000;

const unavailable = cronUnavailable();
if (unavailable !== null) console.warn(`skipping the real cron end-to-end test: ${unavailable}`);

async function poll<T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

describe.skipIf(unavailable !== null)('cron runs cronwatch (real cron daemon, compiled dist/)', () => {
  let scene: Scene;
  let lease: CrontabLease | undefined;
  let cron: CronDaemon | undefined;
  // The user's own lines, around which the block goes; cron hands the secrets to the block's jobs.
  let own = '';

  beforeAll(async () => {
    // The crontab lines run the compiled JavaScript: build it from these sources, so the test
    // never passes on an old dist/.
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
    expect(build.status, build.stdout + build.stderr).toBe(0);
    scene = await createScene('cron');
    scene.configure([{ name: 'crond-target' }]);
    const yaml = readFileSync(scene.configFile, 'utf8')
      .replace(/^state_dir:/m, 'interval: 1m\nstate_dir:')
      .replace('start_grace: 700ms', 'start_grace: 1s');
    writeFileSync(scene.configFile, yaml, { mode: 0o600 });
    lease = await leaseCrontab(300_000);
    own = `${lease.saved ?? ''}# my own line, before\nTELEGRAM_BOT_TOKEN=${TOKEN}\nTELEGRAM_CHAT_ID=${CHAT_ID}\n17 4 1 1 * /bin/true ${scene.marker}-mine\n`;
    setCrontab(own);
    cron = await ensureCronDaemon();
  }, 360_000);

  afterAll(async () => {
    // Restores the crontab whatever happened, before anything else can fail.
    await lease?.release();
    await cron?.stop();
    await scene?.cleanup();
  });

  it(
    'restarts a killed target with no help but cron, alerts, and --remove keeps the other lines',
    async () => {
      expect((await scene.run('check')).code).toBe(0);
      const [first] = pidsOf(scene.marker);
      expect(first).toBeDefined();
      const before = scene.api.messages().length;

      const install = await scene.run('crontab', '--install');
      expect(install.code).toBe(0);
      const installed = currentCrontab()!;
      expect(installed.startsWith(own)).toBe(true);
      expect(installed).toContain(
        `* * * * * cd ${scene.dir} && ${process.execPath} ${ROOT}/dist/scripts/cronwatch.cjs check`,
      );

      process.kill(first!, 'SIGKILL');
      const restarted = await poll(
        () => {
          const pids = pidsOf(scene.marker).filter((pid) => pid !== first);
          const alert = scene.api
            .messages()
            .slice(before)
            .find((m) => m.text.includes('crond-target'));
          return pids.length > 0 && alert !== undefined ? { pid: pids[0]!, alert } : undefined;
        },
        'cron to restart the target and the alert to arrive',
        RESTART_DEADLINE_MS,
      );
      expect(restarted.alert.text).toContain(`restarted, new pid ${restarted.pid}`);
      expect(restarted.alert.chatId).toBe(CHAT_ID);

      // check sends its alerts before it prints its report: the line may land a moment later.
      const logPath = join(scene.stateDir, 'cron.log');
      const readLog = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
      const said = /crond-target: down \(.*\) -> started, pid \d+/;
      await poll(
        () => (said.test(readLog()) ? true : undefined),
        'the run to print its report',
        30_000,
      ).catch(() => undefined);
      const log = readLog();
      console.log(`cron.log (${logPath}):\n${log}`);
      expect(log).toMatch(said);

      const removed = await scene.run('crontab', '--remove');
      expect(removed.code).toBe(0);
      expect(currentCrontab()).toBe(own);
    },
    RESTART_DEADLINE_MS + 60_000,
  );
});
