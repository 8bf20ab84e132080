/**
 * A secret missing from cron's environment, end to end: `${TELEGRAM_BOT_TOKEN}` unset makes only
 * the Telegram channel unusable. The watching goes on, the alert waits in the outbox and reaches
 * the Bot API stand-in from the first run that has the variable; the heartbeat says `/fail`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { type CliResult, cronwatch, pidsOf, waitFor } from '../support/cli.js';
import { type PingServer, startPingServer } from '../support/ping-server.js';
import { CHAT_ID, createScene, outboxFiles, type Scene } from './scene.js';

const WARNING =
  'cronwatch: warning: TELEGRAM_BOT_TOKEN (channels.telegram.token) is not set in this environment: the telegram channel is off\n';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** The CLI as cron runs it without the token: the chat id is set, the token is not. */
function withoutToken(s: Scene, ...args: string[]): Promise<CliResult> {
  return cronwatch([...args, '--config', s.configFile], {
    env: { TELEGRAM_BOT_TOKEN: undefined, TELEGRAM_CHAT_ID: CHAT_ID },
  });
}

async function sceneWithHeartbeat(label: string): Promise<{ s: Scene; hc: PingServer }> {
  const s = await createScene(label);
  const hc = await startPingServer();
  cleanups.push(async () => {
    await s.cleanup();
    await hc.close();
  });
  s.configure([{}]);
  const text = readFileSync(s.configFile, 'utf8');
  writeFileSync(s.configFile, text.replace('targets:\n', `heartbeat:\n  url: ${hc.url('cw')}\ntargets:\n`));
  return { s, hc };
}

describe('an unset ${VAR} under channels', () => {
  it('keeps watching and restarting, keeps the alert in the outbox, says it once, pings /fail, and delivers once the variable is set', async () => {
    const { s, hc } = await sceneWithHeartbeat('unsettoken');
    const pid = await s.spawnDaemon();

    const first = await withoutToken(s, 'check');
    expect(first).toEqual({
      code: 0,
      stdout:
        'cronwatch: TELEGRAM_BOT_TOKEN (channels.telegram.token) is not set in this environment: the telegram channel is off; ' +
        'alerts wait in the outbox until a run has it. Fix: set it above the cronwatch block (crontab -e)\n',
      stderr: '',
    });
    expect(hc.pingsOf('cw').map((ping) => ping.kind)).toEqual(['start', 'fail']);

    process.kill(pid, 'SIGKILL');
    const second = await withoutToken(s, 'check');
    // Said once: not again. The restart is reported, and its alert kept, not printed.
    expect(second.code).toBe(0);
    expect(second.stderr).toBe('');
    const [restarted] = await waitFor(
      () => (pidsOf(s.marker).length === 1 ? pidsOf(s.marker) : undefined),
      'the restarted target',
    );
    expect(restarted).not.toBe(pid);
    expect(second.stdout.split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^daemon: down \\(.+\\) -> started, pid ${restarted}$`)),
      'cronwatch: 1 alert(s) not delivered yet (TELEGRAM_BOT_TOKEN not set in this environment (channels.telegram)); kept in the outbox for the next run',
      '',
    ]);
    expect(outboxFiles(s.stateDir)).toHaveLength(1);
    expect(s.api.requests).toEqual([]);
    expect(hc.pingsOf('cw').at(-1)?.kind).toBe('fail');

    expect(await withoutToken(s, 'check')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(hc.pingsOf('cw').at(-1)?.kind).toBe('fail');

    // The commands that send nothing work, and warn in one line.
    for (const args of [['status'], ['crontab'], ['check', '--dry-run'], ['summary']]) {
      const result = await withoutToken(s, ...args);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stderr, args.join(' ')).toBe(WARNING);
    }
    expect(await withoutToken(s, 'test-alert')).toEqual({
      code: 1,
      stdout: 'telegram: failed: TELEGRAM_BOT_TOKEN not set in this environment (channels.telegram)\n',
      stderr: '',
    });
    const doctor = await withoutToken(s, 'doctor', '--no-cron', '--ascii');
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toContain(
      'FAIL environment: TELEGRAM_BOT_TOKEN (channels.telegram.token) is not set in this environment: the telegram channel is off.',
    );

    // Cron's environment gets the variable: the kept alert goes out, the heartbeat is a success.
    const fixed = await s.run('check');
    expect(fixed).toEqual({ code: 0, stdout: '', stderr: '' });
    const messages = s.api.messages();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.text).toContain(`new pid ${restarted}`);
    expect(outboxFiles(s.stateDir)).toEqual([]);
    expect(hc.pingsOf('cw').at(-1)?.kind).toBe('success');
  }, 240_000);
});
