import { redact } from '../core/redact.js';
import type { Config, Envelope } from '../core/types.js';
import type { Channel } from '../notifiers/channel.js';
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

/**
 * Sends one test message through each configured channel and prints, per channel, whether it was
 * delivered. Exits 1 when any channel failed.
 *
 * The message goes to the channels directly, not through the outbox: a test that failed must not
 * stay queued and reach the chat hours later, when nobody is testing any more and it would only
 * confuse. Whatever is already queued is left for `check`.
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
  const secrets = [config.channels.telegram?.token ?? '', config.channels.webhook?.url ?? ''];
  const say = (line: string) => process.stdout.write(`${redact(line, secrets)}\n`);
  if (channels.length === 1 && channels[0]?.name === 'console') {
    say(
      'no channel configured: alerts go to stderr, which cron mails to you; the test message follows there',
    );
  }
  let failed = false;
  for (const channel of channels) {
    const { error, notices } = await sendAll(channel, envelope);
    if (error === null) {
      say(`${channel.name}: delivered`);
    } else {
      failed = true;
      say(`${channel.name}: failed: ${error}`);
    }
    for (const notice of notices) say(`${channel.name}: ${notice}`);
  }
  return failed ? EXIT_NOT_UP : EXIT_OK;
}

export const command = defineCommand({
  usage: 'test-alert',
  describe: 'send a test message through every channel; say per channel whether it was delivered',
  builder: (args) => args,
  run: async (args) => runTestAlert({ config: await loadConfigFor(args, { warnUnset: false }) }),
});
