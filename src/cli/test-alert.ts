import { redact, secretsOf } from '../core/redact.js';
import type { Config, Envelope } from '../core/types.js';
import type { Channel } from '../notifiers/channel.js';
import { deliverOutbox, liveRefusal } from '../notifiers/deliver.js';
import { acquireLock } from '../store/lock.js';
import { readChannelsWorked, readOutbox, recordChannelWorked } from '../store/outbox.js';
import { channelsOf } from './alerting.js';
import { defineCommand, loadConfigFor } from './command.js';
import { EXIT_NOT_UP, EXIT_OK } from './context.js';

export interface TestAlertOptions {
  readonly config: Config;
}

/** Sends every message of `envelope` on `channel`; the first failure's token-free error, or null. */
async function sendAll(
  channel: Channel,
  envelope: Envelope,
): Promise<{ error: string | null; notices: string[] }> {
  const notices: string[] = [];
  for (const message of channel.render(envelope, { delayed: false })) {
    const result = await channel.send(message, { silent: envelope.silent });
    if (result.kind !== 'delivered') {
      const scope = result.kind === 'permanent' ? ' (not retried: fix the channel)' : '';
      return { error: `${result.error}${scope}`, notices };
    }
    if (result.notice !== undefined) notices.push(result.notice);
  }
  return { error: null, notices };
}

/** How long `test-alert` spends sending alerts a refusal held, so a large backlog cannot keep the lock long. */
export const HELD_DELIVERY_BUDGET_MS = 15_000;

/**
 * A channel the test got through is seen to work: alerts a refusal held on it go out now, under
 * the run lock, in order, with the rest of the outbox (the same delivery `check` makes). When a
 * run holds the lock, the record of the channel working lets the next run send them.
 */
async function releaseHeld(config: Config, channels: readonly Channel[], working: readonly Channel[]) {
  const nowMs = Date.now();
  const { entries } = await readOutbox(config.stateDir, { moveAside: false });
  const worked = await readChannelsWorked(config.stateDir);
  const holding = working.filter((channel) =>
    entries.some((entry) => liveRefusal(entry, channel, worked[channel.name]) !== null),
  );
  if (holding.length === 0) return [];
  for (const channel of holding) {
    await recordChannelWorked(config.stateDir, channel.name, {
      atMs: nowMs,
      fingerprint: channel.fingerprint,
    });
  }
  const names = holding.map((channel) => channel.name).join(', ');
  const lock = await acquireLock(config.stateDir, nowMs);
  if (lock.kind === 'held') {
    return [
      `outbox: alerts held on ${names} go out with the next check (a run, pid ${lock.pid}, holds the lock)`,
    ];
  }
  try {
    const report = await deliverOutbox(config.stateDir, channels, { budgetMs: HELD_DELIVERY_BUDGET_MS });
    const lines = [`outbox: ${report.delivered.length} held alert(s) delivered`];
    if (report.pending.length > 0) {
      const why = report.retryErrors.at(-1)?.error ?? report.pending[0]?.lastError;
      lines.push(
        `outbox: ${report.pending.length} alert(s) still waiting${why ? ` (${why})` : ''}; the next check tries again`,
      );
    }
    return lines;
  } finally {
    await lock.release();
  }
}

/**
 * Sends one test message through each configured channel and prints, per channel, whether it was
 * delivered. Exits 1 when any channel failed.
 *
 * The message goes to the channels directly, not through the outbox: a test that failed must not
 * stay queued and reach the chat hours later, when nobody is testing any more and it would only
 * confuse. A channel it got through to sends what a refusal held on it (`releaseHeld`).
 */
export async function runTestAlert(options: TestAlertOptions): Promise<number> {
  const { config } = options;
  const nowMs = Date.now();
  const envelope: Envelope = {
    id: `test-${nowMs}`,
    host: config.host,
    createdMs: nowMs,
    silent: false,
    alerts: [{ kind: 'test', atMs: nowMs }],
  };
  const channels = await channelsOf(config);
  const secrets = secretsOf(config);
  const say = (line: string) => process.stdout.write(`${redact(line, secrets)}\n`);
  if (channels.length === 1 && channels[0]?.name === 'console') {
    say(
      'no channel configured: alerts go to stderr, which cron mails to you; the test message follows there',
    );
  }
  let failed = false;
  const working: Channel[] = [];
  for (const channel of channels) {
    const { error, notices } = await sendAll(channel, envelope);
    if (error === null) {
      working.push(channel);
      say(`${channel.name}: delivered`);
    } else {
      failed = true;
      say(`${channel.name}: failed: ${error}`);
    }
    for (const notice of notices) say(`${channel.name}: ${notice}`);
  }
  for (const line of await releaseHeld(config, channels, working)) say(line);
  return failed ? EXIT_NOT_UP : EXIT_OK;
}

export const command = defineCommand({
  usage: 'test-alert',
  describe: 'send a test message through every channel; say per channel whether it was delivered',
  builder: (args) => args,
  run: async (args) =>
    runTestAlert({ config: await loadConfigFor(args, { warnUnset: false, writeCache: true }) }),
});
